"""Derived relations the store keeps beside the data, rebuilt inside every write.

Some inputs of the KPIs depend on the data alone, or on the data and the pipeline's stage order,
and never on the filters: every table's row, non-empty and orphan counts (quality), the earliest
and latest date (the default period), each deal's status and furthest stage, and each stage visit
with its length (funnel). Deriving them from the raw rows means a scan of every column, a hash
join per foreign key and a window over the whole stage history — at 200,000 accounts about 2 s,
asked again on every filter change.

`Store.write` calls `refresh` in the write's own transaction, so a derived table is never out of
step with the rows it describes: a reader sees both of one version or neither. Each relation is
built by the very ibis expression the metric would otherwise run (`build` functions below), and a
metric uses `table(con, name, cfg)` when it returns one, else derives the same thing live: on an
in-memory backend, on Spark, under a restricted access scope (which sees only canonical tables),
for a database written by an older b2bmetrics or changed by another tool since, or when the stages
differ from those the relation was built for. The live and the stored path are tested equal (tests/test_derived.py).

A derived table's name carries a fingerprint of `VERSION` and, for stage-dependent relations, the
stage order and the lost stage: `_derived_<name>_<fingerprint>`. Bump `VERSION` whenever a builder changes meaning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from b2bmetrics.config import Config
from b2bmetrics.schema import TABLES

VERSION = 2
PREFIX = "_derived_"


@dataclass(frozen=True)
class Derived:
    """A relation the store keeps: how to build it, whether it depends on the pipeline's stages,
    and the tables it is derived from (None: every canonical table)."""

    build: Callable[[Any, Config], ir.Table]
    by_stages: bool
    inputs: frozenset[str] | None = None


def _quality_counts(con: Any, cfg: Config, tables: frozenset[str] | None = None) -> ir.Table:
    from b2bmetrics.metrics import quality

    return quality.counts_expr(con, tables)


def _date_range(con: Any, cfg: Config) -> ir.Table:
    from b2bmetrics.filters import date_range_expr

    return date_range_expr(con)


def _deal_facts(con: Any, cfg: Config) -> ir.Table:
    from b2bmetrics.metrics import funnel

    return funnel.deal_facts_live(con, cfg)


def _stage_visits(con: Any, cfg: Config) -> ir.Table:
    from b2bmetrics.metrics import funnel

    v = funnel.stage_visits_live(con, cfg, con.table("deals"))  # known deals only
    # every reader keeps only visits with a next entry (a length, a transition): a deal's last
    # entry, a quarter of the rows, is never read
    return v.filter(v.days.notnull() | v.next_stage.notnull())


_FUNNEL_INPUTS = frozenset({"deals", "deal_stage_history"})
RELATIONS: dict[str, Derived] = {
    "quality_counts": Derived(_quality_counts, by_stages=False),
    "date_range": Derived(_date_range, by_stages=False),
    "deal_facts": Derived(_deal_facts, by_stages=True, inputs=_FUNNEL_INPUTS),
    "stage_visits": Derived(_stage_visits, by_stages=True, inputs=_FUNNEL_INPUTS),
}


def table_name(name: str, cfg: Config) -> str:
    """`_derived_<name>_<fingerprint>`: the fingerprint changes with VERSION and, where it matters,
    the stages and the lost stage (which the status of a deal without one is derived from)."""
    key: dict[str, Any] = {"version": VERSION}
    if RELATIONS[name].by_stages:
        key["stages"] = list(cfg.pipeline.stages)
        key["lost_stage"] = cfg.pipeline.lost_stage
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return f"{PREFIX}{name}_{digest}"


def refresh(con: Any, cfg: Config, changed: Iterable[str] | None = None) -> None:
    """Bring the derived tables of `con` (a DuckDB connection inside a write) up to date with what
    the write did to the tables in `changed` (None: anything may have changed, rebuild all).

    Only what depends on a changed table is rebuilt: quality counts of the changed tables and of
    the tables whose foreign keys point into them, the funnel's relations when deals or their
    history changed. Without any stage history the funnel's relations are not kept: deriving them
    live is then a plain scan of the deals, and a copy would only make loads slower.
    """
    touched = frozenset(TABLES) if changed is None else frozenset(changed) & frozenset(TABLES)
    have, keep = _stored(con), _kept(con, cfg)
    for old in have - set(keep):  # another version or stage order, or no longer kept
        con.execute(f'DROP TABLE "{old}"')
    for tname, name in keep.items():
        if tname in have and name == "quality_counts" and changed is not None:
            _refresh_counts(con, cfg, tname, touched)
        elif tname not in have or touched & (RELATIONS[name].inputs or frozenset(TABLES)):
            con.execute(f'DROP TABLE IF EXISTS "{tname}"')
            con.execute(f'CREATE TABLE "{tname}" AS {_sql(con, cfg, name)}')


def current(con: Any, cfg: Config) -> bool:
    """`con` (a DuckDB connection) holds every derived table `refresh` would keep for `cfg`: a load
    that changes no rows can leave the file as it is only then (not after a change of stages)."""
    return set(_kept(con, cfg)) <= _stored(con)


def _stored(con: Any) -> set[str]:
    return {n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)",
                                      [PREFIX]).fetchall()}


def _kept(con: Any, cfg: Config) -> dict[str, str]:
    """Table name -> relation, for the relations kept for `cfg` (no funnel ones without history)."""
    no_history = not con.execute('SELECT EXISTS (SELECT 1 FROM "deal_stage_history")').fetchone()[0]
    return {table_name(name, cfg): name for name, rel in RELATIONS.items() if not (rel.by_stages and no_history)}


def _refresh_counts(con: Any, cfg: Config, tname: str, touched: frozenset[str]) -> None:
    """Replace the quality rows of the touched tables and of their children (whose orphans depend
    on the touched parent's keys)."""
    redo = touched | {t.name for t in TABLES.values()
                      if any(c.references in touched for c in t.columns)}
    if not redo:
        return
    con.execute(f'DELETE FROM "{tname}" WHERE table_name IN ({", ".join("?" for _ in redo)})', sorted(redo))
    con.execute(f'INSERT INTO "{tname}" {_sql(con, cfg, "quality_counts", frozenset(redo))}')


# compiled SQL per relation (and table subset), stage order and table layout: building and
# compiling the ibis expressions takes ~0.5 s, longer than refreshing a small database
_compiled: dict[tuple[Any, ...], str] = {}


def _sql(con: Any, cfg: Config, name: str, tables: frozenset[str] | None = None) -> str:
    """The SELECT of relation `name` (for quality counts: of `tables` only, when given)."""
    layout = tuple(con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                               "WHERE NOT starts_with(table_name, ?) ORDER BY ALL", [PREFIX]).fetchall())
    key = (table_name(name, cfg), tables, layout)
    if key not in _compiled:
        import ibis

        backend = ibis.duckdb.from_connection(con)
        expr = RELATIONS[name].build(backend, cfg) if tables is None else _quality_counts(backend, cfg, tables)
        _compiled[key] = str(backend.compile(expr))
    return _compiled[key]


_CACHE_ATTR = "_b2bmetrics_derived_tables"


def _derived_tables(con: Any) -> frozenset[str]:
    """The derived tables `con` holds, looked up once per backend (a backend reads one immutable
    version). Kept on the backend object itself: ibis backends compare equal by connection
    parameters, which backends made from connections share, so they cannot key a dict."""
    cached = vars(con).get(_CACHE_ATTR)
    if cached is not None:
        return cached
    try:
        names = frozenset(n for n in con.list_tables() if n.startswith(PREFIX))
        if names and not _rows_agree(con, names):
            names = frozenset()
    except Exception:  # a backend that cannot list or count its tables: derive everything live
        names = frozenset()
    setattr(con, _CACHE_ATTR, names)
    return names


def _rows_agree(con: Any, names: frozenset[str]) -> bool:
    """The stored row counts are the tables' own: a database changed by another tool since the
    last b2bmetrics write (rows added or deleted) has its derived tables ignored, not trusted."""
    import ibis

    counts = sorted(n for n in names if n.startswith(f"{PREFIX}quality_counts_"))
    if not counts:
        return False
    stored = con.table(counts[0]).select(_t="table_name", _n="rows")
    actual = ibis.union(*[con.table(t).aggregate(t=ibis.literal(t), n=con.table(t).count()) for t in TABLES])
    j = actual.left_join(stored, actual.t == stored._t)
    bad = j.aggregate(bad=j.count(where=j._n.isnull() | (j._n != j.n))).execute()["bad"].iloc[0]
    return int(bad) == 0


def table(con: Any, name: str, cfg: Config | None = None) -> ir.Table | None:
    """The stored relation `name` built for `cfg`'s stages, or None when it has to be derived live."""
    wanted = table_name(name, cfg or Config())
    if wanted not in _derived_tables(con):
        return None
    return con.table(wanted)
