"""One planned file into a staging table, every value checked, the rejects spelled out (CONTRACT §2).

How a file is staged (the bulk path never loops over rows in Python):

1. One SQL pass: `CREATE TABLE <stage> AS SELECT` over DuckDB's CSV reader (all VARCHAR, explicit
   delimiter and quote, strict), a registered Arrow table of the sheet's cells, or a Parquet scan:
   typed canonical columns plus one `_e` column listing a row's bad values (NULL when the row is
   fine; `ingest.parse`). A row's record number is its position in that table (DuckDB keeps insertion
   order, also for multi-threaded reads; tested on a large file).
2. People columns: a value that is a loaded `rep_id` stays; one equal to exactly one loaded
   `rep_name` becomes that rep's id (reps load first in a call, so a call's own reps count).
3. One aggregate counts the rows with bad values, the duplicate keys (on key hashes) and the rows
   breaking a row rule (`schema.Check`). Only when something is wrong are the rejects spelled out
   (`load_rejects` layout: row, column, value, reason); slash dates with a day above 12 make their
   column day-first (the pass runs again), and spellings only NFKC recognises are added to the enum
   tables. `deal_splits` also gets its per-deal share sums checked.

Row numbers are 1-based data records, header excluded; blank lines and fully empty sheet rows are
not records. `reject_report` is the message of a load refused for its rejects; `preview_rejects`
stages a planned file on a scratch database to show its rejects without loading anything.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest.parse import (
    AMBIGUOUS_DATE,
    ERRORS,
    STRICT_ENUMS,
    TRIM_CHARS,
    StageSpec,
    check_sql,
    date_sql,
    decimal_text,
    enum_tables,
    ident,
    lit,
    reason_sql,
    staging_sql,
)
from b2bmetrics.ingest.plan import FilePlan, Planned, first_line, inputs, prepare
from b2bmetrics.ingest.read import MAX_LINE_BYTES, TextLayout, cell_text
from b2bmetrics.schema import TABLES, Column, Table, header_key
from b2bmetrics.store import Store, connect_duckdb, init_schema

__all__ = ["Reject", "preview_rejects"]

MAX_REJECTS_KEPT = 1000  # Reject objects kept per file in LoadResult / previews (load_rejects keeps all)
REPORT_SHOWN = 20
STAGE = "_b2b_stage"
REJ = "_b2b_rejects"


@dataclass(frozen=True)
class Reject:
    """A refused row: 1-based data record number (header excluded), column, raw value, reason."""

    row: int | None
    column: str | None
    value: str | None
    reason: str


@dataclass
class Staged:
    """The staging table of one file after the checks."""

    spec: StageSpec
    total: int
    base: int  # rowid of record 1
    rejected_rows: int
    n_rejects: int = 0  # rejects (a row may have several)
    rejects: list[Reject] = field(default_factory=list)


def _csv_error(described: str, exc: duckdb.Error, layout: TextLayout | None) -> B2BError:
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
        what = f"{where} cannot be read: {first_line(exc).removeprefix('Invalid Input Error: ')}"
        fix = "check the file is a CSV export with one header line"
    return B2BError(f"{described}: {what}", fix=fix)


def _source_sql(con: duckdb.DuckDBPyConnection, p: Planned) -> tuple[str, dict[str, str]]:
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
               f"strict_mode=true, encoding='utf-8', max_line_size={MAX_LINE_BYTES}{newline})")
        return sql, cols
    if inp.fmt == "parquet":
        sel = ", ".join(f"CAST({ident(inp.headers[i])} AS VARCHAR) AS c{i}" for i in p.index.values())
        return f"(SELECT {sel} FROM read_parquet({lit(str(inp.path))}))", cols
    import pyarrow as pa

    assert inp.sheet is not None
    table = TABLES[p.plan.table]
    arrays = {}
    for name, i in p.index.items():
        is_date = name in table.column_index and table.column(name).kind in ("timestamp", "date")
        arrays[f"c{i}"] = pa.array([cell_text(r[i] if i < len(r) else None, is_date) for r in inp.sheet.rows],
                                   type=pa.string())
    view = f"_b2b_sheet_{p.order}"
    con.register(view, pa.table(arrays))
    return ident(view), cols


def _shaped(source_sql: str, cols: dict[str, str], plan: FilePlan, table: Table) -> tuple[str, dict[str, str]]:
    """The source with a mapping's (v2) value maps applied, its constants as columns, and each duration
    turned into the ISO text of the timestamp it gives (`start` + the duration; CONTRACT §2 v2).

    A duration that is not a number becomes its own text with the unit, which the timestamp's
    parse then refuses with that value; a negative one gives a time before `start`, which the row
    rule refuses. Value maps compare the trimmed text exactly; "" means empty."""
    cols = dict(cols)
    changed: list[str] = []
    for name, pairs in plan.values.items():
        if name not in cols or not pairs:
            continue
        src = ident(cols[name])
        whens = " ".join(f"WHEN {lit(k)} THEN {'NULL' if v == '' else lit(v)}" for k, v in pairs.items())
        changed.append(f"CASE trim({src}, {lit(TRIM_CHARS)}) {whens} ELSE {src} END AS {src}")
    added: list[str] = []
    for name, value in plan.constants.items():
        cols[name] = f"k_{name}"
        added.append(f"{'NULL' if value == '' else lit(value)} AS {ident(cols[name])}")
    for d in table.durations:
        if d.name not in cols:
            continue
        src = ident(cols.pop(d.name))
        if d.target in cols or d.start not in cols:
            continue  # the file's own timestamp wins; without a start there is nothing to add to
        text = f"trim({src}, {lit(TRIM_CHARS)})"
        amount = f"TRY_CAST({text} AS DOUBLE)"
        start = date_sql(ident(cols[d.start]), f"trim({ident(cols[d.start])}, {lit(TRIM_CHARS)})")
        unit = "minutes" if d.seconds == 60 else "hours" if d.seconds == 3600 else f"× {d.seconds} s"
        cols[d.target] = f"d_{d.target}"
        added.append(
            f"CASE WHEN {text} = '' OR {src} IS NULL THEN NULL "
            f"WHEN {amount} IS NULL OR NOT isfinite({amount}) THEN {text} || {lit(f' ({d.name}: not a number of {unit})')} "
            f"ELSE strftime({start} + to_microseconds(CAST(round({amount} * {d.seconds * 1_000_000}) AS BIGINT)), "
            f"'%Y-%m-%dT%H:%M:%S.%f') END AS {ident(cols[d.target])}")
    if not (changed or added):
        return source_sql, cols
    replaced = f" REPLACE ({', '.join(changed)})" if changed else ""
    return f"(SELECT *{replaced}{''.join(', ' + a for a in added)} FROM {source_sql})", cols


def _percent_columns(plan: FilePlan, table: Table) -> frozenset[str]:
    """Probability columns whose header says % (`Probability (%)`): their values are percentages."""
    return frozenset(c for c, header in plan.mapping.items()
                     if c in table.column_index and table.column(c).kind == "probability"
                     and ("%" in header or "％" in header or "percent" in header.lower() or "百分比" in header))


def stage(con: duckdb.DuckDBPyConnection, p: Planned, cfg: Config, people_ref: str | None) -> Staged:
    """Create the staging table for one file and run every check; rejects land in the temp table REJ."""
    table = TABLES[p.plan.table]
    source_sql, cols = _shaped(*_source_sql(con, p), p.plan, table)
    spec = StageSpec(table, cfg.pipeline, source_sql, cols, trim=p.trim, percent=_percent_columns(p.plan, table))
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
        raise B2BError(f"{p.plan.described}: has a header but no data rows",
                       fix="export the data again with its rows, or leave the file out")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJ} (rid BIGINT, \"column\" VARCHAR, \"value\" VARCHAR, "
                "reason VARCHAR NOT NULL)")
    for c in spec.error_columns():
        if agg[f"e_{c.name}"]:
            e = spec.error_ref(c)
            con.execute(f"INSERT INTO {REJ} SELECT rowid, {lit(c.name)}, {e}, {reason_sql(c, e, spec)} "
                        f"FROM {ident(STAGE)} WHERE {e} IS NOT NULL")
    for i, check in enumerate(spec.checks()):
        if agg[f"k_{i}"]:
            where, value, reason = check_sql(check, spec)
            con.execute(f"INSERT INTO {REJ} SELECT rowid, {lit(check.column)}, {value}, {reason} "
                        f"FROM {ident(STAGE)} WHERE {where}")
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
    return Staged(spec, total, base, n_rej, n_all, rejects)


def _key_notnull(table: Table) -> str:
    """Rows whose identity can repeat: the required key columns given (an optional one may be empty)."""
    need = [k for k in table.key if table.column(k).required] or list(table.key)
    return " AND ".join(f"{ident(k)} IS NOT NULL" for k in need)


def _build(con: duckdb.DuckDBPyConnection, p: Planned, spec: StageSpec, people_ref: str | None) -> dict[str, Any]:
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
        raise _csv_error(p.plan.described, exc, p.inp.layout) from exc
    con.execute("RESET disabled_optimizers")
    if people_ref is not None:
        _resolve_people(con, spec, people_ref)
    exprs = ["count(*) AS total", "min(rowid) AS base", f"count({ident(ERRORS)}) AS bad_rows"]
    # duplicate keys, counted on the keys' hashes (cheaper than the strings): equal keys hash equal, so
    # 0 proves there are none; a collision only costs the exact query in _duplicate_rejects
    key = spec.table.key
    notnull = _key_notnull(spec.table)
    hashed = f"hash({', '.join(ident(k) for k in key)})"
    exprs.append(f"count(*) FILTER (WHERE {notnull}) - count(DISTINCT {hashed}) FILTER (WHERE {notnull}) AS dups")
    exprs += [f"count(*) FILTER (WHERE {check_sql(k, spec)[0]}) AS k_{i}" for i, k in enumerate(spec.checks())]
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


def people_ref(table: str, first: bool) -> str | None:
    """The reps a people column resolves against: the loaded reps (for reps itself: the new file's rows)."""
    if table == "reps":
        own = f"SELECT rep_id, rep_name FROM {ident(STAGE)}"
        return own if first else f"{own} UNION ALL SELECT rep_id, rep_name FROM reps WHERE rep_id NOT IN " \
                                 f"(SELECT rep_id FROM {ident(STAGE)} WHERE rep_id IS NOT NULL)"
    return "SELECT rep_id, rep_name FROM reps"


def _duplicate_rejects(con: duckdb.DuckDBPyConnection, table: Table, base: int) -> None:
    key = [ident(k) for k in table.key]
    label = ", ".join(table.key)
    value = key[0] if len(key) == 1 else \
        "concat_ws(', ', " + ", ".join(f"coalesce(CAST({k} AS VARCHAR), '')" for k in key) + ")"
    con.execute(
        f"INSERT INTO {REJ} SELECT rid, {lit(label)}, v, {lit(label + ' ')} || '''' || v || ''' repeats row ' || "
        f"(first - {base} + 1) FROM (SELECT rowid AS rid, CAST({value} AS VARCHAR) AS v, "
        f"min(rowid) OVER (PARTITION BY {', '.join(key)}) AS first FROM {ident(STAGE)} "
        f"WHERE {_key_notnull(table)}) WHERE rid <> first")


def _share_sum_rejects(con: duckdb.DuckDBPyConnection) -> None:
    s = ident(STAGE)
    con.execute(
        f"INSERT INTO {REJ} SELECT x.rowid, 'share', {decimal_text('x.share')}, 'shares of deal ''' || x.deal_id || "
        f"''' sum to ' || {decimal_text('round(t.total, 6)')} || ', not 1' FROM {s} x JOIN ("
        f"SELECT deal_id, sum(share) AS total FROM {s} WHERE deal_id IS NOT NULL AND share IS NOT NULL "
        f"AND rowid NOT IN (SELECT rid FROM {REJ}) GROUP BY deal_id HAVING abs(sum(share) - 1) > 0.001) t "
        f"ON x.deal_id = t.deal_id WHERE x.rowid NOT IN (SELECT rid FROM {REJ})")


# ---- the report of a refused load -------------------------------------------------------------------

_FIXES = [
    ("is not a date", "write dates as 2024-03-31, 2024/3/31, 2024年3月31日 or 03/31/2024 (one order per column)"),
    ("is negative", "amounts must be zero or more; record refunds and credit notes outside this table"),
    ("is not an amount", "write amounts as 1234.5, 1,234.50, ¥1,234.50 or 1234元"),
    ("is too large", "an amount must be below 100,000,000,000,000 (10^14): check that the column holds "
                     "amounts in the dataset currency, not ids or numbers in another unit"),
    ("repeats row", "each id may appear once per file: remove or merge the repeated rows"),
    ("is not a pipeline stage", "add the stage to [pipeline] stages, or map it in [pipeline] aliases of b2bmetrics.toml"),
    ("is outside", "correct the value to its allowed range"),
    ("sum to", "a deal's split shares must add up to 1 (100%)"),
    ("is empty but required", "fill in the required column"),
    ("is not one of", "use one of the listed values"),
    ("is before opened_at", "a ticket is answered and resolved after it is opened: correct the times"),
    ("is before start_date", "a contract ends after it starts: correct the dates (leave end_date empty if ongoing)"),
    ("is before 2000-01-01", "correct the payment date (an empty date is written as an empty cell)"),
    ("is more than amount_due", "an installment is paid at most its amount due: correct the amounts, or record "
                                "the surplus as a receipt of its own (no due date, no amount due)"),
    ("come together", "give due_date with amount_due and paid_at with amount_paid, or leave both of a pair empty"),
    ("is not the first day of a month", "a target period starts on the first day of a month"),
    ("Excel rewrote", "export the file from the CRM again and load it without saving it in Excel (or import it "
                      "in Excel with Data > From Text/CSV, id columns as Text)"),
]


def reject_report(failures: list[tuple[Planned, Staged]]) -> B2BError:
    """The message of a load refused for its rejected rows: the first REPORT_SHOWN, each file with its table."""
    total = sum(s.rejected_rows for _p, s in failures)
    lines = [f"{total} row{'s' if total != 1 else ''} rejected in {len(failures)} file"
             f"{'s' if len(failures) != 1 else ''}; nothing was loaded (the database is unchanged):"]
    shown = 0
    listed = 0
    n_rejects = sum(s.n_rejects for _p, s in failures)
    for p, s in failures:
        if shown >= REPORT_SHOWN:
            break
        lines.append(f"  {p.plan.described}: {s.rejected_rows} row{'s' if s.rejected_rows != 1 else ''} rejected")
        for r in s.rejects:
            if shown >= REPORT_SHOWN:
                break
            value = "" if r.value is None else f" value {r.value!r}:"
            lines.append(f"    {p.plan.source} row {r.row}, column {r.column}:{value} {r.reason}")
            shown += 1
            listed += 1
    if n_rejects > listed:
        lines.append(f"  … and {n_rejects - listed} more")
    reasons = " ".join(r.reason for _p, s in failures for r in s.rejects)
    fixes = [fix for needle, fix in _FIXES if needle in reasons]
    fix = "; ".join(fixes[:3] + ["then load again, or pass --allow-rejects to load the valid rows "
                                 "and keep the rejects in table load_rejects"])
    return B2BError("\n".join(lines), fix=fix)


# ---- preview -----------------------------------------------------------------------------------------

def preview_rejects(plan: FilePlan, cfg: Config, store: Store | None = None) -> list[Reject]:
    """Every reject the file would produce (at most MAX_REJECTS_KEPT, by row), loading nothing.

    People columns resolve against the reps in `store` (when given).
    """
    parts = [i for i in inputs(plan.path, connect_duckdb) if (i.sheet.name if i.sheet else None) == plan.sheet]
    if not parts:
        raise B2BError(f"{plan.described}: the sheet is no longer in the file", fix="plan the file again")
    inp = parts[0]
    table = TABLES[plan.table]
    index: dict[str, int] = {}
    for col, header in plan.mapping.items():
        pos = [i for i, h in enumerate(inp.headers) if h == header and i not in index.values()]
        if not pos or not table.mappable(col):
            raise B2BError(f"{plan.described}: the plan maps {col} to header {header!r}, which the file does not have",
                           fix="plan the file again")
        index[col] = pos[0]
    p = Planned(plan, inp, index)
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
            prepare([p], Path(tmp), None)
            staged = stage(con, p, cfg, people_ref(plan.table, first=True))
        return staged.rejects
    finally:
        con.close()
