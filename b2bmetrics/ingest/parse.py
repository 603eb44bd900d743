"""SQL that parses and checks every value of a file in one pass (CONTRACT §1, §2 "Values").

`staging_sql` builds one `CREATE TABLE ... AS SELECT` over an all-VARCHAR source (DuckDB's CSV
reader, a registered Arrow table, or a Parquet scan). Each canonical column comes out typed, plus
one column `_e`: NULL for a row whose values are all fine, else a list with one entry per column
that can be wrong (`StageSpec.error_columns`), holding the raw text of each bad value ('' for an
empty required cell) and NULL for the good ones. A count of `_e` tells whether anything was
rejected; `reason_sql` turns a bad value back into the sentence a user reads, only for the rows
that need one. (One mostly-NULL column costs less to write than one per column.)

Values, per `schema.Column.kind`:

* id, text, person: trimmed (spaces, tabs, NBSP, ideographic space, BOM); empty is NULL. (Line
  breaks at the edge of a quoted value are kept.)
* timestamp, date: ISO (`2024-03-31`, `2024-03-31T10:00[:00]`), `2024/3/31`, `2024.3.31`,
  `2024年3月31日` (each with an optional time), `03/31/2024 [14:05]` or `31/03/2024` (also with
  `.` or `-`), 12-hour times with AM/PM, and month names (`Mar 31, 2024`, `31 Mar 2024`). The
  column settles the order of `NN/NN/YYYY`: month-first (US exports) unless some value in the same
  column has a first part above 12 and a second part of at most 12; then the whole column is read
  day-first (the caller re-runs the pass with `date_order[col] = "dmy"`), and a value that only
  makes sense month-first is refused. Years outside 1900–2199 are refused. (v2) What exports write
  for "never" is empty: the times 1900-01-01 00:00 and 1970-01-01 00:00 (in any accepted format)
  and `0000-00-00` with or without a time (`SENTINEL_TIMES`, `ZERO_DATE`). Workbook cells arrive as
  ISO text (Excel serial numbers in date columns are converted on reading).
* money: `1234.5`, `1,234.50`, `¥1,234.50`, `￥`, `$1,234`, `1234元`, `12.5万` (×10,000),
  `CNY 1,234`, `RMB`, `USD`, scientific notation; `(1,234)` reads as negative. Negative, NaN and
  infinite amounts are refused. Commas must be thousands separators (`1,5` is refused, not 15).
  Currency symbols and codes are dropped, not converted: a dataset has one currency
  (`[data] currency`). Amounts are exact decimals, DECIMAL(18,4): the text is cast to a decimal,
  never through a binary float (`12.5万` is 12.5 × 10,000 in decimals); more than 4 decimal places
  (`1234.5600000001`, a workbook float's artefact) are rounded half away from zero to 4; an amount
  of 10^14 or more is refused as too large.
* share: `0.6` or `60%`, exact, DECIMAL(12,10) (more than 10 decimal places are rounded); must be in
  (0, 1]. score: a number within its row's survey kind's scale.
* probability: `0.35`, `35%` or `35` (a value above 1 is a percentage), all read as 0.35; in a column
  whose header says % (`Probability (%)`) every value is a percentage (`1` = 1 %). Must be in [0, 1].
* stage: the pipeline's stages, lost stage and aliases, case-, space- and punctuation-insensitive.
* status, role, survey kind, forecast category, target level / period / basis: their alias tables
  (compared after `schema.header_key`: case-, space- and underscore-insensitive); anything else is
  refused. An empty status is derived from the stage (won stage -> won, lost stage -> lost, else
  open); an empty role is sales. A forecast category of `Closed`, `Closed Won` or `Closed Lost` is
  read as empty (a closed deal has none), `Omit` as omitted.
* an open deal's close date (`OPEN_DEAL_CLOSE`): an export's close date of a deal that is open is
  its expected close date; it is stored in `expected_close_at` (unless the file gives that too) and
  `closed_at` is left empty.

Rules between the values of a row (`schema.Check`: a ticket answered before it was opened, more paid
than due, half a pair of due/paid columns, ...) are `check_sql`: a condition over the typed columns
and the sentence for a row that breaks it.
* channel, activity kind, activity channel: their alias tables, other values kept lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from b2bmetrics.config import Pipeline
from b2bmetrics.schema import ENUM_ALIASES, SQL_TYPE, STRICT_ENUMS, SURVEY_SCALES, Check, Column, Table

TRIM_CHARS = " \t\r\n\u00a0\u3000\ufeff"
YEAR_MIN, YEAR_MAX = 1900, 2199
# (v2) what helpdesk and ERP exports write for "never": empty, not a date (CONTRACT §2 "Dates")
SENTINEL_TIMES = ("1900-01-01 00:00:00", "1970-01-01 00:00:00")
ZERO_DATE = "0000-00-00"  # MySQL's zero date, with or without a time
PARSED_KINDS = {"timestamp", "date", "money", "share", "score", "probability", "stage", "channel", "activity_kind",
                "activity_channel"} | STRICT_ENUMS
CHECKED_KINDS = {"timestamp", "date", "money", "share", "score", "probability", "stage", "id", "person"} | STRICT_ENUMS
# an id Excel rewrote in scientific notation (`1.03006E+13`): its digits are lost, distinct ids merge
EXCEL_ID = r"[0-9](\.[0-9]+)?[eE]\+[0-9]+"
_EXCEL_ID_REASON = " is a number Excel rewrote in scientific notation: its digits are lost, so distinct ids would merge"
# (closed_at, expected_close_at): an export's close date of an open deal is its expected close date (CONTRACT §2 v2)
OPEN_DEAL_CLOSE = ("closed_at", "expected_close_at")
AMBIGUOUS_DATE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"
ERRORS = "_e"  # the staging column holding a row's bad values

_AMPM = ["{md} %I:%M %p", "{md} %I:%M:%S %p", "%Y-%m-%d %I:%M %p", "%Y-%m-%d %I:%M:%S %p",
         "%Y/%m/%d %I:%M %p", "%Y/%m/%d %I:%M:%S %p", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y",
         "%d-%b-%Y", "%b %d %Y", "%B %d %Y"]


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_key(v: str) -> str:
    """SQL twin of schema.header_key (minus NFKC, which the caller's Python fallback covers)."""
    return rf"regexp_replace(lower({v}), '[^\p{{L}}\p{{N}}]+', '', 'g')"


def trim_sql(v: str, mode: str) -> str:
    """`v` without whitespace at its edges: TRIM_CHARS ("all"), spaces ("space"), or untouched ("none").

    trim() copies every string it touches (2-5x the cost of reading the column); the prefix/suffix
    tests cost next to nothing, so only values that really have whitespace at an edge are trimmed.
    """
    if mode == "none":
        return v
    chars = " " if mode == "space" else TRIM_CHARS
    edge = " OR ".join(f"prefix({v}, {lit(c)}) OR suffix({v}, {lit(c)})" for c in chars)
    trimmed = f"trim({v})" if mode == "space" else f"trim({v}, {lit(TRIM_CHARS)})"
    return f"(CASE WHEN {edge} THEN {trimmed} ELSE {v} END)"


def date_sql(r: str, t: str, order: str = "mdy") -> str:
    """TIMESTAMP from raw text `r` (trimmed: `t`), NULL when no accepted format fits (years unbounded).

    The ISO cast on the raw text comes first; the other formats are tried only where it fails.
    """
    swap = r"\3-\2-\1" if order == "dmy" else r"\3-\1-\2"
    md = "%d/%m/%Y" if order == "dmy" else "%m/%d/%Y"
    formats = ", ".join(lit(f.format(md=md)) for f in _AMPM)
    return (
        f"COALESCE(TRY_CAST({r} AS TIMESTAMP), TRY_CAST({t} AS TIMESTAMP), "
        rf"TRY_CAST(trim(regexp_replace({t}, '^(\d{{4}})\s*[/.年]\s*(\d{{1,2}})\s*[/.月]\s*(\d{{1,2}})(?:\s*日)?[\sT]*', "
        r"'\1-\2-\3 ')) AS TIMESTAMP), "
        f"TRY_CAST(trim(regexp_replace({t}, '{AMBIGUOUS_DATE}[\\sT]*', '{swap} ')) AS TIMESTAMP), "
        f"try_strptime({t}, [{formats}]))"
    )


MONEY_TYPE = SQL_TYPE["money"]  # DECIMAL(18,4): 4 decimal places, below 10^14
SHARE_TYPE = SQL_TYPE["share"]  # DECIMAL(12,10)
MONEY_LIMIT = 10**14  # the first amount DECIMAL(18,4) cannot hold
# the amount read from its text before it is rounded to 4 places: 22 digits before the point, so an
# amount in 万 (x 10,000) still fits 38 digits; a value beyond it is refused, never overflows
_MONEY_WIDE = "DECIMAL(32,10)"
_SHARE_WIDE = "DECIMAL(18,10)"


def _money_text(t: str) -> str:
    """The digits of an amount (trimmed text `t`): brackets as a minus, currency marks and 万 dropped,
    thousands separators removed (NULL when a comma is not one)."""
    s1 = rf"regexp_replace({t}, '^\(\s*(.*?)\s*\)$', '-\1')"
    s2 = rf"regexp_replace({s1}, '^([-+]?)\s*(?:[¥￥$€£]|CNY|RMB|USD|EUR|HKD)\s*', '\1', 'i')"
    s3 = rf"regexp_replace({s2}, '\s*(?:万元|万|元|CNY|RMB|USD|EUR|HKD)$', '', 'i')"
    s4 = (r"CASE WHEN contains(s, ',') THEN CASE WHEN regexp_full_match(s, '[-+]?\d{1,3}(,\d{3})+(\.\d*)?') "
          r"THEN replace(s, ',', '') END ELSE s END")
    return f"list_transform([{s3}], lambda s: {s4})[1]"


def _wan(t: str) -> str:
    return rf"regexp_matches({t}, '万元?$')"


def money_sql(r: str, t: str) -> str:
    """DECIMAL(18,4) from an amount's text, exactly (sign kept; the checks refuse negatives); NULL when
    unreadable or too large (|amount| >= 10^14).

    Never through DOUBLE: the text is cast to a decimal, and more than 4 decimal places (an XLSX
    cell's float artefact `1234.5600000001`) are rounded half away from zero. `12.5万` is the decimal
    12.5 times 10,000, rounded to 4 places after the multiplication.
    """
    wide = f"TRY_CAST({_money_text(t)} AS {_MONEY_WIDE})"
    slow = f"TRY_CAST(CASE WHEN {_wan(t)} THEN {wide} * 10000 ELSE {wide} END AS {MONEY_TYPE})"
    return f"COALESCE(TRY_CAST({r} AS {MONEY_TYPE}), {slow})"


def money_double_sql(t: str) -> str:
    """The amount as a DOUBLE, only to say why a refused value is wrong (negative, too large)."""
    double = f"TRY_CAST({_money_text(t)} AS DOUBLE)"
    return f"CASE WHEN {_wan(t)} THEN {double} * 10000 ELSE {double} END"


def share_sql(r: str, t: str) -> str:
    """DECIMAL(18,10) from `0.6` or `60%`, exactly (the output casts a share in (0, 1] to DECIMAL(12,10));
    NULL when unreadable."""
    pct = f"TRY_CAST(trim(rtrim({t}, '%')) AS {_SHARE_WIDE}) * 0.01"
    return (f"COALESCE(TRY_CAST({r} AS {_SHARE_WIDE}), CASE WHEN ends_with({t}, '%') "
            f"THEN TRY_CAST({pct} AS {_SHARE_WIDE}) END)")


def probability_sql(r: str, t: str, percent: bool) -> str:
    """A fraction 0-1 from `0.35`, `35%` or `35` (above 1: a percentage); in a % column every value is one."""
    pct = f"TRY_CAST(trim(rtrim({t}, '%')) AS DOUBLE) / 100"
    if percent:
        return pct
    x = f"COALESCE(TRY_CAST({r} AS DOUBLE), TRY_CAST({t} AS DOUBLE))"
    return f"CASE WHEN ends_with({t}, '%') THEN {pct} WHEN {x} > 1 THEN {x} / 100 ELSE {x} END"


def enum_sql(r: str, t: str, exact: dict[str, str], keyed: dict[str, str], keep_lower: bool) -> str:
    """The canonical value by exact spelling, then by normalised key; NULL (or the lower-cased text) otherwise."""
    first = " ".join(f"WHEN {lit(k)} THEN {lit(val)}" for k, val in exact.items())
    second = " ".join(f"WHEN {lit(k)} THEN {lit(val)}" for k, val in keyed.items())
    parts = [f"CASE {r} {first} END" if first else "NULL", f"CASE {sql_key(r)} {second} END" if second else "NULL"]
    if keep_lower:
        parts.append(f"nullif(lower({t}), '')")
    return f"COALESCE({', '.join(parts)})"


def enum_tables(kind: str, pipeline: Pipeline) -> tuple[dict[str, str], dict[str, str]]:
    """(exact spellings, normalised keys) -> canonical value, for an enum-like kind."""
    if kind == "stage":
        exact = {s: s for s in (*pipeline.stages, pipeline.lost_stage)}
        exact.update(pipeline.aliases)
        return exact, pipeline.stage_lookup()
    aliases = ENUM_ALIASES[kind]
    return dict(aliases), dict(aliases)


def allowed_values(kind: str, pipeline: Pipeline) -> list[str]:
    if kind == "stage":
        return [*pipeline.stages, pipeline.lost_stage]
    return sorted(set(ENUM_ALIASES[kind].values()) - {""})


@dataclass(frozen=True)
class StageSpec:
    """What one staging pass reads: the table, its source and where each canonical column comes from."""

    table: Table
    pipeline: Pipeline
    source_sql: str  # a FROM item yielding VARCHAR columns
    columns: dict[str, str]  # canonical column -> column name in the source
    date_order: dict[str, str] = field(default_factory=dict)  # canonical date column -> "mdy" | "dmy"
    # further exact spellings per enum column (raw -> canonical): those only NFKC normalisation recognises
    extra: dict[str, dict[str, str]] = field(default_factory=dict)
    # "all": trim TRIM_CHARS (slow); "space": trim spaces; "none": the file has no whitespace that
    # could sit at a value's edge (ingest.read.stream_utf8 looked), so nothing is trimmed
    trim: str = "all"
    # probability columns whose header says % (`Probability (%)`): every value is a percentage
    percent: frozenset[str] = frozenset()

    def present(self, col: Column) -> bool:
        return col.name in self.columns

    def error_columns(self) -> list[Column]:
        """Columns with an entry in `_e`: the present ones that are required or can be misread."""
        return [c for c in self.table.columns if self.present(c) and (c.required or c.kind in CHECKED_KINDS)]

    def error_ref(self, col: Column) -> str:
        """SQL for the raw text of `col`'s bad value in a staged row (NULL when fine)."""
        return f"{ident(ERRORS)}[{[c.name for c in self.error_columns()].index(col.name) + 1}]"

    def date_columns(self) -> list[Column]:
        return [c for c in self.table.columns if self.present(c) and c.kind in ("timestamp", "date")]

    def checks(self) -> list[Check]:
        """The table's row rules that apply to this file (those whose columns it has)."""
        return [k for k in self.table.checks
                if (k.rule == "together" and k.other in self.columns)
                or (self.present(self.table.column(k.column)) and (k.other is None or k.other in self.columns))]


def parse_sql(col: Column, r: str, spec: StageSpec, trim: str | None = None) -> str:
    """The parsed value of raw text `r` for `col` (before range checks)."""
    kind = col.kind
    t = trim_sql(r, trim or spec.trim)
    if kind in ("timestamp", "date"):
        return date_sql(r, t, spec.date_order.get(col.name, "mdy"))
    if kind == "money":
        return money_sql(r, t)
    if kind == "share":
        return share_sql(r, t)
    if kind == "probability":
        return probability_sql(r, t, col.name in spec.percent)
    if kind == "score":
        return f"COALESCE(TRY_CAST({r} AS DOUBLE), TRY_CAST({t} AS DOUBLE))"
    if kind in ("stage", *ENUM_ALIASES):
        exact, keyed = enum_tables(kind, spec.pipeline)
        exact = {**exact, **spec.extra.get(col.name, {})}
        return enum_sql(r, t, exact, keyed, keep_lower=kind not in STRICT_ENUMS and kind != "stage")
    return r


def _sentinel(p: str) -> str:
    """True when the parsed time `p` is one written for "never" (NULL-safe: false for NULL)."""
    return f"coalesce({p} IN ({', '.join(f'TIMESTAMP {lit(v)}' for v in SENTINEL_TIMES)}), false)"


def _in_range(p: str) -> str:
    return f"year({p}) BETWEEN {YEAR_MIN} AND {YEAR_MAX}"


def _scale_ok(score: str, kind: str) -> str:
    cases = " ".join(f"WHEN {lit(k)} THEN {score} BETWEEN {lo} AND {hi}" for k, (lo, hi) in SURVEY_SCALES.items())
    return f"(CASE {kind} {cases} ELSE true END)"


def bad_sql(col: Column, p: str, spec: StageSpec) -> str:
    """True when a present, non-empty raw value parsed to `p` must be refused."""
    kind = col.kind
    if kind in ("timestamp", "date"):
        return f"({p} IS NULL OR NOT ({_in_range(p)}))"
    if kind == "money":
        return f"({p} IS NULL OR {p} < 0)"
    if kind == "share":
        return f"({p} IS NULL OR NOT ({p} > 0 AND {p} <= 1))"
    if kind == "probability":
        return f"({p} IS NULL OR NOT isfinite({p}) OR NOT ({p} >= 0 AND {p} <= 1))"
    if kind == "score":
        kind_col = ident("p_kind") if "kind" in spec.columns else "NULL"
        return f"({p} IS NULL OR NOT isfinite({p}) OR NOT {_scale_ok(p, kind_col)})"
    if kind == "stage" or kind in STRICT_ENUMS:
        return f"({p} IS NULL)"
    return "false"


def _trimmed_kind(col: Column) -> bool:
    """Kinds whose raw text is trimmed up front (the parsed kinds trim only where their fast path fails)."""
    return col.kind not in PARSED_KINDS


def staging_sql(spec: StageSpec, target: str) -> str:
    """`CREATE TABLE target AS SELECT` typed canonical columns plus the `_e` list, in source order."""
    table = spec.table
    raw_parts = []
    for name, src in spec.columns.items():
        v = f"CAST({ident(src)} AS VARCHAR)"
        if _trimmed_kind(table.column(name)):
            v = f"nullif({trim_sql(v, spec.trim)}, '')"
        # parsed kinds keep '' and blanks: they fail the fast path and count as empty there
        raw_parts.append(f"{v} AS {ident('r_' + name)}")
    parsed = ["*"] + [f"{parse_sql(c, ident('r_' + c.name), spec)} AS {ident('p_' + c.name)}"
                      for c in table.columns if spec.present(c) and c.kind in PARSED_KINDS]
    won, lost = lit(spec.pipeline.won_stage), lit(spec.pipeline.lost_stage)
    derived_status = (f"CASE {ident('p_stage')} WHEN {won} THEN 'won' WHEN {lost} THEN 'lost' ELSE 'open' END"
                      if "stage" in spec.columns else "NULL")
    out: list[str] = []
    for c in table.columns:
        r, p = ident("r_" + c.name), ident("p_" + c.name)
        blank = f"({r} IS NULL OR {trim_sql(r, spec.trim)} = '')"
        if not spec.present(c):
            expr = derived_status if c.kind == "status" else "'sales'" if c.kind == "role" else "NULL"
        elif c.kind in ("timestamp", "date"):
            expr = f"CASE WHEN {_in_range(p)} AND NOT {_sentinel(p)} THEN {p} END"
        elif c.kind == "status":
            expr = f"COALESCE({p}, CASE WHEN {blank} THEN {derived_status} END)"
        elif c.kind == "role":
            expr = f"COALESCE({p}, CASE WHEN {blank} THEN 'sales' END)"
        elif c.kind == "forecast_category":
            expr = f"nullif({p}, '')"  # Closed / Closed Won / Closed Lost: empty
        elif c.kind == "share":
            expr = f"CASE WHEN {p} > 0 AND {p} <= 1 THEN {p} END"  # a refused share may not fit DECIMAL(12,10)
        elif c.kind in PARSED_KINDS:
            expr = p
        else:
            expr = r
        out.append(f"CAST({expr} AS {c.sql_type}) AS {ident(c.name)}")
    errors = []
    for c in spec.error_columns():
        r, p = ident("r_" + c.name), ident("p_" + c.name)
        empty = "''" if c.required else "NULL"
        if c.kind in ("timestamp", "date"):
            # a cell of only whitespace, or a sentinel for "never", is empty, not wrong
            t = trim_sql(r, spec.trim)
            blank = f"({t} = '' OR prefix({t}, {lit(ZERO_DATE)}) OR {_sentinel(p)})"
            errors.append(f"CASE WHEN {r} IS NULL OR {blank} THEN {empty} WHEN {bad_sql(c, p, spec)} THEN {r} END")
        elif c.kind in PARSED_KINDS:
            # a cell of only whitespace is empty, not wrong
            bad = f"CASE WHEN {trim_sql(r, spec.trim)} = '' THEN {empty} ELSE {r} END"
            errors.append(f"CASE WHEN {r} IS NULL THEN {empty} WHEN {bad_sql(c, p, spec)} THEN {bad} END")
        elif c.kind in ("id", "person"):
            errors.append(f"CASE WHEN {r} IS NULL THEN {empty} "
                          f"WHEN strpos({r}, '+') > 0 AND regexp_full_match({r}, '{EXCEL_ID}') THEN {r} END")
        else:
            errors.append(f"CASE WHEN {r} IS NULL THEN {empty} END")
    # the list is built only for the rare bad rows; the test runs on every row
    any_bad = " OR ".join(f"({e}) IS NOT NULL" for e in errors)
    out.append(f"CASE WHEN {any_bad} THEN [{', '.join(errors)}] END AS {ident(ERRORS)}")
    select = (f"SELECT {', '.join(out)} FROM "
              f"(SELECT {', '.join(parsed)} FROM (SELECT {', '.join(raw_parts)} FROM {spec.source_sql}))")
    closed, expected = OPEN_DEAL_CLOSE
    if closed in spec.columns and {"status", expected} <= set(table.column_names):
        cl, ex = ident(closed), ident(expected)
        select = (f"SELECT * REPLACE (CASE WHEN status = 'open' THEN NULL ELSE {cl} END AS {cl}, "
                  f"CASE WHEN status = 'open' THEN coalesce({ex}, {cl}) ELSE {ex} END AS {ex}) FROM ({select})")
    return f"CREATE TABLE {ident(target)} AS {select}"


_QUOTE = lit("'")  # a SQL literal holding one single quote


def reason_sql(col: Column, v: str, spec: StageSpec) -> str:
    """The sentence for a refused raw value `v` of `col` (v = '' means an empty required cell)."""
    name = col.name
    q = f"{_QUOTE} || {v} || {_QUOTE}"
    empty = f"WHEN {v} = '' THEN {lit(name + ' is empty but required')}"
    kind = col.kind
    p = parse_sql(col, v, spec, trim="all")
    if kind in ("timestamp", "date"):
        dayfirst = ""
        if spec.date_order.get(name) == "dmy":
            dayfirst = (f"WHEN regexp_matches({trim_sql(v, 'all')}, '{AMBIGUOUS_DATE}') THEN {lit(name + ' ')} || {q} || "
                        f"' is not a date (this column is read day-first, DD/MM/YYYY, because other values have a day above 12)'")
        return (f"CASE {empty} {dayfirst} WHEN {p} IS NOT NULL THEN {lit(name + ' ')} || {q} || "
                f"' is outside the years {YEAR_MIN}–{YEAR_MAX}' ELSE {lit(name + ' ')} || {q} || ' is not a date' END")
    if kind == "money":
        d = money_double_sql(trim_sql(v, "all"))
        return (f"CASE {empty} WHEN {p} < 0 OR (isfinite({d}) AND {d} < 0) THEN {lit(name + ' ')} || {v} || ' is negative' "
                f"WHEN {p} IS NULL AND isfinite({d}) AND {d} >= {MONEY_LIMIT} THEN {lit(name + ' ')} || {q} || "
                f"' is too large (amounts are kept exactly to 4 decimal places, below 100,000,000,000,000)' "
                f"ELSE {lit(name + ' ')} || {q} || ' is not an amount' END")
    if kind == "share":
        return (f"CASE {empty} WHEN {p} IS NULL THEN {lit(name + ' ')} || {q} || ' is not a number' "
                f"ELSE {lit(name + ' ')} || {v} || ' is outside (0, 1]' END")
    if kind == "probability":
        scale = "0–100 %" if name in spec.percent else "0–1 (or 0–100 %)"
        return (f"CASE {empty} WHEN {p} IS NULL OR NOT isfinite({p}) THEN {lit(name + ' ')} || {q} || ' is not a number' "
                f"ELSE {lit(name + ' ')} || {v} || {lit(' is outside ' + scale)} END")
    if kind == "score":
        kind_col = ident("kind") if "kind" in spec.columns else "NULL"
        scales = " ".join(f"WHEN {lit(k)} THEN '{lo}–{hi}'" for k, (lo, hi) in SURVEY_SCALES.items())
        return (f"CASE {empty} WHEN {p} IS NULL OR NOT isfinite({p}) THEN {lit(name + ' ')} || {q} || ' is not a number' "
                f"ELSE coalesce({kind_col}, 'survey') || ' ' || {lit(name + ' ')} || {v} || ' is outside ' || "
                f"coalesce(CASE {kind_col} {scales} END, 'its scale') END")
    if kind == "stage":
        return f"CASE {empty} ELSE 'stage ' || {q} || ' is not a pipeline stage or alias' END"
    if kind in STRICT_ENUMS:
        allowed = ", ".join(allowed_values(kind, spec.pipeline))
        return f"CASE {empty} ELSE {lit(name + ' ')} || {q} || {lit(' is not one of ' + allowed)} END"
    if kind in ("id", "person"):
        return (f"CASE {empty} WHEN regexp_full_match({v}, '{EXCEL_ID}') THEN {lit(name + ' ')} || {q} || "
                f"{lit(_EXCEL_ID_REASON)} ELSE {lit(name + ' ')} || {q} || ' is not valid' END")
    return f"CASE {empty} ELSE {lit(name + ' ')} || {q} || ' is not valid' END"


def decimal_text(v: str) -> str:
    """A DECIMAL as text without trailing zeros, as the JSON prints money (11198.5100 -> '11198.51',
    1000.0000 -> '1000.0')."""
    return rf"regexp_replace(regexp_replace(CAST({v} AS VARCHAR), '(\.\d*?)0+$', '\1'), '\.$', '.0')"


def _shown(col: Column, v: str) -> str:
    """A typed value as a user reads it: dates without a midnight time, amounts as numbers."""
    if col.kind in ("timestamp", "date"):
        return f"regexp_replace(CAST({v} AS VARCHAR), ' 00:00:00$', '')"
    if col.kind in ("money", "share"):
        return decimal_text(v)
    return f"CAST({v} AS VARCHAR)"


def check_sql(check: Check, spec: StageSpec) -> tuple[str, str, str]:
    """(condition, value, reason) over the typed columns of a staged row for a row rule: the row breaks
    the rule where the condition holds; value and reason are what the reject shows."""
    table = spec.table
    col = table.column(check.column)
    c = ident(check.column)
    name = check.column
    if check.rule == "together":
        assert check.other is not None
        o = ident(check.other)
        # a value that is there but wrong was rejected for itself; only a really empty cell counts here
        own_error = f" AND {spec.error_ref(col)} IS NULL" if col in spec.error_columns() else ""
        own = f"{c} IS NULL{own_error}" if spec.present(col) else "true"
        reason = (f"{name} is empty but {check.other} is given ({name} and {check.other} come together "
                  "or not at all)")
        return f"{own} AND {o} IS NOT NULL", "NULL", lit(reason)
    value = _shown(col, c)
    if check.rule in ("not_before", "at_most"):
        assert check.other is not None
        other = table.column(check.other)
        o = ident(check.other)
        op, words = ("<", "is before") if check.rule == "not_before" else (">", "is more than")
        reason = (f"{lit(name + ' ')} || {value} || {lit(f' {words} {check.other} ')} || {_shown(other, o)}")
        return f"{c} {op} {o}", value, reason
    if check.rule == "not_before_day":
        assert check.day is not None
        day = check.day.isoformat()
        return (f"{c} < DATE {lit(day)}", value,
                f"{lit(name + ' ')} || {value} || {lit(f' is before {day}')}")
    if check.rule == "first_of_month":
        return f"day({c}) <> 1", value, f"{lit(name + ' ')} || {value} || ' is not the first day of a month'"
    if check.rule == "unless_empty":
        assert check.other is not None and check.value is not None
        o = ident(check.other)
        return (f"{c} IS NULL AND {o} IS NOT NULL AND {o} <> {lit(check.value)}", "NULL",
                f"{lit(name + ' is empty but required for ' + check.other + ' ')} || {o} || "
                f"{lit(f' (it is empty only for {check.value})')}")
    raise AssertionError(f"unknown check rule {check.rule}")  # pragma: no cover - schema.CheckRule lists them
