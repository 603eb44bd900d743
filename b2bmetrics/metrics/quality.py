"""Data quality (CONTRACT §5 "Quality"): rows, completeness and orphans per canonical table, and the load log.

Always computed on the whole data (no filters). Columns, kinds and foreign keys come from
`schema.TABLES` (`Column.references`). `summary` asks two queries in all: one for every table at
once (each table's counts padded into the same positional columns and stacked with UNION ALL; a
store keeps that result beside the data: `QUALITY_COUNTS`) and one for the load log, which says which
columns each load's file actually had.

Choices where the contract is silent:

* A cell is empty when NULL or, for text, the empty string (ingest trims values and stores an
  empty cell as NULL; "" is only caught for data loaded by other means).
* "Canonical columns that are present": the database keeps every canonical column, so presence is
  read from the load log: the columns named by the `mapping` recorded for the table's loads since
  its last full (non-append) load, when that is a JSON object of canonical name -> header (or
  header -> canonical name). Without such a record every canonical column counts as present (an
  export's header usually lists even the columns nobody fills, and their empty cells count).
* A row with several orphan foreign keys counts once; a foreign key pointing into an empty parent
  table is an orphan.
* deal_snapshots is described as the rows a user loads (one per snapshot day and deal), not as its
  compact storage rows: each stored row counts once for every snapshot day it covers (its weight,
  from the days' numbers in `snapshot_days`: number(valid_until) − number(snapshot_date), or the days
  left through the latest when valid_until is empty), so rows, filled cells and orphans are the
  expanded counts without expanding anything. A backend without `snapshot_days` (an export written
  before it) counts each row once. A snapshot row of a deal no longer in deals is an orphan on
  every day it covers; the storage column `valid_until` is no canonical column and counts nowhere.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.schema import TABLES, Table
from b2bmetrics.store.materialize import ByTable, Relation, lookup

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

LOAD_LOG = ("loads", "load_rejects")  # the store's audit tables: not canonical, not under a scope
SNAPSHOTS, SNAPSHOT_DAYS = "deal_snapshots", "snapshot_days"


def _nonempty(col: ir.Column) -> ir.BooleanValue:
    """Not NULL and, for text, not the empty string."""
    if col.type().is_string():
        # no TRIM: ingest stores trimmed values, and trimming every cell costs ~60 ms per 1 M rows and column
        return col.notnull() & (col != "")
    return col.notnull()


def _present_in_db(t: ir.Table, table: Table) -> list[str]:
    """Canonical columns that exist in the backend's table (all of them in a b2bmetrics store)."""
    have = set(t.columns)
    return [c for c in table.column_names if c in have]


def _foreign_keys(table: Table, columns: list[str]) -> list[tuple[str, str, str]]:
    """(column, parent table, parent key) for the table's foreign keys that are present."""
    out = []
    for name in columns:
        ref = table.column(name).references
        if ref is not None and ref in TABLES:
            out.append((name, ref, TABLES[ref].key[0]))
    return out


def _orphan_flag(tables: dict[str, ir.Table], t: ir.Table,
                 fks: list[tuple[str, str, str]]) -> tuple[ir.Table, ir.BooleanValue]:
    """`t` and "some foreign key names no parent row": a mark join (`col IN (SELECT key …)`) per
    key, which needs neither the distinct keys of the parent nor a join that multiplies rows."""
    flags: list[ir.BooleanValue] = []
    for col, parent, key in fks:
        p = tables[parent]
        flags.append(_nonempty(t[col]) & ~t[col].isin(p.filter(p[key].notnull())[key]))
    if not flags:
        return t, ibis.literal(False)
    flag = flags[0]
    for f in flags[1:]:
        flag = flag | f
    return t, flag


def _day_numbers(snapshots: ir.Table, days: ir.Table) -> ir.Table:
    """deal_snapshots rows with `_si`, the number of their first day, and `_ei`, the number of the day
    they end before (valid_until's, or one past the latest day when it is empty); days numbered from 0."""
    d = days.select("snapshot_date").distinct()
    d = d.mutate(_i=ibis.row_number().over(order_by=d.snapshot_date))
    n = d.aggregate(_n=d.count())
    starts = d.select(_sd=d.snapshot_date, _si=d._i)
    ends = d.select(_vd=d.snapshot_date, _vi=d._i)
    t = snapshots.left_join(starts, snapshots.snapshot_date == starts._sd)
    t = t.left_join(ends, t.valid_until == ends._vd).cross_join(n)
    return t.mutate(_ei=ibis.ifelse(t.valid_until.isnull(), t._n, t._vi)).drop("_sd", "_vd", "_vi", "_n")


def with_day_weights(snapshots: ir.Table, days: ir.Table) -> ir.Table:
    """deal_snapshots rows with `_days`: how many snapshot days each covers (see the module's docstring)."""
    t = _day_numbers(snapshots, days)
    return t.mutate(_days=ibis.coalesce(t._ei - t._si, 1).cast("int64")).drop("_si", "_ei")


def _covered_days(snapshots: ir.Table, days: ir.Table) -> int:
    """How many snapshot days at least one deal_snapshots row covers (one small query): +1 where a row
    starts, −1 where it ends, in day numbers; the days between two events count when the running sum is > 0."""
    t = _day_numbers(snapshots, days)
    t = t.filter(t._si.notnull())
    events = ibis.union(t.select(i=t._si, delta=ibis.literal(1, type="int64")),
                        t.select(i=t._ei, delta=ibis.literal(-1, type="int64")), distinct=False)
    e = events.group_by("i").aggregate(delta=events.delta.sum())
    e = e.mutate(running=e.delta.sum().over(ibis.cumulative_window(order_by=e.i)),
                 following=e.i.lead().over(ibis.window(order_by=e.i)))
    covered = e.aggregate(n=(e.following - e.i).sum(where=e.running > 0)).execute()["n"].iloc[0]
    return 0 if covered is None or covered != covered else int(covered)


def _table_counts(tables: dict[str, ir.Table], table: Table, width: int) -> ir.Table:
    """One row: table, rows, orphans and the non-empty count of each present column at c0, c1, …
    (deal_snapshots: each row weighted by the snapshot days it covers, when `snapshot_days` is given)."""
    t = tables[table.name]
    columns = _present_in_db(t, table)
    weighted = table.name == SNAPSHOTS and SNAPSHOT_DAYS in tables and "valid_until" in t.columns
    if weighted:
        t = with_day_weights(t, tables[SNAPSHOT_DAYS])
    base = {c: _nonempty(t[c]) for c in columns}
    t = t.mutate(**{f"_ne{i}": cond for i, cond in enumerate(base.values())})
    t, orphan = _orphan_flag(tables, t, _foreign_keys(table, columns))

    def count_where(cond: ir.BooleanValue) -> ir.IntegerValue:
        # Spark counts with a condition as a SUM, which is NULL on an empty table: make it 0 there
        if weighted:
            return ibis.coalesce(t._days.sum(where=cond), 0).cast("int64")
        return ibis.coalesce(t.count(where=cond), 0).cast("int64")

    agg = t.aggregate(
        rows=(ibis.coalesce(t._days.sum(), 0) if weighted else t.count()).cast("int64"),
        orphans=count_where(orphan),
        **{f"c{i}": count_where(t[f"_ne{i}"]) for i in range(len(columns))},
    )
    pad = {f"c{i}": ibis.null().cast("int64") for i in range(len(columns), width)}
    agg = agg.mutate(table_name=ibis.literal(table.name, type="string"), **pad)
    return agg.select("table_name", "rows", "orphans", *[f"c{i}" for i in range(width)])


def _load_log(con: Backend, *names: str) -> list[ir.Table] | None:
    """The audit tables `names` (of LOAD_LOG), or None when the backend has not all of them: a
    restricted scope (it offers canonical tables only), a database written by other means, a
    partial export."""
    have = set(con.list_tables())
    if not set(names) <= have:
        return None
    return [con.table(name) for name in names]


def _load_log_columns(con: Backend) -> dict[str, set[str]]:
    """Canonical columns each table's current rows came with, from `loads.mapping` when it records them.

    A replace load starts the table afresh; the files of one ingest share `loaded_at` (the first
    replaces, the rest add to it), and append loads add their columns.
    """
    log = _load_log(con, "loads")
    if log is None:
        return {}
    [loads] = log
    if not {"mapping", "mode", "loaded_at"} <= set(loads.columns):
        return {}
    df = loads.select("load_id", "table_name", "mode", "loaded_at", "mapping").order_by("load_id").execute()
    out: dict[str, set[str] | None] = {}
    batch: dict[str, Any] = {}
    for rec in df.to_dict("records"):
        name = rec["table_name"]
        if name not in TABLES:
            continue
        cols = _mapping_columns(TABLES[name], rec["mapping"])
        fresh = rec["mode"] != "append" and batch.get(name) != rec["loaded_at"]
        if fresh or name not in out:
            out[name] = cols
            batch[name] = rec["loaded_at"]
        else:
            prev = out[name]
            out[name] = None if prev is None or cols is None else prev | cols
    return {k: v for k, v in out.items() if v}


def _mapping_columns(table: Table, mapping: Any) -> set[str] | None:
    """Canonical names in a recorded mapping (either orientation); None when it records none."""
    if not isinstance(mapping, str) or not mapping.strip():
        return None
    try:
        raw = json.loads(mapping)
    except json.JSONDecodeError:
        return None
    if isinstance(raw, dict) and isinstance(raw.get("columns"), dict | list):
        raw = raw["columns"]
    canon = set(table.column_names)
    if isinstance(raw, list):
        names = {str(x) for x in raw} & canon
    elif isinstance(raw, dict):
        keys, values = {str(k) for k in raw} & canon, {str(v) for v in raw.values()} & canon
        names = keys if len(keys) >= len(values) else values
    else:
        return None
    return names or None


def _counts(tables: dict[str, ir.Table], only: frozenset[str] | None = None) -> ir.Table:
    """The `_table_counts` row of every table (or of those in `only`), stacked: one query for all."""
    width = max(len(t.columns) for t in TABLES.values())
    return ibis.union(*[_table_counts(tables, table, width) for table in TABLES.values()
                        if only is None or table.name in only], distinct=False)


def _tables(con: Backend) -> dict[str, ir.Table]:
    """Every canonical table, and `snapshot_days` when the backend has it (deal_snapshots' weights)."""
    tables = {name: con.table(name) for name in TABLES}  # each lookup asks the backend for a schema
    if SNAPSHOT_DAYS in con.list_tables():
        tables[SNAPSHOT_DAYS] = con.table(SNAPSHOT_DAYS)
    return tables


def counts_expr(con: Backend, only: frozenset[str] | None = None) -> ir.Table:
    """The counts `summary` reads (table_name, rows, orphans, c0, c1, …) of every table (or of
    those in `only`), as the store keeps them."""
    return _counts(_tables(con), only)


def _counts_affected(changed: frozenset[str]) -> frozenset[str]:
    """The tables whose counts a change of `changed` alters: those, and the tables whose foreign
    keys point into them (their orphans depend on the parent's keys)."""
    return changed | {t.name for t in TABLES.values() if any(c.references in changed for c in t.columns)}


# kept by the store beside the data (store.materialize); a load replaces the rows of what it changed
QUALITY_COUNTS = Relation(
    "quality_counts", lambda con, cfg: counts_expr(con),
    by_table=ByTable("table_name", affected=_counts_affected, build=lambda con, cfg, tables: counts_expr(con, tables)))


def summary(con: Backend, cfg: Config | None = None) -> dict[str, Any]:
    """CONTRACT §4 "quality": {"tables": {name: {"rows", "completeness", "orphans"}}} for every table.

    completeness = non-empty cells / (rows × present canonical columns), None for an empty table.
    """
    stored = lookup(con, QUALITY_COUNTS, cfg)
    tables = {name: con.table(name) for name in TABLES} if stored is not None else _tables(con)
    df = (stored if stored is not None else _counts(tables)).execute()
    by_name = {rec["table_name"]: rec for rec in df.to_dict("records")}
    logged = _load_log_columns(con)
    out: dict[str, dict[str, Any]] = {}
    for table in TABLES.values():
        rec = by_name[table.name]
        columns = _present_in_db(tables[table.name], table)
        counts = {c: int(rec[f"c{i}"]) for i, c in enumerate(columns)}
        rows = int(rec["rows"])
        if table.name in logged:
            present = [c for c in columns if c in logged[table.name] or table.column(c).required]
        else:
            present = columns
        cells = rows * len(present)
        out[table.name] = {
            "rows": rows,
            "completeness": None if cells == 0 else sum(counts[c] for c in present) / cells,
            "orphans": int(rec["orphans"]),
        }
    return {"tables": out}


def columns(con: Backend, table: str) -> pd.DataFrame:
    """Per canonical column of `table`: kind, required, references, non_null, completeness, distinct (one query).

    ValueError for a name that is no canonical table (a caller's mistake: the page lists the tables).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    spec = TABLES[table]
    t = con.table(table)
    names = _present_in_db(t, spec)
    weighted = table == SNAPSHOTS and "valid_until" in t.columns and SNAPSHOT_DAYS in con.list_tables()
    if weighted:  # the rows a user loads: one per snapshot day and deal (see the module's docstring)
        t = with_day_weights(t, con.table(SNAPSHOT_DAYS))
    agg: dict[str, ir.Value] = {"_rows": ibis.coalesce(t._days.sum(), 0) if weighted else t.count()}
    for i, c in enumerate(names):
        agg[f"n{i}"] = ibis.coalesce(t._days.sum(where=_nonempty(t[c])), 0) if weighted \
            else t.count(where=_nonempty(t[c]))
        agg[f"d{i}"] = t[c].nunique()
    rec = t.aggregate(**agg).execute().iloc[0]
    if weighted and "snapshot_date" in names:  # a row's own day stands for every day it covers
        rec[f"d{names.index('snapshot_date')}"] = _covered_days(con.table(table), con.table(SNAPSHOT_DAYS))
    rows = int(rec["_rows"])
    out = []
    for i, c in enumerate(names):
        col = spec.column(c)
        non_null = int(rec[f"n{i}"])
        out.append({"column": c, "kind": col.kind, "required": col.required, "references": col.references,
                    "non_null": non_null, "completeness": None if rows == 0 else non_null / rows,
                    "distinct": int(rec[f"d{i}"])})
    return pd.DataFrame(out, columns=["column", "kind", "required", "references", "non_null", "completeness",
                                      "distinct"])


def last_rejects(con: Backend, limit: int | None = 10_000) -> pd.DataFrame:
    """The rejected rows of each table's most recent load (`load_rejects` joined with `loads`)."""
    cols = ["table_name", "load_id", "file_name", "loaded_at", "row", "column", "value", "reason"]
    log = _load_log(con, *LOAD_LOG)
    if log is None:
        return pd.DataFrame(columns=cols)
    loads, rejects = log
    last = loads.group_by("table_name").aggregate(_last=loads.load_id.max())
    info = loads.select(_lid="load_id", loaded_at="loaded_at")
    last = last.join(info, last._last == info._lid)
    last = last.select(_tn=last.table_name, _lid=last._lid, loaded_at=last.loaded_at)
    j = rejects.join(last, (rejects.load_id == last._lid) & (rejects.table_name == last._tn))
    j = j.select(*cols).order_by(["table_name", "row", "column"])
    if limit is not None:
        j = j.limit(limit)
    return j.execute()


def load_history(con: Backend, limit: int | None = 1_000) -> pd.DataFrame:
    """Every load, newest first: id, table, file, sha256, rows, rejected, mode, time."""
    log = _load_log(con, "loads")
    if log is None:
        return pd.DataFrame(columns=["load_id", "table_name", "file_name", "sha256", "rows", "rejected", "mode",
                                     "loaded_at"])
    [loads] = log
    q = loads.order_by(ibis.desc(loads.load_id))
    if limit is not None:
        q = q.limit(limit)
    return q.execute()
