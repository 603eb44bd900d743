"""Materialised relations: tables the store keeps beside the data, rebuilt inside every write.

A relation is declared by the module that reads it (`Relation`: its name, the ibis expression that
builds it, the tables it is derived from, when it is worth keeping, how to refresh part of it).
Writers pass the relations they want kept to `Store.write(relations=...)`, which calls `refresh` in
the write's own transaction, so a stored relation is never out of step with the rows it describes:
a reader sees both of one version or neither. Readers ask `lookup(con, relation, cfg)`: the stored
table when the backend holds one built by this very expression, else None, and the caller derives
the same thing live (the metrics test both paths equal).

A relation's table is named `_derived_<name>_<fingerprint>`, the fingerprint being a hash of the
SQL its expression compiles to on the database's tables (and of the configuration it says it
depends on). Change an expression, or anything it is built from, and the SQL changes: the next
write builds the new table and drops the old one, and until then readers derive it live. Nothing
has to be bumped by hand.

Compiling the expressions costs a process more than the query itself (about 0.3 s for the
metrics' relations, and it needs ibis): so every write also records the SQL it compiled
(`_derived_sql`) under the package's code version (a hash of its source and of the ibis, sqlglot
and DuckDB versions), and a process of the same code reads it there instead of compiling. Only
relations declared by the package itself are recorded: their SQL is a function of that source;
a relation built by code elsewhere (a test's) is compiled every time.

Only a DuckDB backend on a store file keeps relations. Anything else (an in-memory backend, Spark,
an access scope, which sees only canonical tables) gets None and derives live, as does a database
whose rows another tool changed since the last write: every write records each table's row count
(`_derived_row_counts`), and a reader trusts the stored relations only while the counts agree.

This module knows no metric: of b2bmetrics it imports the config, the schema and the backend protocol.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.backends.duckdb import Backend as DuckDBBackend

from b2bmetrics.backend import Backend
from b2bmetrics.config import Config
from b2bmetrics.schema import TABLES

PREFIX = "_derived_"
ROW_COUNTS = f"{PREFIX}row_counts"  # the store's own records: never a relation's name (those end in a hash)
SQL_RECORD = f"{PREFIX}sql"
RECORDS = frozenset({ROW_COUNTS, SQL_RECORD})
ALL_TABLES = frozenset(TABLES)
_DEFAULT_CONFIG = Config()


def _no_config(cfg: Config) -> Hashable:
    return None


@dataclass(frozen=True)
class ByTable:
    """A relation whose rows each describe one canonical table (named in `column`), so a write
    replaces only the rows of the tables it affects.

    `affected(changed)`: the tables whose rows a change of the `changed` tables alters;
    `build(con, cfg, tables)`: the relation's rows of `tables` only.
    """

    column: str
    affected: Callable[[frozenset[str]], frozenset[str]]
    build: Callable[[Backend, Config, frozenset[str]], ir.Table]


@dataclass(frozen=True)
class Relation:
    """A relation the store keeps, declared by the module that reads it.

    `build(con, cfg)` is the ibis expression (the one the reader would otherwise run live).
    `inputs`: the canonical tables it is derived from (None: any table); a write that changes none
    of them keeps it as it is. `config_key(cfg)`: the part of the configuration the expression
    reads, as a tuple of plain values (a cache key: leave nothing out). `needs_rows`: kept only
    while each of these tables has rows (without them the live path costs nothing worth a copy).
    `by_table`: how to refresh part of it.
    """

    name: str
    build: Callable[[Backend, Config], ir.Table]
    inputs: frozenset[str] | None = None
    config_key: Callable[[Config], Hashable] = _no_config
    needs_rows: frozenset[str] = frozenset()
    by_table: ByTable | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"relation name {self.name!r}: a plain identifier, not starting with _")
        unknown = (self.inputs or frozenset()) | self.needs_rows
        if unknown - ALL_TABLES:
            raise ValueError(f"relation {self.name!r} names unknown tables {sorted(unknown - ALL_TABLES)}")


# ---- fingerprints ------------------------------------------------------------------------------

Layout = tuple[tuple[str, str, str], ...]

# compiled SQL per (relation, its configuration, table layout, table subset): building and
# compiling the expressions takes ~0.35 s for the metrics' relations, longer than a small refresh
# and far longer than a dashboard filter change may spend
_SQL: dict[tuple[Relation, Hashable, Layout, frozenset[str] | None], str] = {}
_SQL_MAX = 256


def _layout(raw: duckdb.DuckDBPyConnection) -> Layout:
    """Name, column and type of every canonical table's columns: what compiled SQL depends on."""
    rows = raw.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                       f"WHERE NOT internal AND table_name IN ({', '.join('?' for _ in TABLES)}) "
                       "ORDER BY ALL", list(TABLES)).fetchall()
    return tuple((str(t), str(c), str(d)) for t, c, d in rows)


SqlKey = tuple[str, str, str]  # the relation and its builders, its configuration, the tables subset ("" = all)


def _sql(backend: DuckDBBackend, relation: Relation, cfg: Config, layout: Layout,
         tables: frozenset[str] | None = None, record: dict[SqlKey, str] | None = None) -> str:
    """The SELECT of `relation` (with `tables`: of those tables' rows only, see `ByTable`).

    `record`: what the database's last write compiled (for this code and layout), read before
    compiling; what is compiled is added to it, for the write to record."""
    key = (relation, relation.config_key(cfg), layout, tables)
    record_key = _record_key(relation, cfg, tables) if record is not None else None
    sql = _SQL.get(key)
    if sql is None and record_key is not None and record is not None:
        sql = record.get(record_key)
    if sql is None:
        if tables is None:
            expr = relation.build(backend, cfg)
        elif relation.by_table is not None:
            expr = relation.by_table.build(backend, cfg, tables)
        else:
            raise ValueError(f"relation {relation.name!r} has no partial build")
        sql = _compile(backend, expr)
    if len(_SQL) >= _SQL_MAX:
        _SQL.clear()
    _SQL[key] = sql
    if record_key is not None and record is not None:
        record[record_key] = sql
    return sql


@functools.cache
def code_version() -> str:
    """A hash of the package's source and of the libraries that compile its SQL."""
    import sqlglot

    root = Path(__file__).resolve().parents[1]  # the b2bmetrics package
    h = hashlib.sha1(f"{ibis.__version__} {sqlglot.__version__} {duckdb.__version__}".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _record_key(relation: Relation, cfg: Config, tables: frozenset[str] | None) -> SqlKey | None:
    """How `_derived_sql` knows a relation's SQL; None for a relation built outside the package."""
    builders = [relation.build] + ([relation.by_table.build] if relation.by_table is not None else [])
    if not all(getattr(b, "__module__", "").startswith("b2bmetrics.") for b in builders):
        return None
    build = ",".join(f"{b.__module__}.{b.__qualname__}" for b in builders)
    return (f"{relation.name} {build}", repr(relation.config_key(cfg)), ",".join(sorted(tables or ())))


def _layout_digest(layout: Layout) -> str:
    return hashlib.sha1(repr(layout).encode()).hexdigest()[:16]


def _read_record(raw: duckdb.DuckDBPyConnection, have: set[str], layout: Layout) -> dict[SqlKey, str]:
    """The SQL the database's last write compiled, if it was this code on these tables."""
    if SQL_RECORD not in have:
        return {}
    rows = raw.execute(f'SELECT relation, config, tables, sql FROM "{SQL_RECORD}" WHERE code = ? AND layout = ?',
                       [code_version(), _layout_digest(layout)]).fetchall()
    return {(str(r), str(c), str(t)): str(q) for r, c, t, q in rows}


def _write_record(raw: duckdb.DuckDBPyConnection, entries: dict[SqlKey, str], layout: Layout) -> None:
    raw.execute(f'CREATE OR REPLACE TABLE "{SQL_RECORD}" (relation VARCHAR, config VARCHAR, tables VARCHAR, '
                "sql VARCHAR, code VARCHAR, layout VARCHAR)")
    rows = [(*k, v, code_version(), _layout_digest(layout)) for k, v in sorted(entries.items())]
    if rows:
        raw.executemany(f'INSERT INTO "{SQL_RECORD}" VALUES (?, ?, ?, ?, ?, ?)', rows)


def _compile(backend: DuckDBBackend, expr: ir.Table) -> str:
    """The SQL of `expr`, the same in every process. (ibis writes the columns a `drop` excludes in
    the order of a frozenset, which is hash order and differs between processes: sorted here.)"""
    query = backend.compiler.to_sqlglot(expr)
    for star in query.find_all(sge.Star):
        for key, value in list(star.args.items()):
            if key.startswith("except") and isinstance(value, list):
                star.set(key, sorted(value, key=lambda e: e.sql(dialect=backend.dialect)))
    return str(query.sql(dialect=backend.dialect))


def _name(backend: DuckDBBackend, relation: Relation, cfg: Config, layout: Layout,
          record: dict[SqlKey, str] | None = None) -> str:
    sql = _sql(backend, relation, cfg, layout, record=record)
    digest = hashlib.sha1(f"{sql}\n{relation.config_key(cfg)!r}".encode()).hexdigest()[:12]
    return f"{PREFIX}{relation.name}_{digest}"


def _backends(con: Backend | duckdb.DuckDBPyConnection) -> tuple[DuckDBBackend, duckdb.DuckDBPyConnection]:
    if isinstance(con, duckdb.DuckDBPyConnection):
        return ibis.duckdb.from_connection(con), con
    if isinstance(con, DuckDBBackend):
        return con, con.con
    raise TypeError(f"only a DuckDB database keeps relations, not {con!r}")


def table_name(con: Backend | duckdb.DuckDBPyConnection, relation: Relation, cfg: Config | None = None) -> str:
    """`_derived_<name>_<fingerprint>`: the table `relation` is kept in for `cfg`, on the tables of
    `con` (a DuckDB connection or ibis DuckDB backend). The fingerprint hashes the SQL the
    relation's expression compiles to and its `config_key`."""
    backend, raw = _backends(con)
    return _name(backend, relation, cfg or _DEFAULT_CONFIG, _layout(raw))


# ---- what a database holds ---------------------------------------------------------------------

def _stored(raw: duckdb.DuckDBPyConnection) -> set[str]:
    """The store's tables: relations and the row-count record."""
    return {str(n) for (n,) in raw.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)",
                                           [PREFIX]).fetchall()}


def _rows_agree(raw: duckdb.DuckDBPyConnection, but: frozenset[str] = frozenset()) -> bool:
    """Every canonical table (except those in `but`) still has the row count the last write
    recorded: a database changed by another tool since (rows added or deleted) has its stored
    relations ignored, not trusted."""
    names = [t for t in TABLES if t not in but]
    if not names:
        return True
    actual = " UNION ALL ".join(f'SELECT ? AS table_name, count(*) AS n FROM "{t}"' for t in names)
    marks = ", ".join("?" for _ in names)
    row = raw.execute(f'SELECT count(*) FROM ({actual}) a FULL JOIN (SELECT * FROM "{ROW_COUNTS}" '
                      f"WHERE table_name IN ({marks})) s ON a.table_name = s.table_name "
                      "WHERE a.n IS DISTINCT FROM s.rows", [*names, *names]).fetchone()
    return row is not None and int(row[0]) == 0


def _record_rows(raw: duckdb.DuckDBPyConnection) -> None:
    counts = " UNION ALL ".join(f'SELECT ? AS table_name, count(*)::BIGINT AS rows FROM "{t}"' for t in TABLES)
    raw.execute(f'CREATE OR REPLACE TABLE "{ROW_COUNTS}" AS {counts}', list(TABLES))


def _empty(raw: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> set[str]:
    out = set()
    for t in sorted(set(tables)):
        row = raw.execute(f'SELECT EXISTS (SELECT 1 FROM "{t}")').fetchone()
        if row is None or not row[0]:
            out.add(t)
    return out


def _kept(backend: DuckDBBackend, raw: duckdb.DuckDBPyConnection, relations: Sequence[Relation], cfg: Config,
          layout: Layout, record: dict[SqlKey, str] | None = None) -> dict[str, Relation]:
    """Table name -> relation, for the relations kept for `cfg` (not those whose `needs_rows` are empty)."""
    names = [r.name for r in relations]
    if len(set(names)) != len(names):
        raise ValueError(f"two relations share a name: {sorted(names)}")
    empty = _empty(raw, {t for r in relations for t in r.needs_rows})
    return {_name(backend, r, cfg, layout, record): r for r in relations if not (r.needs_rows & empty)}


# ---- writing -----------------------------------------------------------------------------------

def refresh(con: duckdb.DuckDBPyConnection, relations: Sequence[Relation], cfg: Config,
            changed: Iterable[str] | None = None) -> None:
    """Bring the stored relations of `con` (a DuckDB connection inside a write) up to date with
    what the write did to the tables in `changed` (None: anything may have changed, rebuild all).

    Keeps exactly `relations` (a stored table of another relation, expression or configuration is
    dropped). Only what depends on a changed table is rebuilt, and of a `ByTable` relation only
    the rows of the tables affected. When a table the write did not change has another row count
    than the last write recorded, another tool changed the database: everything is rebuilt.
    """
    touched = ALL_TABLES if changed is None else frozenset(changed) & ALL_TABLES
    backend = ibis.duckdb.from_connection(con)
    layout = _layout(con)
    have = _stored(con)
    record = _read_record(con, have, layout)
    keep = _kept(backend, con, relations, cfg, layout, record)
    trusted = changed is not None and ROW_COUNTS in have and _rows_agree(con, but=touched)
    for old in sorted(have - RECORDS - (set(keep) if trusted else set())):
        con.execute(f'DROP TABLE "{old}"')
    for tname, rel in keep.items():
        present = trusted and tname in have
        if present and rel.by_table is not None:
            redo = rel.by_table.affected(touched) & ALL_TABLES
            if redo:
                marks = ", ".join("?" for _ in redo)
                con.execute(f'DELETE FROM "{tname}" WHERE "{rel.by_table.column}" IN ({marks})', sorted(redo))
                con.execute(f'INSERT INTO "{tname}" {_sql(backend, rel, cfg, layout, frozenset(redo), record)}')
        elif not present or touched & (ALL_TABLES if rel.inputs is None else rel.inputs):
            con.execute(f'DROP TABLE IF EXISTS "{tname}"')
            con.execute(f'CREATE TABLE "{tname}" AS {_sql(backend, rel, cfg, layout, record=record)}')
    _record_rows(con)
    _write_record(con, record, layout)


def current(con: duckdb.DuckDBPyConnection, relations: Sequence[Relation], cfg: Config) -> bool:
    """`con` (a DuckDB connection) holds every relation `refresh` would keep for `cfg`, built by
    today's expressions: a load that changes no rows can leave the file as it is only then."""
    backend = ibis.duckdb.from_connection(con)
    have = _stored(con)
    layout = _layout(con)
    kept = _kept(backend, con, relations, cfg, layout, _read_record(con, have, layout))
    return ROW_COUNTS in have and set(kept) <= have


# ---- reading -----------------------------------------------------------------------------------

@dataclass
class _Seen:
    """What one read backend holds; it reads one immutable version, so this is asked once."""

    layout: Layout
    trusted: frozenset[str]  # relation tables to read (none when rows changed since the last write)
    record: dict[SqlKey, str]  # the SQL the last write compiled, when it was this code
    found: dict[tuple[Relation, Hashable], ir.Table | None] = field(default_factory=dict)


# kept on the backend object itself: ibis backends compare equal by connection parameters, which
# backends made from connections share, so they cannot key a dict
_CACHE_ATTR = "_b2bmetrics_materialized"


def _seen(con: DuckDBBackend) -> _Seen:
    seen = vars(con).get(_CACHE_ATTR)
    if isinstance(seen, _Seen):
        return seen
    raw = con.con
    have = _stored(raw)
    relations = frozenset(have - RECORDS)
    trusted = relations if relations and ROW_COUNTS in have and _rows_agree(raw) else frozenset()
    layout = _layout(raw) if trusted else ()
    seen = _Seen(layout, trusted, _read_record(raw, have, layout) if trusted else {})
    setattr(con, _CACHE_ATTR, seen)
    return seen


def lookup(con: Backend, relation: Relation, cfg: Config | None = None) -> ir.Table | None:
    """The stored `relation` for `cfg`, or None when the caller has to derive it live.

    Cheap after the first call on a backend (one dictionary look-up per relation and
    configuration): the dashboard asks on every filter change.
    """
    if not isinstance(con, DuckDBBackend):
        return None  # Spark, an access scope, …: relations are a DuckDB store's
    seen = _seen(con)
    if not seen.trusted:
        return None
    cfg = cfg or _DEFAULT_CONFIG
    key = (relation, relation.config_key(cfg))
    if key not in seen.found:
        name = _name(con, relation, cfg, seen.layout, seen.record)
        seen.found[key] = con.table(name) if name in seen.trusted else None
    return seen.found[key]
