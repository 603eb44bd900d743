"""Which table a file is, and which of its headers is which canonical column (CONTRACT §2).

Table: `--table` (or a mapping file's `table`), else the file or sheet name, else the headers.
Names are matched against each table's own name and its `name_hints` (English and Chinese, CONTRACT
§2): the longest match wins, a table's own name beats a hint of the same length, then the earlier
match in the name ("deal_stage_history" is deal_stage_history, not deals; "deals_missing_stage" is
deals). Hints shorter than five letters must be a whole word of the name, optionally plural ("rep"
matches "reps_2024" but not "report"); Chinese hints match anywhere.

Headers never guess (CONTRACT §2 v2 "Which table, never a guess"): a table *matches* when all its
required columns map; a matching table whose required columns' headers are all mapped by another
matching table gives way to it (accounts to a deals file with an account_id, deals to a stage
history or snapshot file; when two would give way to each other neither does). The file is taken
for a table only when exactly one match is left; otherwise `tables_from_headers` returns the
candidates, each with the required columns found and missing, for the refusal.

Headers: compared after `schema.header_key`. Exact canonical names first, then each column's
synonyms in column order and synonym order; a header maps to at most one column and a column to
at most one header. A mapping (TOML file or dashboard correction) overrides; the columns it does
not name are still mapped automatically.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from b2bmetrics.config import read_toml
from b2bmetrics.errors import B2BError
from b2bmetrics.schema import LOAD_ORDER, TABLES, Table, header_key


@dataclass(frozen=True)
class Mapping:
    """A header mapping: the table (or None: detect it) and canonical column -> header in the file;
    (v2) `constants` (canonical column -> the value every row gets) and `values` (canonical column ->
    file value -> canonical value, "" for empty)."""

    table: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    source: str = "mapping"
    constants: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)


def _strings(raw: object) -> bool:
    return isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items())


def load_mapping_file(path: Path) -> Mapping:
    """Read a mapping TOML: `table = "deals"`, `[columns] canonical = "header in file"`, and (v2)
    `[constants] column = "value"` and `[values.COLUMN] "file value" = "canonical value"`."""
    path = Path(path)
    raw = read_toml(path, "mapping file", "--mapping")
    unknown = set(raw) - {"table", "columns", "constants", "values"}
    if unknown:
        raise B2BError(f"{path}: unknown key {sorted(unknown)[0]!r}",
                       fix='a mapping file holds table = "deals" and the sections [columns], [constants] '
                           "and [values.COLUMN]")
    table = raw.get("table")
    if table is not None and (not isinstance(table, str) or table not in TABLES):
        raise B2BError(f"{path}: table = {table!r} is not a canonical table",
                       fix=f"use one of: {', '.join(TABLES)}")
    cols = raw.get("columns", {})
    if not _strings(cols):
        raise B2BError(f"{path}: [columns] must map canonical column names to header strings",
                       fix='write it as [columns] followed by lines like deal_id = "opportunity_no"')
    constants = raw.get("constants", {})
    if not _strings(constants):
        raise B2BError(f"{path}: [constants] must give each column one text value",
                       fix='write it as [constants] followed by lines like kind = "csat"')
    values = raw.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(k, str) and _strings(v) for k, v in values.items()):
        raise B2BError(f"{path}: [values.COLUMN] sections must map file values to canonical values (text)",
                       fix='write it as [values.status] followed by lines like "Offered" = "" ("" = empty)')
    mapping = Mapping(table, dict(cols), str(path), dict(constants), {k: dict(v) for k, v in values.items()})
    if table is not None:
        check_mapping_columns(mapping, TABLES[table])
    return mapping


def save_mapping_file(path: Path, table: str, columns: dict[str, str]) -> None:
    """Write a mapping TOML in the format `load_mapping_file` reads (atomically)."""
    if table not in TABLES:
        raise B2BError(f"cannot save a mapping for unknown table {table!r}", fix=f"use one of: {', '.join(TABLES)}")
    check_mapping_columns(Mapping(table, dict(columns), str(path)), TABLES[table])
    lines = ["# b2bmetrics header mapping: canonical column = header in the file",
             f"table = {json.dumps(table)}", "", "[columns]"]
    lines += [f"{name} = {json.dumps(header, ensure_ascii=False)}" for name, header in columns.items()]
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def check_mapping_columns(mapping: Mapping, table: Table) -> None:
    for name in [*mapping.columns, *mapping.constants, *mapping.values]:
        known = table.mappable(name) if name in mapping.columns else name in table.column_index
        if not known:
            close = difflib.get_close_matches(name, table.column_names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise B2BError(f"{mapping.source}: {table.name} has no column {name!r}",
                           fix=f"{hint}columns of {table.name}: {', '.join(table.column_names)}")
    headers = list(mapping.columns.values())
    for h in headers:
        if headers.count(h) > 1:
            names = [c for c, v in mapping.columns.items() if v == h]
            raise B2BError(f"{mapping.source}: header {h!r} is given for several columns ({', '.join(names)})",
                           fix="map each header to one canonical column")


# ---- table detection -------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+|\d+|[^\x00-\x7f]+")


def _terms(table: Table) -> list[tuple[str, bool]]:
    return [(header_key(table.name), True)] + [(header_key(h), False) for h in table.name_hints]


def table_from_name(name: str) -> tuple[str, str] | None:
    """(table, matched text) for a file stem or sheet name, or None when no table's name or hint is in it."""
    key = header_key(name)
    if not key:
        return None
    words = _WORD.findall(re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower().replace("_", " "))
    best: tuple[tuple[int, bool, int], str, str] | None = None
    for table in TABLES.values():
        for term, own in _terms(table):
            if not term:
                continue
            pos = -1
            if len(term) >= 5 or not term.isascii():
                pos = key.find(term)
            else:
                for w in words:
                    if w in (term, term + "s", term + "es"):
                        pos = key.find(w)
                        break
            if pos < 0:
                continue
            score = (len(term), own, -pos)
            if best is None or score > best[0]:
                best = (score, table.name, term)
    return (best[1], best[2]) if best else None


@dataclass(frozen=True)
class Candidate:
    """A table a file's headers might be: its required columns found among the headers, and missing."""

    table: str
    found: tuple[str, ...]
    missing: tuple[str, ...]

    def describe(self) -> str:
        found = ", ".join(self.found) or "none"
        missing = ", ".join(self.missing) or "none"
        return f"{self.table} (required columns found: {found}; missing: {missing})"


@dataclass(frozen=True)
class HeaderMatch:
    """What the headers alone say: the one table left after the give-way rule, or None and the candidates
    (the matching tables left, or when none matches, the tables with some required column found)."""

    table: str | None
    candidates: tuple[Candidate, ...]
    matched: bool  # the candidates match (all their required columns map); else they are only the closest


def tables_from_headers(headers: tuple[str, ...]) -> HeaderMatch:
    """The table a file is by its headers alone, never a guess (see the module docstring)."""
    maps = {name: auto_map(TABLES[name], headers) for name in LOAD_ORDER}

    def candidate(name: str) -> Candidate:
        req = TABLES[name].required
        return Candidate(name, tuple(c for c in req if c in maps[name]), tuple(c for c in req if c not in maps[name]))

    matching = [n for n in LOAD_ORDER if all(c in maps[n] for c in TABLES[n].required)]
    need = {n: {maps[n][c] for c in TABLES[n].required} for n in matching}
    used = {n: set(maps[n].values()) for n in matching}

    def gives_way(t: str, u: str) -> bool:
        return u != t and need[t] <= used[u] and not need[u] <= used[t]

    left = [t for t in matching if not any(gives_way(t, u) for u in matching)]
    if len(left) == 1:
        return HeaderMatch(left[0], (candidate(left[0]),), True)
    if left:
        return HeaderMatch(None, tuple(candidate(n) for n in left), True)
    near = sorted((candidate(n) for n in LOAD_ORDER if any(c in maps[n] for c in TABLES[n].required)),
                  key=lambda c: (-len(c.found) / (len(c.found) + len(c.missing)), LOAD_ORDER.index(c.table)))
    return HeaderMatch(None, tuple(near[:3]), False)


# ---- header mapping --------------------------------------------------------------------------

def auto_map(table: Table, headers: tuple[str, ...], taken: dict[str, int] | None = None) -> dict[str, int]:
    """canonical column -> header index: exact canonical names first, then synonyms in column order."""
    out: dict[str, int] = dict(taken or {})
    used = set(out.values())
    keys = [header_key(h) for h in headers]

    def free(key: str) -> int | None:
        for i, k in enumerate(keys):
            if k == key and i not in used and k:
                return i
        return None

    for col in table.columns:
        if col.name in out:
            continue
        i = free(header_key(col.name))
        if i is not None:
            out[col.name] = i
            used.add(i)
    for col in table.columns:
        if col.name in out:
            continue
        for syn in col.synonyms:
            i = free(header_key(syn))
            if i is not None:
                out[col.name] = i
                used.add(i)
                break
    for d in table.durations:  # only where the file has no timestamp for it
        if d.name in out or d.target in out or any(e.name in out and e.target == d.target for e in table.durations):
            continue
        for name in (d.name, *d.synonyms):
            i = free(header_key(name))
            if i is not None:
                out[d.name] = i
                used.add(i)
                break
    return out


def map_headers(table: Table, headers: tuple[str, ...], source: str, override: Mapping | None) -> dict[str, int]:
    """canonical column (or duration) -> header index for a file; refuses a missing required column
    (one the mapping gives a constant is not missing) or a mapped header the file lacks."""
    fixed: dict[str, int] = {}
    if override is not None and (override.columns or override.constants or override.values):
        check_mapping_columns(override, table)
        for col, header in override.columns.items():
            idx = _find_header(headers, header, set(fixed.values()))
            if idx is None:
                close = difflib.get_close_matches(header, [h for h in headers if h], n=3, cutoff=0.4)
                hint = f"closest headers: {', '.join(repr(c) for c in close)}" if close else \
                    f"the headers are: {', '.join(repr(h) for h in headers[:20])}"
                raise B2BError(f"{source}: the mapping ({override.source}) maps {col} to header {header!r}, "
                               "which the file does not have", fix=f"correct the mapping; {hint}")
            fixed[col] = idx
    mapped = auto_map(table, headers, fixed)
    keys = [header_key(h) for h in headers]
    for col, i in mapped.items():
        twins = [j for j, k in enumerate(keys) if k == keys[i] and j != i]
        if col not in fixed and twins:
            raise B2BError(f"{source}: header {headers[i]!r} appears {len(twins) + 1} times (columns "
                           f"{', '.join(str(j + 1) for j in sorted([i, *twins]))}); which one is {col} is unclear",
                           fix="rename or remove the extra columns so that each header appears once")
    constant = set(override.constants) if override is not None else set()
    missing = [c for c in table.required if c not in mapped and c not in constant]
    if missing:
        col = missing[0]
        mapped_at = set(mapped.values())
        close = _closest(col, table, [h for i, h in enumerate(headers) if h and i not in mapped_at])
        close += [h for h in _closest(col, table, [h for h in headers if h]) if h not in close]
        found = f"closest headers found: {', '.join(repr(h) for h in close[:3])}" if close else "the file has no headers"
        also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise B2BError(f"{source}: required column {col} of table {table.name} is missing{also}; {found}",
                       fix=f"rename the header to {col!r}, or pass --mapping with a TOML file containing "
                           f'table = "{table.name}" and [columns] {col} = "<header in the file>"')
    return mapped


def _closest(col: str, table: Table, headers: list[str]) -> list[str]:
    """Headers ordered by their likeness to the column's name or any of its synonyms (best first)."""
    names = [header_key(col)] + [header_key(s) for s in table.column(col).synonyms]
    scored = sorted(((max(difflib.SequenceMatcher(None, n, header_key(h)).ratio() for n in names), h)
                     for h in headers), key=lambda t: -t[0])
    return [h for score, h in scored if score >= 0.3]


def _find_header(headers: tuple[str, ...], wanted: str, used: set[int]) -> int | None:
    for i, h in enumerate(headers):
        if h == wanted and i not in used:
            return i
    key = header_key(wanted)
    for i, h in enumerate(headers):
        if key and header_key(h) == key and i not in used:
            return i
    return None
