"""What each file of a load is, decided before anything is loaded (CONTRACT §2).

`plan_files` says what each file (or XLSX sheet) will load as: its table and why, its encoding and
delimiter, and which header feeds which canonical column. The table comes from `--table` (or a
mapping file's `table`), else the sheet or file name, else the headers, never a guess
(`ingest.map.tables_from_headers`): a file the headers leave ambiguous is refused with the
candidate tables. Every message about a planned file names the table it was taken for
(`FilePlan.described`).

`prepare` then hashes every file and transcodes text that is not UTF-8 to a UTF-8 copy, before
any lock is taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest.map import (
    Mapping,
    load_mapping_file,
    map_headers,
    table_from_name,
    tables_from_headers,
)
from b2bmetrics.ingest.parse import lit
from b2bmetrics.ingest.read import (
    NotUtf8,
    Sheet,
    Streamed,
    TextLayout,
    file_sha256,
    iter_data_files,
    line_at,
    read_workbook,
    records,
    sniff_format,
    stream_utf8,
    text_layout,
)
from b2bmetrics.schema import TABLES
from b2bmetrics.store import connect_duckdb

__all__ = ["FilePlan", "plan_files"]

Progress = Callable[[str, float], None]

# FilePlan.table_reason -> how a message says it
_HOW = {"--table": "as --table says", "mapping file": "as the mapping file says", "file name": "from its file name",
        "sheet name": "from its sheet name", "header fingerprint": "from its headers"}


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
    mapping: dict[str, str]  # canonical column (or a duration, schema.Duration) -> header in the file
    unmapped_headers: tuple[str, ...]
    rows: int | None
    constants: dict[str, str] = field(default_factory=dict)  # (v2) column -> the value of every row
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # (v2) column -> file value -> value

    @property
    def described(self) -> str:
        """The source and the table it was taken for, as every message about the file names them."""
        return describe(self.source, self.table, self.table_reason)


def describe(source: str, table: str, reason: str) -> str:
    return f"{source} (table {table}, {_HOW.get(reason, reason)})"


@dataclass
class Input:
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
class Planned:
    """A planned input on its way through a load: the plan, where its values are, and what reading found."""

    plan: FilePlan
    inp: Input
    index: dict[str, int]  # canonical column -> header position
    sha256: str = ""
    read_path: Path | None = None  # UTF-8 text DuckDB reads (the file itself or a transcoded copy)
    trim: str = "all"  # how much trimming the values need: "none", "space", "all" (ingest.read.Streamed)
    order: int = 0


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def with_table(exc: B2BError, source: str, table: str, reason: str) -> B2BError:
    """`exc` (a message about `source`) saying which table the file was taken for."""
    text = str(exc)
    if exc.fix and text.endswith(f"\n  fix: {exc.fix}"):
        text = text[: -len(f"\n  fix: {exc.fix}")]
    prefix = f"{source}: "
    told = describe(source, table, reason)
    text = told + ": " + text[len(prefix):] if text.startswith(prefix) else f"{text} ({told})"
    return B2BError(text, fix=exc.fix)


def inputs(path: Path, con_factory: Callable[[], duckdb.DuckDBPyConnection]) -> list[Input]:
    """The table-shaped parts of a file: itself, or each sheet of a workbook."""
    fmt = sniff_format(path)
    if fmt == "xlsx":
        sheets = read_workbook(path)
        return [Input(path, fmt, f"{path.name}[{s.name}]", s.headers, len(s.rows), sheet=s,
                      sheets_in_file=len(sheets)) for s in sheets]
    if fmt == "parquet":
        con = con_factory()
        try:
            desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})").fetchall()
            rows = con.execute(f"SELECT count(*) FROM read_parquet({lit(str(path))})").fetchone()
        except duckdb.Error as exc:
            raise B2BError(f"{path.name}: not a readable Parquet file ({first_line(exc)})",
                           fix="export the Parquet file again, or give a CSV/XLSX") from exc
        finally:
            con.close()
        n = int(rows[0]) if rows else 0
        if n == 0:
            raise B2BError(f"{path.name}: the Parquet file has no rows", fix="export the data again with its rows")
        return [Input(path, fmt, path.name, tuple(str(d[0]) for d in desc), n)]
    layout = text_layout(path)
    return [Input(path, fmt, path.name, layout.headers, _sample_rows(layout), layout=layout)]


def _sample_rows(layout: TextLayout) -> int | None:
    """Data records when the whole file fit in the sample, else None (unknown until loaded)."""
    if not layout.whole:
        return None
    return max(len(records(layout.sample, layout.delimiter, True, limit=10**9)) - 1, 0)


def _as_mapping(mapping: Mapping | dict[str, str] | None) -> Mapping | None:
    if mapping is None or isinstance(mapping, Mapping):
        return mapping
    return Mapping(None, dict(mapping), "mapping")


def _told_table(path: Path, table: str | None, mapping: Mapping | None) -> tuple[str, str] | None:
    """The table a file is by the options or its file name alone (before it is read), if they say."""
    if table is not None:
        return table, "--table"
    if mapping is not None and mapping.table:
        return mapping.table, "mapping file"
    found = table_from_name(path.stem)
    return (found[0], "file name") if found else None


def _detect_table(inp: Input, table: str | None, mapping: Mapping | None) -> tuple[str, str]:
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
    match = tables_from_headers(inp.headers)
    if match.table is not None:
        return match.table, "header fingerprint"
    names = [c.table for c in match.candidates]
    where = "sheet" if inp.sheet is not None else "file"
    fix = (f"pass --table with {' or '.join(names) if names else 'one of: ' + ', '.join(TABLES)}, or --mapping "
           f'with a TOML file holding table = "{names[0] if names else "deals"}" (and [columns] for custom '
           f"headers), or name the {where} after its table (e.g. {names[0] if names else 'deals'}.csv)")
    shown = ", ".join(repr(h) for h in inp.headers[:12])
    if match.matched:
        raise B2BError(f"{inp.source}: which table is ambiguous: its headers ({shown}) fit {len(names)} tables "
                       f"and neither its name nor --table says which: "
                       f"{'; '.join(c.describe() for c in match.candidates)}", fix=fix)
    near = f"; closest: {'; '.join(c.describe() for c in match.candidates)}" if match.candidates else ""
    raise B2BError(f"{inp.source}: cannot tell which table this is (neither its name nor its headers match one; "
                   f"headers: {shown}){near}", fix=fix)


def _plan_one(inp: Input, table: str | None, mapping: Mapping | None) -> Planned:
    name, reason = _detect_table(inp, table, mapping)
    tbl = TABLES[name]
    if mapping is not None and mapping.table and mapping.table != name:
        mapping = None  # cannot happen: a mapping's table forces the file's table
    index = map_headers(tbl, inp.headers, describe(inp.source, name, reason), mapping)
    used = set(index.values())
    unmapped = tuple(h for i, h in enumerate(inp.headers) if i not in used and h)
    lay = inp.layout
    plan = FilePlan(source=inp.source, path=inp.path, sheet=inp.sheet.name if inp.sheet else None, table=name,
                    table_reason=reason, encoding=lay.encoding if lay else None,
                    delimiter=lay.delimiter if lay else None,
                    mapping={c: inp.headers[i] for c, i in sorted(index.items(), key=lambda t: t[1])},
                    unmapped_headers=unmapped, rows=inp.rows,
                    constants=dict(mapping.constants) if mapping is not None else {},
                    values={c: dict(v) for c, v in mapping.values.items()} if mapping is not None else {})
    return Planned(plan, inp, index)


def resolve_options(table: str | None, mapping_file: Path | None,
                    mapping: Mapping | dict[str, str] | None) -> tuple[str | None, Mapping | None]:
    """`--table` and the mapping (a file, given columns, or both) as one consistent choice."""
    if table is not None and table not in TABLES:
        raise B2BError(f"--table {table!r} is not a canonical table", fix=f"use one of: {', '.join(TABLES)}")
    m = _as_mapping(mapping)
    if mapping_file is not None:
        from_file = load_mapping_file(Path(mapping_file))
        if m is not None:
            if m.table and from_file.table and m.table != from_file.table:
                raise B2BError(f"the mapping is for table {m.table} but {mapping_file} is for {from_file.table}",
                               fix="give one mapping")
            m = Mapping(m.table or from_file.table, {**from_file.columns, **m.columns}, from_file.source,
                        {**from_file.constants, **m.constants}, {**from_file.values, **m.values})
        else:
            m = from_file
    if m is not None and m.table and table is not None and m.table != table:
        raise B2BError(f"--table {table} contradicts the mapping's table = {m.table!r}",
                       fix="leave out --table or use the mapping for that table")
    return table, m


def plan_all(paths: Sequence[Path], table: str | None, mapping: Mapping | None) -> list[Planned]:
    """Every input of every path, planned; B2BError (naming the file and its table) for one that cannot load."""
    out: list[Planned] = []
    for path in iter_data_files([Path(p) for p in paths]):
        try:
            parts = inputs(path, connect_duckdb)
        except B2BError as exc:
            told = _told_table(path, table, mapping)
            if told is None:
                raise
            raise with_table(exc, path.name, *told) from exc
        for inp in parts:
            out.append(_plan_one(inp, table, mapping))
    if not out:
        raise B2BError("no files to load", fix="pass one or more CSV, XLSX or Parquet files")
    for i, p in enumerate(out):
        p.order = i
    return out


def plan_files(paths: Sequence[Path], cfg: Config, *, table: str | None = None,
               mapping: Mapping | dict[str, str] | None = None) -> list[FilePlan]:
    """What each file (each XLSX sheet) will load as, without loading; B2BError for a file that cannot load."""
    table, m = resolve_options(table, None, mapping)
    return [p.plan for p in plan_all(paths, table, m)]


def tick(progress: Progress | None, label: str, fraction: float) -> None:
    if progress is not None:
        progress(label, min(max(fraction, 0.0), 1.0))


def prepare(planned: list[Planned], tmpdir: Path, progress: Progress | None) -> None:
    """Hash every file and transcode non-UTF-8 text to UTF-8 copies (before any lock is taken)."""
    shas: dict[Path, str] = {}
    for i, p in enumerate(planned):
        inp = p.inp
        tick(progress, f"{p.plan.source}: reading", 0.3 * i / len(planned))
        if inp.fmt == "csv":
            assert inp.layout is not None
            try:
                target, streamed = _stream(p, tmpdir / f"{i}.csv")
            except B2BError as exc:
                raise with_table(exc, inp.path.name, p.plan.table, p.plan.table_reason) from exc
            p.read_path = target or inp.path
            p.sha256, p.trim = streamed.sha256, streamed.trim
        else:
            if inp.path not in shas:
                shas[inp.path] = file_sha256(inp.path)
            p.sha256 = shas[inp.path]
            if inp.sheet is not None:
                p.sha256 = hashlib.sha256((shas[inp.path] + "\0" + inp.sheet.name).encode("utf-8")).hexdigest()


def _stream(p: Planned, copy: Path) -> tuple[Path | None, Streamed]:
    """Hash a text file, transcoding it to `copy` when it is not UTF-8: (the copy or None, what was found)."""
    inp = p.inp
    assert inp.layout is not None
    target = copy if inp.layout.needs_transcoding else None
    try:
        return target, stream_utf8(inp.path, inp.layout.encoding, target, inp.layout.delimiter)
    except NotUtf8 as bad:
        if not inp.layout.encoding_guessed:
            raise B2BError(f"{inp.path.name}: line {line_at(inp.path, bad.offset)} is not valid UTF-8 text "
                           f"(byte {bad.offset})",
                           fix="save the file as UTF-8 (in Excel: CSV UTF-8) and load it again") from bad
    # a plain-ASCII start, then GBK text further down: the whole file is GB18030
    streamed = stream_utf8(inp.path, "gb18030", copy, inp.layout.delimiter)
    inp.layout = replace(inp.layout, encoding="gb18030")
    return copy, streamed
