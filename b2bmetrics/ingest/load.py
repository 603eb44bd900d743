"""Files -> validated rows -> one atomic load (CONTRACT §2).

`plan_files` says what each file (or XLSX sheet) will load as: its table, why, its encoding and
delimiter, and which header feeds which canonical column. `ingest` loads every file of a call in
ONE `Store.write()` block: all of it commits, or (on any error, rejected row or crash) the
database stays exactly as it was.

How a file loads (the bulk path never loops over rows in Python):

1. Bytes: the format is sniffed from content; text that is not UTF-8 (GB18030, UTF-16) is
   transcoded in chunks to a temporary UTF-8 file; the sha256 of the original bytes is taken on the
   same pass (`ingest.read`).
2. One SQL pass: `CREATE TABLE <stage> AS SELECT` over DuckDB's CSV reader (all VARCHAR, explicit
   delimiter and quote, strict), a registered Arrow table of the sheet's cells, or a Parquet scan:
   typed canonical columns plus one `_e` column listing a row's bad values (NULL when the row is
   fine; `ingest.parse`). A row's record number is its position in that table (DuckDB keeps insertion
   order, also for multi-threaded reads; tested on a large file).
3. One aggregate counts the rows with bad values and the duplicate keys (on key hashes). Only when
   something is wrong are the rejects spelled out (`load_rejects` layout: row, column, value,
   reason); slash dates with a day above 12 make their column day-first (the pass runs again), and
   spellings only NFKC recognises are added to the enum tables. `deal_splits` also gets its
   per-deal share sums checked.
4. People columns: a value that is a loaded `rep_id` stays; one equal to exactly one loaded
   `rep_name` becomes that rep's id (reps load first in a call, so a call's own reps count).
5. Move: a replace load of a table's first file renames the staging table into place (no copy);
   `--append`, and later files of the same table in one call, upsert by the table's key
   (`deal_splits`: by deal, so a deal's split set is replaced whole).

Rejects: by default any rejected row fails the whole call with a report (B2BError). With
`allow_rejects=True` the valid rows load and every reject is stored in `load_rejects`.
Loads: each file (sheet) adds a row to `loads` (sha256 of the file's bytes; for a workbook sheet, of
the file's sha256 and the sheet name); a table whose files are exactly the latest load of that
table (same bytes, mode and mapping) is skipped, and when every table is, the database file is not
touched at all. The skip does not look at the configuration: after changing `[pipeline]` aliases,
load with --append or change the file to re-check previously rejected rows.
Row numbers are 1-based data records, header excluded; blank lines and fully empty sheet rows are
not records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from b2bmetrics.store import materialize as derived
from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest.map import (
    Mapping,
    load_mapping_file,
    map_headers,
    save_mapping_file,
    table_from_headers,
    table_from_name,
)
from b2bmetrics.ingest.parse import (
    AMBIGUOUS_DATE,
    ERRORS,
    STRICT_ENUMS,
    TRIM_CHARS,
    StageSpec,
    enum_tables,
    ident,
    lit,
    reason_sql,
    staging_sql,
)
from b2bmetrics.ingest.read import (
    NotUtf8,
    Sheet,
    TextLayout,
    cell_text,
    file_sha256,
    iter_data_files,
    line_at,
    read_workbook,
    records,
    sniff_format,
    stream_utf8,
    text_layout,
)
from b2bmetrics.schema import LOAD_ORDER, TABLES, Column, Table, header_key
from b2bmetrics.store import Store, connect_duckdb, init_schema

__all__ = ["FilePlan", "LoadResult", "Reject", "ingest", "plan_files", "preview_rejects"]

MAX_REJECTS_KEPT = 1000  # Reject objects kept per file in LoadResult / previews (load_rejects keeps all)
REPORT_SHOWN = 20
PRECHECK_MIN_BYTES = 64 << 20  # below this, copying the database to find "nothing changed" is cheap
STAGE = "_b2b_stage"
REJ = "_b2b_rejects"
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Reject:
    """A refused row: 1-based data record number (header excluded), column, raw value, reason."""

    row: int | None
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True)
class FilePlan:
    """What a file (or one XLSX sheet) will load as, decided before loading."""

    source: str  # file name, plus "[sheet]" for a workbook sheet
    path: Path
    sheet: str | None
    table: str
    table_reason: str  # "--table", "mapping file", "file name", "sheet name", "header fingerprint"
    encoding: str | None
    delimiter: str | None
    mapping: dict[str, str]  # canonical column -> header in the file
    unmapped_headers: tuple[str, ...]
    rows: int | None


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


# ---- planning --------------------------------------------------------------------------------

@dataclass
class _Input:
    """One table-shaped part of a file: a CSV or Parquet file, or one workbook sheet."""

    path: Path
    fmt: str
    source: str
    headers: tuple[str, ...]
    rows: int | None = None
    layout: TextLayout | None = None
    sheet: Sheet | None = None
    sheets_in_file: int = 1


@dataclass
class _Planned:
    plan: FilePlan
    inp: _Input
    index: dict[str, int]  # canonical column -> header position
    sha256: str = ""
    read_path: Path | None = None  # UTF-8 text DuckDB reads (the file itself or a transcoded copy)
    trim: str = "all"  # how much trimming the values need: "none", "space", "all" (ingest.read.Streamed)
    order: int = 0


def _inputs(path: Path, con_factory: Callable[[], duckdb.DuckDBPyConnection]) -> list[_Input]:
    fmt = sniff_format(path)
    if fmt == "xlsx":
        sheets = read_workbook(path)
        return [_Input(path, fmt, f"{path.name}[{s.name}]", s.headers, len(s.rows), sheet=s,
                       sheets_in_file=len(sheets)) for s in sheets]
    if fmt == "parquet":
        con = con_factory()
        try:
            desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})").fetchall()
            rows = con.execute(f"SELECT count(*) FROM read_parquet({lit(str(path))})").fetchone()
        except duckdb.Error as exc:
            raise B2BError(f"{path.name}: not a readable Parquet file ({_first_line(exc)})",
                           fix="export the Parquet file again, or give a CSV/XLSX") from exc
        finally:
            con.close()
        n = int(rows[0]) if rows else 0
        if n == 0:
            raise B2BError(f"{path.name}: the Parquet file has no rows", fix="export the data again with its rows")
        return [_Input(path, fmt, path.name, tuple(str(d[0]) for d in desc), n)]
    layout = text_layout(path)
    return [_Input(path, fmt, path.name, layout.headers, _sample_rows(layout), layout=layout)]


def _sample_rows(layout: TextLayout) -> int | None:
    """Data records when the whole file fit in the sample, else None (unknown until loaded)."""
    if not layout.whole:
        return None
    return max(len(records(layout.sample, layout.delimiter, True, limit=10**9)) - 1, 0)


def _as_mapping(mapping: Mapping | dict[str, str] | None) -> Mapping | None:
    if mapping is None or isinstance(mapping, Mapping):
        return mapping
    return Mapping(None, dict(mapping), "mapping")


def _detect_table(inp: _Input, table: str | None, mapping: Mapping | None) -> tuple[str, str]:
    if table is not None:
        return table, "--table"
    if mapping is not None and mapping.table:
        return mapping.table, "mapping file"
    if inp.sheet is not None:
        found = table_from_name(inp.sheet.name)
        if found:
            return found[0], "sheet name"
    if inp.sheet is None or inp.sheets_in_file == 1:
        found = table_from_name(inp.path.stem)
        if found:
            return found[0], "file name"
    fp = table_from_headers(inp.headers)
    if fp:
        return fp, "header fingerprint"
    raise B2BError(f"{inp.source}: cannot tell which table this is (neither its name nor its headers "
                   f"match one; headers: {', '.join(repr(h) for h in inp.headers[:12])})",
                   fix=f"pass --table with one of: {', '.join(TABLES)} (and --mapping if the headers are custom)")


def _plan_one(inp: _Input, table: str | None, mapping: Mapping | None) -> _Planned:
    name, reason = _detect_table(inp, table, mapping)
    tbl = TABLES[name]
    if mapping is not None and mapping.table and mapping.table != name:
        mapping = None  # cannot happen: a mapping's table forces the file's table
    index = map_headers(tbl, inp.headers, inp.source, mapping)
    used = set(index.values())
    unmapped = tuple(h for i, h in enumerate(inp.headers) if i not in used and h)
    lay = inp.layout
    plan = FilePlan(source=inp.source, path=inp.path, sheet=inp.sheet.name if inp.sheet else None, table=name,
                    table_reason=reason, encoding=lay.encoding if lay else None,
                    delimiter=lay.delimiter if lay else None,
                    mapping={c: inp.headers[i] for c, i in sorted(index.items(), key=lambda t: t[1])},
                    unmapped_headers=unmapped, rows=inp.rows)
    return _Planned(plan, inp, index)


def _resolve_options(table: str | None, mapping_file: Path | None,
                     mapping: Mapping | dict[str, str] | None) -> tuple[str | None, Mapping | None]:
    if table is not None and table not in TABLES:
        raise B2BError(f"--table {table!r} is not a canonical table", fix=f"use one of: {', '.join(TABLES)}")
    m = _as_mapping(mapping)
    if mapping_file is not None:
        from_file = load_mapping_file(Path(mapping_file))
        if m is not None:
            if m.table and from_file.table and m.table != from_file.table:
                raise B2BError(f"the mapping is for table {m.table} but {mapping_file} is for {from_file.table}",
                               fix="give one mapping")
            m = Mapping(m.table or from_file.table, {**from_file.columns, **m.columns}, from_file.source)
        else:
            m = from_file
    if m is not None and m.table and table is not None and m.table != table:
        raise B2BError(f"--table {table} contradicts the mapping's table = {m.table!r}",
                       fix="leave out --table or use the mapping for that table")
    return table, m


def _plan_all(paths: Sequence[Path], table: str | None, mapping: Mapping | None) -> list[_Planned]:
    out: list[_Planned] = []
    for path in iter_data_files([Path(p) for p in paths]):
        for inp in _inputs(path, connect_duckdb):
            out.append(_plan_one(inp, table, mapping))
    if not out:
        raise B2BError("no files to load", fix="pass one or more CSV, XLSX or Parquet files")
    return out


def plan_files(paths: Sequence[Path], cfg: Config, *, table: str | None = None,
               mapping: Mapping | dict[str, str] | None = None) -> list[FilePlan]:
    """What each file (each XLSX sheet) will load as, without loading; B2BError for a file that cannot load."""
    table, m = _resolve_options(table, None, mapping)
    return [p.plan for p in _plan_all(paths, table, m)]


# ---- staging one file --------------------------------------------------------------------------

@dataclass
class _Staged:
    """The staging table of one file after the checks."""

    spec: StageSpec
    total: int
    base: int  # rowid of record 1
    rejected_rows: int
    n_rejects: int = 0  # rejects (a row may have several)
    rejects: list[Reject] = field(default_factory=list)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _csv_error(source: str, exc: duckdb.Error, layout: TextLayout | None) -> B2BError:
    """DuckDB's CSV reader error as a user's message (line, what is wrong, how to fix it)."""
    text = str(exc)
    # DuckDB appends its reader options ("  file = ...", "quote = ...") and hints: not the problem itself
    for cut in ("\n  file = ", "\nPossible fix", "\nPossible Solution"):
        text = text.split(cut)[0]
    line = re.search(r"CSV Error on Line: (\d+)", text)
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    where = f"line {line.group(1)}" if line else "a line"
    if cols:
        what = f"{where} has {cols.group(2)} fields but the header has {cols.group(1)}"
        fix = "quote fields that contain the delimiter, or remove the extra fields"
    elif "Maximum line size" in text:
        what = f"{where} is longer than 8 MiB; this is not a table export (or a quote is never closed)"
        fix = "check the quotes in that line, or export the data again"
    elif "Invalid unicode" in text:
        what = f"{where} is not valid {layout.encoding if layout else 'UTF-8'} text"
        fix = "save the file as UTF-8 (in Excel: CSV UTF-8) and load it again"
    elif "unterminated quote" in text:
        what = f"{where} has a quote that is never closed (or a stray quote inside a field)"
        fix = 'close the quoted field; a quote inside a quoted field is written twice ("")'
    else:
        what = f"{where} cannot be read: {_first_line(exc).removeprefix('Invalid Input Error: ')}"
        fix = "check the file is a CSV export with one header line"
    return B2BError(f"{source}: {what}", fix=fix)


def _source_sql(con: duckdb.DuckDBPyConnection, p: _Planned) -> tuple[str, dict[str, str]]:
    """A FROM item with one VARCHAR column per mapped header, and canonical column -> its name there."""
    inp = p.inp
    cols = {name: f"c{i}" for name, i in p.index.items()}
    if inp.fmt == "csv":
        assert inp.layout is not None and p.read_path is not None
        n = len(inp.headers)
        spec = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n))
        newline = ", new_line='\\r'" if inp.layout.newline == "\r" else ""
        # DuckDB's parallel reader refuses a quoted field spanning lines when null_padding is on: a file
        # with one in its sample is read serially (one further down is refused as a B2BError)
        newline += ", parallel=false" if inp.layout.multiline else ""
        sql = (f"read_csv({lit(str(p.read_path))}, delim={lit(inp.layout.delimiter)}, quote='\"', escape='\"', "
               f"header=true, skip={inp.layout.skip}, columns={{{spec}}}, auto_detect=false, null_padding=true, "
               f"strict_mode=true, encoding='utf-8', max_line_size=8388608{newline})")
        return sql, cols
    if inp.fmt == "parquet":
        sel = ", ".join(f"CAST({ident(inp.headers[i])} AS VARCHAR) AS c{i}" for i in p.index.values())
        return f"(SELECT {sel} FROM read_parquet({lit(str(inp.path))}))", cols
    import pyarrow as pa

    assert inp.sheet is not None
    table = TABLES[p.plan.table]
    arrays = {}
    for name, i in p.index.items():
        is_date = table.column(name).kind in ("timestamp", "date")
        arrays[f"c{i}"] = pa.array([cell_text(r[i] if i < len(r) else None, is_date) for r in inp.sheet.rows],
                                   type=pa.string())
    view = f"_b2b_sheet_{p.order}"
    con.register(view, pa.table(arrays))
    return ident(view), cols


def _stage(con: duckdb.DuckDBPyConnection, p: _Planned, cfg: Config, people_ref: str | None) -> _Staged:
    """Create the staging table for one file and run every check; rejects land in the temp table REJ."""
    table = TABLES[p.plan.table]
    source_sql, cols = _source_sql(con, p)
    spec = StageSpec(table, cfg.pipeline, source_sql, cols, trim=p.trim)
    agg = _build(con, p, spec, people_ref)
    redo: dict[str, str] = {}
    extras: dict[str, dict[str, str]] = {}
    for c in spec.date_columns():
        if agg.get(f"dmy_{c.name}"):
            redo[c.name] = "dmy"
    for c in spec.error_columns():
        if (c.kind == "stage" or c.kind in STRICT_ENUMS) and agg[f"e_{c.name}"]:
            found = _nfkc_spellings(con, spec, c, cfg)
            if found:
                extras[c.name] = found
    if redo or extras:
        spec = replace(spec, date_order={**spec.date_order, **redo}, extra=extras)
        con.execute(f"DROP TABLE {ident(STAGE)}")
        agg = _build(con, p, spec, people_ref)
    total, base = agg["total"], agg["base"]
    if total == 0:
        raise B2BError(f"{p.plan.source}: has a header but no data rows",
                       fix="export the data again with its rows, or leave the file out")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJ} (rid BIGINT, \"column\" VARCHAR, \"value\" VARCHAR, "
                "reason VARCHAR NOT NULL)")
    for c in spec.error_columns():
        if agg[f"e_{c.name}"]:
            e = spec.error_ref(c)
            con.execute(f"INSERT INTO {REJ} SELECT rowid, {lit(c.name)}, {e}, {reason_sql(c, e, spec)} "
                        f"FROM {ident(STAGE)} WHERE {e} IS NOT NULL")
    if agg["dups"]:
        _duplicate_rejects(con, table, base)
    if table.name == "deal_splits":
        _share_sum_rejects(con)
    counted = con.execute(f"SELECT count(DISTINCT rid), count(*) FROM {REJ}").fetchone()
    n_rej, n_all = (int(counted[0]), int(counted[1])) if counted else (0, 0)
    rejects: list[Reject] = []
    if n_rej:
        rows = con.execute(f"SELECT rid - {base} + 1, \"column\", \"value\", reason FROM {REJ} "
                           f"ORDER BY rid, \"column\" LIMIT {MAX_REJECTS_KEPT}").fetchall()
        rejects = [Reject(int(r[0]) if r[0] is not None else None, r[1], r[2], r[3]) for r in rows]
    return _Staged(spec, total, base, n_rej, n_all, rejects)


def _build(con: duckdb.DuckDBPyConnection, p: _Planned, spec: StageSpec, people_ref: str | None) -> dict[str, Any]:
    """Run the staging CTAS, resolve people, and return the one aggregate over it."""
    # DuckDB's common-subexpression pass would hoist the fallback parsers (a trim or a regexp used by
    # several branches) out of their COALESCE and run them on every row; off, they run only where the
    # fast path failed (about 2x faster on clean files)
    con.execute("SET disabled_optimizers = 'common_subexpressions'")
    try:
        con.execute(staging_sql(spec, STAGE))
    except duckdb.Error as exc:  # a reader error (the CSV reader raises plain duckdb.Error too)
        if isinstance(exc, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
            raise  # our SQL is wrong: a bug, not the user's file
        # the transaction is aborted now: nothing more can run on it
        raise _csv_error(p.plan.source, exc, p.inp.layout) from exc
    con.execute("RESET disabled_optimizers")
    if people_ref is not None:
        _resolve_people(con, spec, people_ref)
    exprs = ["count(*) AS total", "min(rowid) AS base", f"count({ident(ERRORS)}) AS bad_rows"]
    # duplicate keys, counted on the keys' hashes (cheaper than the strings): equal keys hash equal, so
    # 0 proves there are none; a collision only costs the exact query in _duplicate_rejects
    key = spec.table.key
    notnull = " AND ".join(f"{ident(k)} IS NOT NULL" for k in key)
    hashed = f"hash({', '.join(ident(k) for k in key)})"
    exprs.append(f"count(*) FILTER (WHERE {notnull}) - count(DISTINCT {hashed}) FILTER (WHERE {notnull}) AS dups")
    cur = con.execute(f"SELECT {', '.join(exprs)} FROM {ident(STAGE)}")
    row = cur.fetchone()
    names = [d[0] for d in cur.description]
    out = dict(zip(names, row, strict=True)) if row else {}
    out["total"] = int(out.get("total") or 0)
    out["base"] = int(out.get("base") or 0)
    out.update({f"e_{c.name}": 0 for c in spec.error_columns()})
    if out.get("bad_rows"):
        # which columns, and slash dates with a day above 12 (then the column is day-first)
        exprs = [f"count({spec.error_ref(c)}) AS {ident('e_' + c.name)}" for c in spec.error_columns()]
        for c in spec.date_columns():
            if spec.date_order.get(c.name, "mdy") == "mdy":
                e = f"trim({spec.error_ref(c)}, {lit(TRIM_CHARS)})"
                exprs.append(f"coalesce(bool_or(TRY_CAST(regexp_extract({e}, '{AMBIGUOUS_DATE}', 1) AS INTEGER) > 12 "
                             f"AND TRY_CAST(regexp_extract({e}, '{AMBIGUOUS_DATE}', 2) AS INTEGER) <= 12), false) "
                             f"AS {ident('dmy_' + c.name)}")
        cur = con.execute(f"SELECT {', '.join(exprs)} FROM {ident(STAGE)} WHERE {ident(ERRORS)} IS NOT NULL")
        row = cur.fetchone()
        if row:
            out.update(zip([d[0] for d in cur.description], row, strict=True))
    return out


def _nfkc_spellings(con: duckdb.DuckDBPyConnection, spec: StageSpec, col: Column, cfg: Config) -> dict[str, str]:
    """Refused enum spellings that schema.header_key (NFKC) still recognises: raw -> canonical."""
    _exact, keyed = enum_tables(col.kind, cfg.pipeline)
    e = spec.error_ref(col)
    values = con.execute(f"SELECT DISTINCT {e} FROM {ident(STAGE)} WHERE {e} <> '' LIMIT 10000").fetchall()
    return {v[0]: keyed[header_key(v[0])] for v in values if header_key(v[0]) in keyed}


def _resolve_people(con: duckdb.DuckDBPyConnection, spec: StageSpec, people_ref: str) -> None:
    person = [c.name for c in spec.table.columns if c.kind == "person" and spec.present(c)]
    if not person:
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE _b2b_people AS SELECT rep_id, rep_name FROM ({people_ref}) "
                "WHERE rep_id IS NOT NULL")
    names = con.execute("SELECT count(*) FROM _b2b_people WHERE rep_name IS NOT NULL").fetchone()
    if names and names[0]:
        unique = ("SELECT rep_name, min(rep_id) AS rep_id FROM _b2b_people WHERE rep_name IS NOT NULL "
                  "GROUP BY rep_name HAVING count(DISTINCT rep_id) = 1")
        for col in person:
            c = ident(col)
            con.execute(f"UPDATE {ident(STAGE)} SET {c} = n.rep_id FROM ({unique}) n "
                        f"WHERE {ident(STAGE)}.{c} = n.rep_name "
                        f"AND {ident(STAGE)}.{c} NOT IN (SELECT rep_id FROM _b2b_people)")
    con.execute("DROP TABLE _b2b_people")


def _duplicate_rejects(con: duckdb.DuckDBPyConnection, table: Table, base: int) -> None:
    key = [ident(k) for k in table.key]
    notnull = " AND ".join(f"{k} IS NOT NULL" for k in key)
    label = ", ".join(table.key)
    value = key[0] if len(key) == 1 else "concat_ws(', ', " + ", ".join(f"CAST({k} AS VARCHAR)" for k in key) + ")"
    con.execute(
        f"INSERT INTO {REJ} SELECT rid, {lit(label)}, v, {lit(label + ' ')} || '''' || v || ''' repeats row ' || "
        f"(first - {base} + 1) FROM (SELECT rowid AS rid, CAST({value} AS VARCHAR) AS v, "
        f"min(rowid) OVER (PARTITION BY {', '.join(key)}) AS first FROM {ident(STAGE)} WHERE {notnull}) "
        f"WHERE rid <> first")


def _share_sum_rejects(con: duckdb.DuckDBPyConnection) -> None:
    s = ident(STAGE)
    con.execute(
        f"INSERT INTO {REJ} SELECT x.rowid, 'share', CAST(x.share AS VARCHAR), 'shares of deal ''' || x.deal_id || "
        f"''' sum to ' || CAST(round(t.total, 6) AS VARCHAR) || ', not 1' FROM {s} x JOIN ("
        f"SELECT deal_id, sum(share) AS total FROM {s} WHERE deal_id IS NOT NULL AND share IS NOT NULL "
        f"AND rowid NOT IN (SELECT rid FROM {REJ}) GROUP BY deal_id HAVING abs(sum(share) - 1) > 0.001) t "
        f"ON x.deal_id = t.deal_id WHERE x.rowid NOT IN (SELECT rid FROM {REJ})")


# ---- moving rows into place ------------------------------------------------------------------------

def _move(con: duckdb.DuckDBPyConnection, staged: _Staged, table: Table, replace_table: bool) -> int:
    """Put the staged valid rows into the table; returns the rows loaded."""
    s = ident(STAGE)
    if staged.rejected_rows:
        con.execute(f"DELETE FROM {s} WHERE rowid IN (SELECT rid FROM {REJ})")
    con.execute(f"ALTER TABLE {s} DROP COLUMN {ident(ERRORS)}")
    t = ident(table.name)
    if replace_table:
        con.execute(f"DROP TABLE {t}")
        con.execute(f"ALTER TABLE {s} RENAME TO {t}")
    else:
        key = ("deal_id",) if table.name == "deal_splits" else table.key
        match = " AND ".join(f"{t}.{ident(k)} = {s}.{ident(k)}" for k in key)
        con.execute(f"DELETE FROM {t} USING {s} WHERE {match}")
        cols = ", ".join(ident(c) for c in table.column_names)
        con.execute(f"INSERT INTO {t} ({cols}) SELECT {cols} FROM {s}")
        con.execute(f"DROP TABLE {s}")
    return staged.total - staged.rejected_rows


# ---- the load -------------------------------------------------------------------------------------

def _prepare(planned: list[_Planned], tmpdir: Path, progress: Progress | None) -> None:
    """Hash every file and transcode non-UTF-8 text to UTF-8 copies (before any lock is taken)."""
    shas: dict[Path, str] = {}
    for i, p in enumerate(planned):
        inp = p.inp
        _tick(progress, f"{p.plan.source}: reading", 0.3 * i / len(planned))
        if inp.fmt == "csv":
            assert inp.layout is not None
            target = tmpdir / f"{i}.csv" if inp.layout.needs_transcoding else None
            try:
                streamed = stream_utf8(inp.path, inp.layout.encoding, target, inp.layout.delimiter)
            except NotUtf8 as bad:
                if not inp.layout.encoding_guessed:
                    raise B2BError(f"{p.plan.source}: line {line_at(inp.path, bad.offset)} is not valid UTF-8 text "
                                   f"(byte {bad.offset})",
                                   fix="save the file as UTF-8 (in Excel: CSV UTF-8) and load it again") from bad
                # a plain-ASCII start, then GBK text further down: the whole file is GB18030
                target = tmpdir / f"{i}.csv"
                streamed = stream_utf8(inp.path, "gb18030", target, inp.layout.delimiter)
                inp.layout = replace(inp.layout, encoding="gb18030")
            p.read_path = target or inp.path
            p.sha256, p.trim = streamed.sha256, streamed.trim
        else:
            if inp.path not in shas:
                shas[inp.path] = file_sha256(inp.path)
            p.sha256 = shas[inp.path]
            if inp.sheet is not None:
                p.sha256 = hashlib.sha256((shas[inp.path] + "\0" + inp.sheet.name).encode("utf-8")).hexdigest()


def _tick(progress: Progress | None, label: str, fraction: float) -> None:
    if progress is not None:
        progress(label, min(max(fraction, 0.0), 1.0))


def _mapping_json(plan: FilePlan) -> str:
    return json.dumps(plan.mapping, ensure_ascii=False, sort_keys=True)


def _groups(planned: list[_Planned]) -> dict[str, list[_Planned]]:
    out: dict[str, list[_Planned]] = {}
    for p in sorted(planned, key=lambda q: (LOAD_ORDER.index(q.plan.table), q.order)):
        out.setdefault(p.plan.table, []).append(p)
    return out


def _skippable(con: duckdb.DuckDBPyConnection, table: str, files: list[_Planned],
               mode: str) -> list[tuple[int, int, int]] | None:
    """(load_id, rows, rejected) per file when these files are exactly the table's latest load, else None."""
    last = con.execute(
        "SELECT load_id, sha256, mode, mapping, rows, rejected FROM loads WHERE table_name = ? AND loaded_at = "
        "(SELECT loaded_at FROM loads WHERE table_name = ? ORDER BY load_id DESC LIMIT 1) ORDER BY load_id",
        [table, table]).fetchall()
    want = [(p.sha256, mode, _mapping_json(p.plan)) for p in files]
    if [(r[1], r[2], r[3]) for r in last] != want:
        return None
    return [(int(r[0]), int(r[4]), int(r[5])) for r in last]


def _dedupe(files: list[_Planned]) -> tuple[list[_Planned], list[_Planned]]:
    seen: set[str] = set()
    keep: list[_Planned] = []
    dupes: list[_Planned] = []
    for p in files:
        (dupes if p.sha256 in seen else keep).append(p)
        seen.add(p.sha256)
    return keep, dupes


def _all_skipped(store: Store, groups: dict[str, list[_Planned]], mode: str, cfg: Config) -> bool:
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
        if "loads" not in tables:
            return False
        return (all(_skippable(con, t, _dedupe(files)[0], mode) is not None for t, files in groups.items())
                and derived.current(con, cfg))
    finally:
        con.close()


def ingest(store: Store, paths: Sequence[Path], cfg: Config, *, table: str | None = None,
           mapping_file: Path | None = None, mapping: Mapping | dict[str, str] | None = None,
           allow_rejects: bool = False, append: bool = False,
           progress: Progress | None = None) -> list[LoadResult]:
    """Load files into the store in one atomic write; B2BError (nothing changed) for any bad input.

    Returns one LoadResult per file (per XLSX sheet), in load order (schema.LOAD_ORDER).
    """
    table, m = _resolve_options(table, mapping_file, mapping)
    planned = _plan_all(paths, table, m)
    for i, p in enumerate(planned):
        p.order = i
    mode = "append" if append else "replace"
    with tempfile.TemporaryDirectory(prefix="b2bmetrics-ingest-") as tmp:
        _prepare(planned, Path(tmp), progress)
        groups = _groups(planned)
        if _all_skipped(store, groups, mode, cfg):
            results = _skipped_results(store, groups, mode)
            _tick(progress, "nothing changed", 1.0)
            return results
        try:
            with store.write(cfg=cfg, changed=set(groups)) as con:
                results, failures = _load_all(con, groups, cfg, mode, allow_rejects, progress, len(planned))
                if failures:
                    raise _reject_report(failures)
                if all(r.skipped for r in results) and derived.current(con, cfg):
                    raise _NothingChanged(results)
                # leaving the block rebuilds the derived tables and commits: seconds at scale
                _tick(progress, "saving and updating the derived tables", 0.97)
        except _NothingChanged as done:
            _tick(progress, "nothing changed", 1.0)
            return done.results
    _tick(progress, "done", 1.0)
    return results


class _NothingChanged(Exception):
    """Every file was already loaded: leave the database file untouched (the copy is discarded)."""

    def __init__(self, results: list[LoadResult]) -> None:
        super().__init__("nothing changed")
        self.results = results


def _skipped_results(store: Store, groups: dict[str, list[_Planned]], mode: str) -> list[LoadResult]:
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


def _load_all(con: duckdb.DuckDBPyConnection, groups: dict[str, list[_Planned]], cfg: Config, mode: str,
              allow_rejects: bool, progress: Progress | None,
              n_files: int) -> tuple[list[LoadResult], list[tuple[_Planned, _Staged]]]:
    results: list[LoadResult] = []
    failures: list[tuple[_Planned, _Staged]] = []
    loaded_at = dt.datetime.now()
    done = 0
    for tname, files in groups.items():
        table = TABLES[tname]
        keep, dupes = _dedupe(files)
        prev = _skippable(con, tname, keep, mode)
        if prev is not None:
            for p, (load_id, rows, rejected) in zip(keep, prev, strict=True):
                results.append(LoadResult(p.plan.source, tname, rows, rejected, True, (), load_id))
            for p in dupes:
                results.append(LoadResult(p.plan.source, tname, 0, 0, True, (), None))
            done += len(files)
            continue
        for n, p in enumerate(keep):
            base_frac = 0.3 + 0.7 * done / n_files
            _tick(progress, f"{p.plan.source}: checking {p.plan.table}", base_frac)
            people = _people_ref(tname, first=(n == 0 and mode == "replace"))
            staged = _stage(con, p, cfg, people)
            if p.inp.sheet is not None:
                con.unregister(f"_b2b_sheet_{p.order}")
            if staged.rejected_rows and not allow_rejects:
                failures.append((p, staged))
                con.execute(f"DROP TABLE {ident(STAGE)}")
                done += 1
                continue
            _tick(progress, f"{p.plan.source}: loading {p.plan.table}", base_frac + 0.5 * 0.7 / n_files)
            load_id = _next_load_id(con)
            rows = _move(con, staged, table, replace_table=(mode == "replace" and n == 0))
            con.execute("INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [load_id, tname, p.plan.source, p.sha256, rows, staged.rejected_rows, mode, loaded_at,
                         _mapping_json(p.plan)])
            if staged.rejected_rows:
                con.execute(f"INSERT INTO load_rejects SELECT ?, ?, ?, rid - {staged.base} + 1, \"column\", "
                            f"\"value\", reason FROM {REJ} ORDER BY rid", [load_id, tname, p.plan.source])
            results.append(LoadResult(p.plan.source, tname, rows, staged.rejected_rows, False,
                                      tuple(staged.rejects), load_id))
            done += 1
        for p in dupes:
            results.append(LoadResult(p.plan.source, tname, 0, 0, True, (), None))
            done += 1
    con.execute(f"DROP TABLE IF EXISTS {REJ}")
    return results, failures


def _people_ref(table: str, first: bool) -> str | None:
    """The reps a people column resolves against: the loaded reps (for reps itself: the new file's rows)."""
    if table == "reps":
        own = f"SELECT rep_id, rep_name FROM {ident(STAGE)}"
        return own if first else f"{own} UNION ALL SELECT rep_id, rep_name FROM reps WHERE rep_id NOT IN " \
                                 f"(SELECT rep_id FROM {ident(STAGE)} WHERE rep_id IS NOT NULL)"
    return "SELECT rep_id, rep_name FROM reps"


def _next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    return int(row[0]) if row else 1


_FIXES = [
    ("is not a date", "write dates as 2024-03-31, 2024/3/31, 2024年3月31日 or 03/31/2024 (one order per column)"),
    ("is negative", "amounts must be zero or more; record refunds and credit notes outside this table"),
    ("is not an amount", "write amounts as 1234.5, 1,234.50, ¥1,234.50 or 1234元"),
    ("repeats row", "each id may appear once per file: remove or merge the repeated rows"),
    ("is not a pipeline stage", "add the stage to [pipeline] stages, or map it in [pipeline] aliases of b2bmetrics.toml"),
    ("is outside", "correct the value to its allowed range"),
    ("sum to", "a deal's split shares must add up to 1 (100%)"),
    ("is empty but required", "fill in the required column"),
    ("is not one of", "use one of the listed values"),
]


def _reject_report(failures: list[tuple[_Planned, _Staged]]) -> B2BError:
    total = sum(s.rejected_rows for _p, s in failures)
    lines = [f"{total} row{'s' if total != 1 else ''} rejected in {len(failures)} file"
             f"{'s' if len(failures) != 1 else ''}; nothing was loaded (the database is unchanged):"]
    shown = 0
    listed = 0
    all_rejects = [(p, r) for p, s in failures for r in s.rejects]
    n_rejects = sum(s.n_rejects for _p, s in failures)
    for p, r in all_rejects:
        if shown >= REPORT_SHOWN:
            break
        value = "" if r.value is None else f" value {r.value!r}:"
        lines.append(f"  {p.plan.source} row {r.row}, column {r.column}:{value} {r.reason}")
        shown += 1
        listed += 1
    if n_rejects > listed:
        lines.append(f"  … and {n_rejects - listed} more")
    reasons = " ".join(r.reason for _p, r in all_rejects)
    fixes = [fix for needle, fix in _FIXES if needle in reasons]
    fix = "; ".join(fixes[:3] + ["then load again, or pass --allow-rejects to load the valid rows "
                                 "and keep the rejects in table load_rejects"])
    return B2BError("\n".join(lines), fix=fix)


# ---- preview ----------------------------------------------------------------------------------------

def preview_rejects(plan: FilePlan, cfg: Config, store: Store | None = None) -> list[Reject]:
    """Every reject the file would produce (at most MAX_REJECTS_KEPT, by row), loading nothing.

    People columns resolve against the reps in `store` (when given).
    """
    inputs = [i for i in _inputs(plan.path, connect_duckdb) if (i.sheet.name if i.sheet else None) == plan.sheet]
    if not inputs:
        raise B2BError(f"{plan.source}: the sheet is no longer in the file", fix="plan the file again")
    inp = inputs[0]
    table = TABLES[plan.table]
    index: dict[str, int] = {}
    for col, header in plan.mapping.items():
        pos = [i for i, h in enumerate(inp.headers) if h == header and i not in index.values()]
        if not pos or col not in table.column_index:
            raise B2BError(f"{plan.source}: the plan maps {col} to header {header!r}, which the file does not have",
                           fix="plan the file again")
        index[col] = pos[0]
    p = _Planned(plan, inp, index)
    con = connect_duckdb()
    try:
        init_schema(con)
        if store is not None and store.exists():
            rcon = store.read_connection()
            try:
                reps = rcon.execute("SELECT * FROM reps").fetchall()
            finally:
                rcon.close()
            if reps:
                marks = ", ".join("?" for _ in TABLES["reps"].columns)
                con.executemany(f"INSERT INTO reps VALUES ({marks})", [list(r) for r in reps])
        with tempfile.TemporaryDirectory(prefix="b2bmetrics-preview-") as tmp:
            _prepare([p], Path(tmp), None)
            staged = _stage(con, p, cfg, _people_ref(plan.table, first=True))
        return staged.rejects
    finally:
        con.close()
