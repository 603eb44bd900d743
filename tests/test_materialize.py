"""The store's materialised relations (b2bmetrics/store/materialize.py): kept by every write, read
by the metrics, found by the fingerprint of their compiled SQL, and never a different answer from
deriving the same thing live from the raw rows."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import ibis.expr.types as ir
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.access import Scope, scoped
from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.filters import DATE_RANGE, Filters, resolve_period
from b2bmetrics.ingest import ingest
from b2bmetrics.metrics import commission, compute_kpis, funnel, quality
from b2bmetrics.metrics.materialized import RELATIONS
from b2bmetrics.schema import TABLES
from b2bmetrics.store import Store, materialize
from b2bmetrics.store.materialize import PREFIX, RECORDS, Relation, lookup, table_name
from tests import contract_oracle as oracle
from tests.conftest import ROOT, write_db
from tests.datasets import GENERATED_FILTERS, check, datasets
from tests.datasets import edge_cases as _edge_cases

CFG = Config()
BY_NAME: dict[str, Relation] = {r.name: r for r in RELATIONS}


class Live:
    """The same tables through a backend that is not a DuckDB store's: every metric derives its
    inputs from the raw rows (as on Spark or under an access scope)."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.name = con.name

    def table(self, name: str, *args: Any, **kwargs: Any) -> ir.Table:
        return self._con.table(name, *args, **kwargs)

    def list_tables(self, *args: Any, **kwargs: Any) -> list[str]:
        return self._con.list_tables(*args, **kwargs)


def live(con: Any) -> Live:
    return Live(con)


def kept(con: Any, name: str, cfg: Config = CFG) -> ir.Table | None:
    """The stored relation `name` for `cfg`, or None (derived live)."""
    return lookup(con, BY_NAME[name], cfg)


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal, floats to a relative 1e-12 (sums may add in another order), None only equals None."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture
def demo(demo_db: Path) -> Store:
    """The session's demo database (seed 11, 400 accounts); tests that change it copy it first."""
    return Store.at(demo_db)


def _copy(demo: Store, path: Path) -> Store:
    shutil.copyfile(demo.path, path)
    return Store.at(path)


def _stored(con: Any) -> set[str]:
    return {n for n in con.list_tables() if n.startswith(PREFIX)}


def test_every_write_keeps_one_table_per_relation(demo: Store) -> None:
    con = demo.ibis()
    assert _stored(con) == {table_name(con, rel, CFG) for rel in RELATIONS} | RECORDS
    for rel in RELATIONS:
        assert lookup(con, rel, CFG) is not None


def test_the_demo_reads_the_same_numbers_stored_and_live(demo: Store) -> None:
    con = demo.ibis()
    lo, hi = resolve_period(con, Filters()).start, resolve_period(con, Filters()).end
    assert lo is not None and hi is not None
    region = str(con.table("accounts").region.max().execute())
    rep = str(con.table("deals").owner_rep_id.max().execute())
    for f in [Filters(), Filters(date_from=lo + dt.timedelta(days=200), date_to=hi - dt.timedelta(days=100)),
              Filters(regions=(region,)), Filters(segments=("小型企业",)), Filters(reps=(rep,)),
              Filters(date_from=hi - dt.timedelta(days=300), regions=(region,))]:
        same(compute_kpis(con, CFG, f), compute_kpis(live(demo.ibis()), CFG, f), str(f))


def test_the_funnel_page_reads_the_same_frames_stored_and_live(demo: Store) -> None:
    stored, raw = demo.ibis(), live(demo.ibis())
    for f in [Filters(), Filters(regions=("华东",)), Filters(date_from=dt.date(2025, 3, 1))]:
        p = resolve_period(stored, f)
        for fn in (funnel.time_in_stage, funnel.transitions, funnel.monthly_trend):
            pd.testing.assert_frame_equal(fn(stored, CFG, f, p), fn(raw, CFG, f, p), rtol=1e-12)
        for by in ("region", "segment", "rep"):
            pd.testing.assert_frame_equal(funnel.breakdown(stored, CFG, f, p, by), funnel.breakdown(raw, CFG, f, p, by),
                                          rtol=1e-12)
        pd.testing.assert_frame_equal(funnel.deals_behind(stored, CFG, f, p, "proposal"),
                                      funnel.deals_behind(raw, CFG, f, p, "proposal"))


def test_commission_reads_the_same_rows_from_the_kept_facts_and_live(demo: Store) -> None:
    """The kept facts are everyone's, of every period: a reader picks its periods (and the earlier
    periods its clawbacks come from) and its people; a plan of another period or clawback length
    derives them live. Either way the rows are those of the live query."""
    con = demo.ibis()
    assert kept(con, "commission_facts") is not None
    plan = CFG.commission
    assert kept(con, "commission_facts", replace(CFG, commission=replace(plan, period="month"))) is None
    p = resolve_period(con, Filters())
    rep = str(con.table("deals").owner_rep_id.max().execute())
    plans = [plan, replace(plan, mode="retroactive", referral_rate=0.07, cap=30000.0), replace(plan, period="month"),
             replace(plan, clawback_days=400), replace(plan, clawback_days=0)]
    for other in plans:
        for f in (Filters(), Filters(regions=("华东",)), Filters(reps=(rep, "nobody")),
                  Filters(date_from=p.start, date_to=p.start)):
            period = resolve_period(con, f)
            same(commission.summary(con, CFG, f, period, other), commission.summary(live(demo.ibis()), CFG, f, period, other),
                 f"{other} {f}")
    start = commission.period_start_of(p.end, plan.period)
    pd.testing.assert_frame_equal(commission.statement(con, CFG, rep, start),
                                  commission.statement(live(demo.ibis()), CFG, rep, start))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(datasets(), st.lists(st.sampled_from(GENERATED_FILTERS), min_size=2, max_size=2, unique=True))
def test_generated_datasets_read_from_the_store_match_the_oracle(tmp_path: Path, tables: oracle.Tables,
                                                                 filters: list[oracle.OFilters]) -> None:
    """Skipped stages, back-moves, ties, orphan history and deals without history, through the stored path."""
    path = tmp_path / "gen.duckdb"
    for old in tmp_path.glob("gen.duckdb*"):
        old.unlink()
    store = Store.at(write_db(path, tables))
    con = store.ibis()
    assert kept(con, "quality_counts") is not None
    assert (kept(con, "stage_visits") is not None) == bool(tables["deal_stage_history"])
    check(con, filters, "stored", oracle.read_tables(con))


def test_hand_made_edge_cases_read_from_the_store_match_the_oracle(tmp_path: Path) -> None:
    tables = _edge_cases()
    # history of a deal the deals table does not have: in no cohort, so in no median
    tables["deal_stage_history"] += [{"deal_id": "DX", "stage": s, "entered_at": dt.datetime(2024, 1, d)}
                                     for s, d in (("lead", 1), ("qualified", 2), ("visit", 30))]
    con = Store.at(write_db(tmp_path / "edge.duckdb", tables)).ibis()
    check(con, [oracle.OFilters(), oracle.OFilters(date_to=dt.date(2024, 9, 30)),
                oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 6, 30)), oracle.OFilters(regions=("N",))], "edge")


def test_a_load_rebuilds_them_and_a_failed_load_keeps_them(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    write_db(store.path, _edge_cases())
    before = quality.summary(store.ibis(), CFG)["tables"]["tickets"]["rows"]
    good = tmp_path / "tickets.csv"
    good.write_text("ticket_id,account_id,opened_at,channel\nT9,A1,2024-07-01 09:00,phone\n", encoding="utf-8")
    ingest(store, [good], CFG, append=True)
    con = store.ibis()
    assert quality.summary(con, CFG)["tables"]["tickets"]["rows"] == before + 1
    assert resolve_period(con, Filters()).end == dt.date(2024, 7, 1)
    bad = tmp_path / "deals.csv"
    bad.write_text("deal_id,stage,amount\nD99,won,not-a-number\n", encoding="utf-8")
    with pytest.raises(B2BError):
        ingest(store, [bad], CFG, append=True)
    con = store.ibis()
    assert quality.summary(con, CFG)["tables"]["tickets"]["rows"] == before + 1
    same(compute_kpis(con, CFG, Filters()), compute_kpis(live(store.ibis()), CFG, Filters()))


def test_another_stage_order_derives_the_funnel_live(demo: Store) -> None:
    stages = tuple(s for s in CFG.pipeline.stages if s != "visit")
    other = replace(CFG, pipeline=replace(CFG.pipeline, stages=stages,
                                          phases={"engage": ("lead", "qualified"), "close": stages[2:]}))
    con = demo.ibis()
    assert kept(con, "stage_visits", other) is None and kept(con, "deal_facts", other) is None
    assert kept(con, "quality_counts", other) is not None  # the data's counts know no stages
    same(compute_kpis(con, other, Filters()), compute_kpis(live(demo.ibis()), other, Filters()))


def test_a_restricted_scope_never_reads_them(demo: Store) -> None:
    """A manager's tables are cut to their regions; numbers derived from all data must not leak in."""
    con = scoped(demo.ibis(), Scope(role="manager", regions=("华东",)))
    for rel in RELATIONS:
        assert lookup(con, rel, CFG) is None


def test_a_database_from_before_them_is_read_live(tmp_path: Path, demo: Store) -> None:
    path = tmp_path / "old.duckdb"
    path.write_bytes(demo.path.read_bytes())
    raw = duckdb.connect(str(path))
    for name in _stored(Store.at(path).ibis()):
        raw.execute(f'DROP TABLE "{name}"')
    raw.close()
    con = Store.at(path).ibis()
    assert all(lookup(con, rel, CFG) is None for rel in RELATIONS)
    same(compute_kpis(con, CFG, Filters()), compute_kpis(demo.ibis(), CFG, Filters()))


def test_quality_counts_are_the_raw_counts(demo: Store) -> None:
    con = demo.ibis()
    got = quality.summary(con, CFG)["tables"]
    raw = duckdb.connect(str(demo.path), read_only=True)
    try:
        for name in TABLES:
            sql = f'SELECT count(*) FROM "{name}"'
            if name == "deal_snapshots":  # stored compactly: one loaded row per snapshot day a stored row covers
                sql = ("SELECT count(*) FROM deal_snapshots s JOIN snapshot_days d ON d.snapshot_date >= "
                       "s.snapshot_date AND (s.valid_until IS NULL OR d.snapshot_date < s.valid_until)")
            assert got[name]["rows"] == raw.execute(sql).fetchone()[0]  # type: ignore[index]
    finally:
        raw.close()


def test_rows_changed_by_another_tool_are_read_live(tmp_path: Path, demo: Store) -> None:
    path = tmp_path / "edited.duckdb"
    path.write_bytes(demo.path.read_bytes())
    raw = duckdb.connect(str(path))
    raw.execute("DELETE FROM deals WHERE deal_id IN (SELECT deal_id FROM deals ORDER BY deal_id LIMIT 7)")
    raw.close()
    con = Store.at(path).ibis()
    assert all(lookup(con, rel, CFG) is None for rel in RELATIONS)
    got = compute_kpis(con, CFG, Filters())
    assert got["quality"]["tables"]["deals"]["rows"] == compute_kpis(demo.ibis(), CFG, Filters())[
        "quality"]["tables"]["deals"]["rows"] - 7
    same(got, compute_kpis(live(Store.at(path).ibis()), CFG, Filters()))


def _ingest_csv(store: Store, tmp_path: Path, table: str, text: str) -> None:
    path = tmp_path / f"{table}.csv"
    path.write_text(text, encoding="utf-8")
    ingest(store, [path], CFG, table=table, append=True)


def test_a_load_rebuilds_what_depends_on_the_tables_it_changed(tmp_path: Path) -> None:
    """Each load rebuilds only what its tables feed; every step still reads what live derivation reads."""
    store = Store.at(tmp_path / "db.duckdb")
    tables = _edge_cases()
    tables["tickets"].append({"ticket_id": "T3", "account_id": "A9", "opened_at": dt.datetime(2024, 3, 2)})
    write_db(store.path, tables)

    def agree() -> dict[str, Any]:
        got = compute_kpis(store.ibis(), CFG, Filters())
        same(got, compute_kpis(live(store.ibis()), CFG, Filters()))
        return got

    assert agree()["quality"]["tables"]["tickets"]["orphans"] == 1  # A9 is nobody's account yet
    # a parent's load changes its children's orphans
    _ingest_csv(store, tmp_path, "accounts", "account_id,account_name,region,segment\nA9,新客户,N,big\n")
    assert agree()["quality"]["tables"]["tickets"]["orphans"] == 0
    # stage history changes the funnel's relations
    _ingest_csv(store, tmp_path, "deal_stage_history", "deal_id,stage,entered_at\nD3,proposal,2024-01-20 10:00\n")
    assert kept(store.ibis(), "stage_visits") is not None
    agree()
    # a table nothing derived reads from the funnel: the funnel's relations are kept as they were
    _ingest_csv(store, tmp_path, "surveys",
                "response_id,account_id,submitted_at,kind,score\nS9,A2,2024-04-01 09:00,csat,2\n")
    agree()
    _ingest_csv(store, tmp_path, "deals", "deal_id,stage,account_id,owner_rep_id,created_at\n"
                                          "D8,qualified,A2,R2,2024-02-02 08:00\n")
    agree()


def test_without_stage_history_the_funnel_relations_are_not_kept(tmp_path: Path) -> None:
    tables = _edge_cases()
    tables["deal_stage_history"] = []
    store = Store.at(write_db(tmp_path / "db.duckdb", tables))
    con = store.ibis()
    assert kept(con, "deal_facts") is None and kept(con, "stage_visits") is None
    assert kept(con, "quality_counts") is not None
    same(compute_kpis(con, CFG, Filters()), compute_kpis(live(store.ibis()), CFG, Filters()))


def test_reloading_the_same_file_after_a_change_of_stages_builds_them_for_the_new_stages(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    history = tmp_path / "deal_stage_history.csv"
    history.write_text("deal_id,stage,entered_at\nD1,lead,2024-01-01 09:00\nD1,visit,2024-01-03 09:00\n",
                       encoding="utf-8")
    ingest(store, [history], CFG)
    version = store.version()
    ingest(store, [history], CFG)  # nothing changed: the file is left as it is
    assert store.version() == version
    stages = tuple(s for s in CFG.pipeline.stages if s != "qualified")
    other = replace(CFG, pipeline=replace(CFG.pipeline, stages=stages, phases={}))
    assert kept(store.ibis(), "stage_visits", other) is None
    ingest(store, [history], other)  # same rows, other stages: the derived tables follow the stages
    assert store.version() != version
    con = store.ibis()
    assert kept(con, "stage_visits", other) is not None and kept(con, "stage_visits") is None
    same(compute_kpis(con, other, Filters()), compute_kpis(live(store.ibis()), other, Filters()))


# ---- fingerprints: the compiled SQL, nothing to bump --------------------------------------------

def test_a_changed_expression_is_rebuilt_by_the_next_write_with_nothing_to_bump(
        tmp_path: Path, demo: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _copy(demo, tmp_path / "db.duckdb")
    old = funnel.DEAL_FACTS
    # the same rows by another expression, as after an edit of the funnel's code
    new = replace(old, build=lambda con, cfg: old.build(con, cfg).filter(lambda d: d.reach >= 0))
    con = store.ibis()
    assert not hasattr(materialize, "VERSION")
    assert table_name(con, new, CFG) != table_name(con, old, CFG)
    assert lookup(con, old, CFG) is not None and lookup(con, new, CFG) is None  # not found: derived live
    relations = [new if r is old else r for r in RELATIONS]
    with store.write(relations=relations, changed=()):
        pass  # a write that changes no row builds what is missing and drops what is no longer wanted
    con = store.ibis()
    assert lookup(con, new, CFG) is not None and lookup(con, old, CFG) is None
    assert _stored(con) == {table_name(con, r, CFG) for r in relations} | RECORDS
    monkeypatch.setattr(funnel, "DEAL_FACTS", new)  # the funnel's code as edited
    same(compute_kpis(con, CFG, Filters()), compute_kpis(live(store.ibis()), CFG, Filters()))


def test_the_fingerprint_is_the_sql_compiled_once_and_looked_up_once_per_backend(
        demo: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard asks on every filter change: after the first look-up a backend asks nothing
    of the database, and a new backend (a new version) compiles nothing again."""
    calls: list[Any] = []

    def build(con: Any, cfg: Config) -> ir.Table:
        calls.append(con)
        return DATE_RANGE.build(con, cfg)

    same_sql = replace(DATE_RANGE, build=build)  # other code, the same SQL: the same table
    a, b = demo.ibis(), demo.ibis()
    assert lookup(a, same_sql) is not None and len(calls) == 1
    assert lookup(a, same_sql) is not None and lookup(b, same_sql) is not None and len(calls) == 1
    for rel in RELATIONS:
        assert lookup(a, rel, CFG) is not None

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("asked the database again")

    for name in ("_stored", "_layout", "_rows_agree"):
        monkeypatch.setattr(materialize, name, boom)
    for rel in RELATIONS:
        assert lookup(a, rel, CFG) is lookup(a, rel, CFG) is not None


def test_fingerprints_are_the_same_in_another_process(demo: Store) -> None:
    """A reader in another process (the dashboard) finds what the writer kept: the compiled SQL
    depends on nothing but the expression and the tables (no random names, no hash order)."""
    code = ("import json, sys\n"
            "from b2bmetrics.metrics.materialized import RELATIONS\n"
            "from b2bmetrics.store import Store\n"
            "from b2bmetrics.store.materialize import table_name\n"
            "con = Store.at(sys.argv[1]).ibis()\n"
            "print(json.dumps([table_name(con, r) for r in RELATIONS]))\n")
    con = demo.ibis()
    here = [table_name(con, r, CFG) for r in RELATIONS]
    for seed in ("1", "3"):  # string hashes, and so the order of sets, differ between these two
        out = subprocess.run([sys.executable, "-c", code, str(demo.path)], cwd=ROOT, capture_output=True, text=True,
                             check=True, env={"PYTHONHASHSEED": seed, "PATH": ""})
        assert json.loads(out.stdout) == here, seed


def test_a_load_after_another_tool_changed_rows_rebuilds_everything(tmp_path: Path, demo: Store) -> None:
    """A load of one table must not vouch for relations another tool made stale: the counts of the
    tables it did not load disagree, so every relation is built again."""
    store = _copy(demo, tmp_path / "edited.duckdb")
    raw = duckdb.connect(str(store.path))
    raw.execute("DELETE FROM deals WHERE deal_id IN (SELECT deal_id FROM deals ORDER BY deal_id LIMIT 7)")
    raw.close()
    _ingest_csv(store, tmp_path, "surveys",
                "response_id,account_id,submitted_at,kind,score\nS9999999,A000001,2025-04-01 09:00,csat,4\n")
    con = store.ibis()
    assert all(lookup(con, rel, CFG) is not None for rel in RELATIONS)
    got = compute_kpis(con, CFG, Filters())
    assert got["quality"]["tables"]["deals"]["rows"] == compute_kpis(demo.ibis(), CFG, Filters())[
        "quality"]["tables"]["deals"]["rows"] - 7
    same(got, compute_kpis(live(store.ibis()), CFG, Filters()))


def test_only_a_duckdb_store_keeps_relations(demo: Store) -> None:
    """Anything else is asked nothing and derives live (no exception to swallow)."""
    for con in (live(demo.ibis()), scoped(demo.ibis(), Scope(role="rep", rep_id="R0001"))):
        assert all(lookup(con, rel, CFG) is None for rel in RELATIONS)
    with pytest.raises(TypeError, match="only a DuckDB database"):
        table_name(live(demo.ibis()), DATE_RANGE)


# ---- the SQL each write records: a process of the same code compiles nothing -------------------

def test_a_reader_of_the_same_code_reads_the_recorded_sql_and_compiles_nothing(demo: Store) -> None:
    """`kpis` in a new process must not pay for compiling the relations (≈0.3 s): it finds every
    relation by the SQL the last write recorded for this code version."""
    code = ("import json, sys\n"
            "from b2bmetrics.metrics.materialized import RELATIONS\n"
            "from b2bmetrics.store import Store, materialize\n"
            "def boom(*a, **k): raise AssertionError('compiled')\n"
            "materialize._compile = boom\n"
            "con = Store.at(sys.argv[1]).ibis()\n"
            "print(json.dumps([materialize.lookup(con, r) is not None for r in RELATIONS]))\n")
    out = subprocess.run([sys.executable, "-c", code, str(demo.path)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [True] * len(RELATIONS)


def test_sql_recorded_by_other_code_is_ignored(tmp_path: Path, demo: Store) -> None:
    """A record made by another version of the package (or tampered with) is never trusted: the
    relations are found by compiling, as before, and the bogus SQL is never run."""
    store = _copy(demo, tmp_path / "db.duckdb")
    raw = duckdb.connect(str(store.path))
    names = {n for (n,) in raw.execute(f'SELECT DISTINCT relation FROM "{materialize.SQL_RECORD}"').fetchall()}
    assert {r.name for r in RELATIONS} <= {n.split(" ")[0] for n in names}  # every relation recorded
    raw.execute(f"UPDATE \"{materialize.SQL_RECORD}\" SET sql = 'SELECT 1 AS x', code = 'another version'")
    raw.close()
    materialize._SQL.clear()  # as in a new process
    con = store.ibis()
    for rel in RELATIONS:
        assert lookup(con, rel, CFG) is not None
    with store.write(relations=RELATIONS, changed=()):
        pass  # the next write records this code's SQL again
    raw = duckdb.connect(str(store.path), read_only=True)
    codes = {c for (c,) in raw.execute(f'SELECT DISTINCT code FROM "{materialize.SQL_RECORD}"').fetchall()}
    raw.close()
    assert codes == {materialize.code_version()}
