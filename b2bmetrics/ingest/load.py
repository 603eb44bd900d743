"""Files -> one atomic load (CONTRACT §2): the load itself, moving staged rows into place, the load log.

`ingest` loads every file of a call in ONE `Store.write()` block: all of it commits, or (on any
error, rejected row or crash) the database stays exactly as it was. The package's steps:

1. Plan (`ingest.plan`): which table each file or sheet is, and which header is which column;
   then every file is hashed and non-UTF-8 text transcoded to a temporary UTF-8 copy in the same
   pass (`ingest.read`), before any lock is taken.
2. Stage (`ingest.stage`): one SQL pass per file into a typed staging table, people resolved,
   every value and row rule checked, the rejects spelled out only when there are some.
3. Move (here): a replace load of a table's first file renames the staging table into place (no
   copy); `--append`, and later files of the same table in one call, upsert by the table's key
   (`deal_splits`: by deal, so a deal's split set is replaced whole; a key column that may be empty,
   such as a company target's `key`, matches empty to empty).

Rejects: by default any rejected row fails the whole call with a report (B2BError). With
`allow_rejects=True` the valid rows load and every reject is stored in `load_rejects`.
Loads: each file (sheet) adds a row to `loads` (sha256 of the file's bytes; for a workbook sheet, of
the file's sha256 and the sheet name); a table whose files are exactly the latest load of that
table (same bytes, mode and mapping) is skipped, and when every table is, the database file is not
touched at all. The skip does not look at the configuration: after changing `[pipeline]` aliases,
load with --append or change the file to re-check previously rejected rows.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest.map import Mapping
from b2bmetrics.ingest.parse import ERRORS, ident
from b2bmetrics.ingest.plan import FilePlan, Planned, Progress, plan_all, prepare, resolve_options, tick
from b2bmetrics.ingest.snapshots import has_snapshot_day, load_snapshot_rows, record_deals_snapshot
from b2bmetrics.ingest.stage import REJ, STAGE, Reject, Staged, people_ref, reject_report, stage
from b2bmetrics.schema import LOAD_ORDER, TABLES, Table
from b2bmetrics.store import Store
from b2bmetrics.store.database import inline_parameters

if TYPE_CHECKING:
    from b2bmetrics.store.materialize import Relation

__all__ = ["LoadResult", "ingest"]

PRECHECK_MIN_BYTES = 64 << 20  # below this, copying the database to find "nothing changed" is cheap


def relations() -> Sequence[Relation]:
    """The relations every load keeps (metrics.materialized.RELATIONS), imported only when asked: the
    store replays a recorded refresh without them (`Store.write`), so a load need not import the
    metrics, ibis or pandas."""
    from b2bmetrics.metrics.materialized import RELATIONS

    return RELATIONS


def _current(con: duckdb.DuckDBPyConnection, cfg: Config) -> bool:
    from b2bmetrics.store import materialize

    return materialize.current(con, relations(), cfg)


@dataclass(frozen=True)
class LoadResult:
    """What one file (sheet) did. `skipped`: identical to the table's latest load, nothing changed."""

    source: str
    table: str
    rows: int
    rejected: int  # rejected rows
    skipped: bool
    rejects: tuple[Reject, ...] = ()  # the first MAX_REJECTS_KEPT, by row
    load_id: int | None = None
    unmapped: tuple[str, ...] = ()  # the file's columns that map to no canonical column (not loaded)


# ---- moving rows into place ------------------------------------------------------------------------

def _move(con: duckdb.DuckDBPyConnection, staged: Staged, table: Table, replace_table: bool) -> int:
    """Put the staged valid rows into the table; returns the rows loaded."""
    s = ident(STAGE)
    if staged.rejected_rows:
        con.execute(f"DELETE FROM {s} WHERE rowid IN (SELECT rid FROM {REJ})")
    con.execute(f"ALTER TABLE {s} DROP COLUMN {ident(ERRORS)}")
    t = ident(table.name)
    if table.name == "deal_snapshots":  # compact storage: the file's days are replaced, the others kept
        load_snapshot_rows(con, STAGE, append=not replace_table)
        con.execute(f"DROP TABLE {s}")
    elif replace_table:
        con.execute(f"DROP TABLE {t}")
        con.execute(f"ALTER TABLE {s} RENAME TO {t}")
    else:
        key = ("deal_id",) if table.name == "deal_splits" else table.key
        # a key column that may be empty (a company target's key) matches empty to empty
        match = " AND ".join(f"{t}.{ident(k)} {'=' if table.column(k).required else 'IS NOT DISTINCT FROM'} "
                             f"{s}.{ident(k)}" for k in key)
        con.execute(f"DELETE FROM {t} USING {s} WHERE {match}")
        cols = ", ".join(ident(c) for c in table.column_names)
        con.execute(f"INSERT INTO {t} ({cols}) SELECT {cols} FROM {s}")
        con.execute(f"DROP TABLE {s}")
    return staged.total - staged.rejected_rows


# ---- the load -------------------------------------------------------------------------------------

def _mapping_json(plan: FilePlan) -> str:
    return json.dumps(plan.mapping, ensure_ascii=False, sort_keys=True)


def _groups(planned: list[Planned]) -> dict[str, list[Planned]]:
    out: dict[str, list[Planned]] = {}
    for p in sorted(planned, key=lambda q: (LOAD_ORDER.index(q.plan.table), q.order)):
        out.setdefault(p.plan.table, []).append(p)
    return out


def _skippable(con: duckdb.DuckDBPyConnection, table: str, files: list[Planned],
               mode: str) -> list[tuple[int, int, int]] | None:
    """(load_id, rows, rejected) per file when these files are exactly the table's latest load, else None."""
    last = con.execute(inline_parameters(
        "SELECT load_id, sha256, mode, mapping, rows, rejected FROM loads WHERE table_name = ? AND loaded_at = "
        "(SELECT loaded_at FROM loads WHERE table_name = ? ORDER BY load_id DESC LIMIT 1) ORDER BY load_id",
        [table, table])).fetchall()
    want = [(p.sha256, mode, _mapping_json(p.plan)) for p in files]
    if [(r[1], r[2], r[3]) for r in last] != want:
        return None
    return [(int(r[0]), int(r[4]), int(r[5])) for r in last]


def _dedupe(files: list[Planned]) -> tuple[list[Planned], list[Planned]]:
    seen: set[str] = set()
    keep: list[Planned] = []
    dupes: list[Planned] = []
    for p in files:
        (dupes if p.sha256 in seen else keep).append(p)
        seen.add(p.sha256)
    return keep, dupes


def _all_skipped(store: Store, groups: dict[str, list[Planned]], mode: str, cfg: Config,
                 as_of: dt.date | None = None) -> bool:
    """True when nothing would change (rows, or the derived tables for `cfg`); checked read-only
    first so a big database is not copied for nothing."""
    if not store.exists() or store.path.stat().st_size < PRECHECK_MIN_BYTES:
        return False
    try:
        con = store.read_connection()
    except (B2BError, duckdb.Error):
        return False
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "loads" not in tables or _new_snapshot_day(con, groups, as_of):
            return False
        return (all(_skippable(con, t, _dedupe(files)[0], mode) is not None for t, files in groups.items())
                and _current(con, cfg))
    finally:
        con.close()


def ingest(store: Store, paths: Sequence[Path], cfg: Config, *, table: str | None = None,
           mapping_file: Path | None = None, mapping: Mapping | dict[str, str] | None = None,
           allow_rejects: bool = False, append: bool = False,
           progress: Progress | None = None, as_of: dt.date | None = None,
           on_wait: Callable[[str], None] | None = None, max_rows: int | None = None) -> list[LoadResult]:
    """Load files into the store in one atomic write; B2BError (nothing changed) for any bad input.

    A load of deals also writes the deals' snapshot of day `as_of` (default: today; `ingest.snapshots`).
    Another load of the same database is waited for; `on_wait` hears that once (`Store.write`).
    A file of more than `max_rows` data rows is refused (the dashboard's upload limit).

    Returns one LoadResult per file (per XLSX sheet), in load order (schema.LOAD_ORDER).
    """
    table, m = resolve_options(table, mapping_file, mapping)
    planned = plan_all(paths, table, m)
    mode = "append" if append else "replace"
    with tempfile.TemporaryDirectory(prefix="b2bmetrics-ingest-") as tmp:
        prepare(planned, Path(tmp), progress)
        groups = _groups(planned)
        if _all_skipped(store, groups, mode, cfg, as_of):
            results = _skipped_results(store, groups, mode)
            tick(progress, "nothing changed", 1.0)
            return results
        try:
            changed = set(groups) | ({"deal_snapshots"} if "deals" in groups else set())
            with store.write(relations=relations, cfg=cfg, changed=changed, on_wait=on_wait) as con:
                results, failures = _load_all(con, groups, cfg, mode, allow_rejects, progress, len(planned),
                                              as_of, max_rows)
                if failures:
                    raise reject_report(failures)
                if all(r.skipped for r in results) and _current(con, cfg):
                    raise _NothingChanged(results)
                # leaving the block rebuilds the derived tables and commits: seconds at scale
                tick(progress, "saving and updating the derived tables", 0.97)
        except _NothingChanged as done:
            tick(progress, "nothing changed", 1.0)
            return done.results
    tick(progress, "done", 1.0)
    return results


class _NothingChanged(Exception):
    """Every file was already loaded: leave the database file untouched (the copy is discarded)."""

    def __init__(self, results: list[LoadResult]) -> None:
        super().__init__("nothing changed")
        self.results = results


def _skipped_results(store: Store, groups: dict[str, list[Planned]], mode: str) -> list[LoadResult]:
    con = store.read_connection()
    try:
        out: list[LoadResult] = []
        for t, files in groups.items():
            keep, dupes = _dedupe(files)
            prev = _skippable(con, t, keep, mode) or []
            by_sha = {p.sha256: info for p, info in zip(keep, prev, strict=False)}
            for p in files:
                load_id, rows, rejected = by_sha.get(p.sha256, (None, 0, 0))
                out.append(LoadResult(p.plan.source, t, rows, rejected, True, (), load_id))
        return out
    finally:
        con.close()


def _load_all(con: duckdb.DuckDBPyConnection, groups: dict[str, list[Planned]], cfg: Config, mode: str,
              allow_rejects: bool, progress: Progress | None, n_files: int, as_of: dt.date | None = None,
              max_rows: int | None = None) -> tuple[list[LoadResult], list[tuple[Planned, Staged]]]:
    results: list[LoadResult] = []
    failures: list[tuple[Planned, Staged]] = []
    loaded_at = dt.datetime.now()
    done = 0
    for tname, files in groups.items():
        table = TABLES[tname]
        keep, dupes = _dedupe(files)
        prev = _skippable(con, tname, keep, mode)
        if prev is not None and _new_snapshot_day(con, {tname: files}, as_of):
            prev = None  # the same deals export as of a day not yet snapshotted: load it, for that day
        if prev is not None:
            for p, (load_id, rows, rejected) in zip(keep, prev, strict=True):
                results.append(LoadResult(p.plan.source, tname, rows, rejected, True, (), load_id))
            for p in dupes:
                results.append(LoadResult(p.plan.source, tname, 0, 0, True, (), None))
            done += len(files)
            continue
        for n, p in enumerate(keep):
            base_frac = 0.3 + 0.7 * done / n_files
            tick(progress, f"{p.plan.source}: checking {p.plan.table}", base_frac)
            people = people_ref(tname, first=(n == 0 and mode == "replace"))
            staged = stage(con, p, cfg, people)
            if max_rows is not None and staged.total > max_rows:
                raise B2BError(f"{p.plan.source}: {staged.total:,} rows is over the upload limit of {max_rows:,} "
                               "rows; nothing was loaded",
                               fix="load a file this large with `b2bmetrics ingest --db FILE PATH` on the server")
            if p.inp.sheet is not None:
                con.unregister(f"_b2b_sheet_{p.order}")
            if staged.rejected_rows and not allow_rejects:
                failures.append((p, staged))
                con.execute(f"DROP TABLE {ident(STAGE)}")
                done += 1
                continue
            tick(progress, f"{p.plan.source}: loading {p.plan.table}", base_frac + 0.5 * 0.7 / n_files)
            load_id = _next_load_id(con)
            rows = _move(con, staged, table, replace_table=(mode == "replace" and n == 0))
            # values inlined, not bound: binding imports pandas (store.database.sql_literal)
            con.execute(inline_parameters(
                "INSERT INTO loads (load_id, table_name, file_name, sha256, rows, rejected, mode, loaded_at, "
                "mapping, unmapped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [load_id, tname, p.plan.source, p.sha256, rows, staged.rejected_rows, mode, loaded_at,
                 _mapping_json(p.plan), json.dumps(list(p.plan.unmapped_headers), ensure_ascii=False)]))
            if staged.rejected_rows:
                con.execute(inline_parameters(f"INSERT INTO load_rejects SELECT ?, ?, ?, rid - {staged.base} + 1, "
                                              f"\"column\", \"value\", reason FROM {REJ} ORDER BY rid",
                                              [load_id, tname, p.plan.source]))
            results.append(LoadResult(p.plan.source, tname, rows, staged.rejected_rows, False,
                                      tuple(staged.rejects), load_id, p.plan.unmapped_headers))
            done += 1
        for p in dupes:
            results.append(LoadResult(p.plan.source, tname, 0, 0, True, (), None))
            done += 1
        if tname == "deals":  # every load of deals writes the day's snapshot (CONTRACT §2 v2)
            record_deals_snapshot(con, as_of or loaded_at.date())
    con.execute(f"DROP TABLE IF EXISTS {REJ}")
    return results, failures


def _new_snapshot_day(con: duckdb.DuckDBPyConnection, groups: dict[str, list[Planned]],
                      as_of: dt.date | None) -> bool:
    """A load of deals with --as-of a day that is no snapshot day yet: never skipped as "already loaded"."""
    return as_of is not None and "deals" in groups and not has_snapshot_day(con, as_of)


def _next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    return int(row[0]) if row else 1
