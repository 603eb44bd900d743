"""`compute_kpis` against an independent plain-Python oracle of CONTRACT §5 (tests/contract_oracle.py).

On the shared canonical sample exports (through ingest), on the demo dataset and on small
hypothesis-made datasets with nulls, ties, skipped stages, back-moves, splits, quota 0 and
clawbacks, each under several filter sets. Floats agree to a relative 1e-9; nulls must be nulls.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters
from b2bmetrics.metrics import compute_kpis
from b2bmetrics.store import Store
from tests import contract_oracle as oracle
from tests.conftest import SAMPLES, make_db

CFG = Config()
REL = 1e-9


# ---- comparison ------------------------------------------------------------------------------


def _same(a: Any, b: Any, path: str) -> None:
    """Project value `a` equals oracle value `b` (floats to REL, None only equals None)."""
    if b is None or a is None:
        assert a is None and b is None, f"{path}: project {a!r} != oracle {b!r}"
    elif isinstance(b, dict):
        assert isinstance(a, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in b:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(b, list | tuple):
        assert isinstance(a, list | tuple) and len(a) == len(b), f"{path}: project {a!r} != oracle {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(b, bool) or isinstance(b, str):
        assert a == b, f"{path}: project {a!r} != oracle {b!r}"
    elif isinstance(b, int) and not isinstance(a, float):
        assert a == b, f"{path}: project {a!r} != oracle {b!r}"
    else:
        assert isinstance(a, int | float), f"{path}: project {a!r} is not a number (oracle {b!r})"
        assert math.isclose(a, b, rel_tol=REL, abs_tol=1e-9), f"{path}: project {a!r} != oracle {b!r}"


def _zero_row(row: dict[str, Any]) -> bool:
    return all(abs(row[k]) < 1e-9 for k in ("credited_revenue", "commission", "referral_commission", "clawback",
                                           "payout"))


def compare(project: dict[str, Any], expected: dict[str, Any], label: str) -> None:
    for part in ("period", "funnel", "churn", "satisfaction", "quality"):
        _same(project[part], expected[part], f"{label}:{part}")
    got = {(r["rep_id"], r["period_start"]): r for r in project["commission"]["rows"]}
    want = {(r["rep_id"], r["period_start"]): r for r in expected["commission"]["rows"]}
    # a person with nothing credited, referred or clawed back in a period may be left out (§5)
    for key in set(got) | set(want):
        where = f"{label}:commission.rows{key}"
        if key not in want:
            assert _zero_row(got[key]), f"{where}: project has a row the oracle has not: {got[key]}"
        elif key not in got:
            assert _zero_row(want[key]), f"{where}: project lacks the oracle's row {want[key]}"
        else:
            _same(got[key], want[key], where)
    _same(project["commission"]["total_payout"], expected["commission"]["total_payout"],
          f"{label}:commission.total_payout")


def check(con: Any, filters: list[oracle.OFilters], label: str, tables: oracle.Tables | None = None,
          present: dict[str, tuple[str, ...]] | None = None) -> None:
    tables = tables if tables is not None else oracle.read_tables(con)
    for f in filters:
        project = compute_kpis(con, CFG, Filters(f.date_from, f.date_to, f.regions, f.segments, f.reps))
        compare(project, oracle.kpis(tables, CFG, f, present), f"{label} {f}")


def filter_sets(tables: oracle.Tables) -> list[oracle.OFilters]:
    """No filters, a period, an open-ended period, a region, a segment, a rep, and a mix."""
    regions = sorted({a["region"] for a in tables["accounts"] if a["region"] is not None})
    segments = sorted({a["segment"] for a in tables["accounts"] if a["segment"] is not None})
    reps = sorted({r["rep_id"] for r in tables["reps"]})
    lo, hi = oracle.resolve_period(tables, oracle.OFilters())
    out = [oracle.OFilters()]
    if lo is not None and hi is not None:
        mid = lo + (hi - lo) / 2
        out += [oracle.OFilters(mid - dt.timedelta(days=100), mid + dt.timedelta(days=80)),
                oracle.OFilters(date_from=mid)]
    if regions:
        out.append(oracle.OFilters(regions=(regions[0],)))
    if segments:
        out.append(oracle.OFilters(segments=(segments[-1],)))
    if reps:
        out.append(oracle.OFilters(reps=(reps[0],)))
    if regions and reps and lo is not None and hi is not None:
        out.append(oracle.OFilters(date_to=lo + (hi - lo) / 2, regions=tuple(regions[:2]), reps=tuple(reps[:3])))
    return out


# ---- the canonical samples and the demo ------------------------------------------------------


def test_canonical_samples_match_the_oracle(tmp_path: Path) -> None:
    from b2bmetrics.ingest import ingest

    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [SAMPLES / "canonical"], CFG)
    con = store.ibis()
    tables = oracle.read_tables(con)
    sets = filter_sets(tables) + [oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 12, 31)),
                                  oracle.OFilters(dt.date(2024, 7, 1), dt.date(2024, 9, 30), segments=("大型企业",))]
    check(con, sets, "canonical", tables)


def test_exports_missing_columns_match_the_oracle(tmp_path: Path) -> None:
    """Completeness counts only the canonical columns the files had (§5 "columns that are present")."""
    import csv

    from b2bmetrics.ingest import ingest

    drop = {"deals": {"referrer_id", "source"}, "surveys": {"comment", "ticket_id"}, "reps": {"team"}}
    src, out = SAMPLES / "canonical", tmp_path / "exports"
    out.mkdir()
    present: dict[str, tuple[str, ...]] = {}
    for path in sorted(src.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        cols = [c for c in rows[0] if c not in drop.get(path.stem, set())]
        present[path.stem] = tuple(cols)
        with (out / path.name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [out], CFG)
    con = store.ibis()
    check(con, [oracle.OFilters(dt.date(2024, 1, 1), dt.date(2024, 12, 31))], "missing columns",
          present=present)


def test_demo_matches_the_oracle(tmp_path: Path) -> None:
    from b2bmetrics.demo import write_demo

    store = Store.at(tmp_path / "db.duckdb")
    write_demo(store, seed=5, accounts=300)
    con = store.ibis()
    tables = oracle.read_tables(con)
    check(con, filter_sets(tables), "demo", tables)


# ---- small generated datasets ----------------------------------------------------------------

STAGES = list(CFG.pipeline.stages)
BASE = dt.datetime(2024, 1, 1)
REPS = ["R1", "R2", "R3", "R4"]
ACCOUNTS = ["A1", "A2", "A3", "A4", "A5"]


def _when(draw: Any, lo: int = 0, hi: int = 420) -> dt.datetime:
    return BASE + dt.timedelta(days=draw(st.integers(lo, hi)), hours=draw(st.sampled_from([0, 0, 9, 13.5])))


@st.composite
def datasets(draw: Any) -> oracle.Tables:
    reps = [{"rep_id": r, "region": draw(st.sampled_from(["N", "S", None])),
             "role": draw(st.sampled_from(["sales", "employee", "partner"])),
             "hire_date": draw(st.sampled_from([None, None, dt.date(2024, 1, 1), dt.date(2023, 12, 1)]))} for r in REPS]
    people = [*REPS, None, "RX"]  # RX names nobody in reps (an orphan)
    accounts = [{"account_id": a, "region": draw(st.sampled_from(["N", "S", None])),
                 "segment": draw(st.sampled_from(["big", "small", None])),
                 "owner_rep_id": draw(st.sampled_from(people))} for a in ACCOUNTS]
    quotas = [{"rep_id": r, "period_start": dt.date(2024, m, 1),
               "quota_amount": draw(st.sampled_from([0.0, 800.0, 5000.0]))}
              for r in REPS for m in (1, 4, 7, 10) if draw(st.booleans())]
    deals, history, splits = [], [], []
    for i in range(draw(st.integers(0, 9))):
        deal_id = f"D{i}"
        stage = draw(st.sampled_from([*STAGES, "lost", "won", "won", "lost"]))
        status = {"won": "won", "lost": "lost"}.get(stage, "open")
        created = _when(draw, 0, 300) if draw(st.integers(0, 5)) else None
        closed = None
        if status != "open" and draw(st.integers(0, 5)):
            closed = (created or BASE) + dt.timedelta(days=draw(st.integers(0, 150)),
                                                      hours=draw(st.sampled_from([0, 7])))
        owner = draw(st.sampled_from(people))
        # the status column may be empty (derived from the stage) or, rarely, disagree with the stage
        status_cell = draw(st.sampled_from([status, status, status, None, None, "won", "lost", "open"]))
        deals.append({"deal_id": deal_id, "stage": stage, "status": status_cell,
                      "account_id": draw(st.sampled_from([*ACCOUNTS, None, "AX"])), "owner_rep_id": owner,
                      "amount": draw(st.sampled_from([None, 0.0, 120.0, 999.99, 2500.5, 7000.0])),
                      "created_at": created, "closed_at": closed,
                      "referrer_id": draw(st.sampled_from([None, None, owner, "RX", *REPS]))})
        if draw(st.integers(0, 4)):  # some deals have no history
            when = created or _when(draw)
            walk = draw(st.lists(st.sampled_from([*STAGES[:-1], "lost"]), max_size=5))  # skips and back-moves
            for s in ([] if draw(st.booleans()) else [STAGES[0]]) + walk + ([stage] if draw(st.booleans()) else []):
                history.append({"deal_id": deal_id, "stage": s, "entered_at": when})
                when = when + dt.timedelta(days=draw(st.sampled_from([0, 0, 0.5, 3, 10, 31])))  # 0: ties
            history = list({(h["deal_id"], h["stage"], h["entered_at"]): h for h in history}.values())
        if draw(st.integers(0, 2)) == 0:
            a, b = draw(st.sampled_from([(r, s) for r in REPS for s in REPS if r != s]))
            share = draw(st.sampled_from([0.5, 0.6, 0.75]))
            splits += [{"deal_id": deal_id, "rep_id": a, "share": share},
                       {"deal_id": deal_id, "rep_id": b, "share": 1 - share}]
    contracts = []
    for i in range(draw(st.integers(0, 8))):
        start = _when(draw, 0, 300).date()
        end = draw(st.none() | st.integers(0, 200).map(lambda k, s=start: s + dt.timedelta(days=k)))
        contracts.append({"contract_id": f"C{i}", "account_id": draw(st.sampled_from([*ACCOUNTS[:3], "AX"])),
                          "start_date": start, "end_date": end, "mrr": draw(st.sampled_from([0.0, 100.0, 333.33]))})
    for d in deals:  # a contract around some closes, ending inside or after the clawback window
        if d["closed_at"] is not None and d["account_id"] is not None and draw(st.booleans()):
            close = d["closed_at"].date()
            contracts.append({"contract_id": f"K{d['deal_id']}", "account_id": d["account_id"],
                              "start_date": close - dt.timedelta(days=draw(st.sampled_from([-5, 0, 30]))),
                              "end_date": close + dt.timedelta(days=draw(st.sampled_from([1, 45, 89, 90, 91, 200]))),
                              "mrr": draw(st.sampled_from([50.0, 120.0]))})
    tickets = []
    for i in range(draw(st.integers(0, 5))):
        opened = _when(draw)
        hours = draw(st.sampled_from([None, 0, 5.5, 24, 24.01, 50]))
        tickets.append({"ticket_id": f"T{i}", "account_id": draw(st.sampled_from(ACCOUNTS)), "opened_at": opened,
                        "first_response_at": None if hours is None else opened + dt.timedelta(hours=hours),
                        "assignee_id": draw(st.sampled_from(people))})
    surveys = []
    scales = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(list(scales)))
        surveys.append({"response_id": f"S{i}", "account_id": draw(st.sampled_from(ACCOUNTS)),
                        "submitted_at": _when(draw), "kind": kind, "score": float(draw(st.integers(*scales[kind]))),
                        "ticket_id": draw(st.sampled_from([None, "T0", "TX"]))})
    return {"reps": reps, "accounts": accounts, "quotas": quotas, "deals": deals, "deal_stage_history": history,
            "deal_splits": splits, "contracts": contracts, "tickets": tickets, "surveys": surveys, "activities": []}


GENERATED_FILTERS = [
    oracle.OFilters(),
    oracle.OFilters(dt.date(2024, 2, 10), dt.date(2024, 8, 20)),
    oracle.OFilters(date_from=dt.date(2024, 5, 1)),
    oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
    oracle.OFilters(date_to=dt.date(2025, 12, 31)),  # past the data: clawbacks due after the last date
    oracle.OFilters(dt.date(2023, 1, 1), dt.date(2023, 6, 30)),  # an empty period
    oracle.OFilters(regions=("N",)),
    oracle.OFilters(segments=("big",)),
    oracle.OFilters(reps=("R1",)),
    oracle.OFilters(dt.date(2024, 3, 1), dt.date(2024, 12, 31), regions=("S",), segments=("small",), reps=("R2", "R3")),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(datasets(), st.lists(st.sampled_from(GENERATED_FILTERS), min_size=2, max_size=2, unique=True))
def test_generated_datasets_match_the_oracle(tables: oracle.Tables, filters: list[oracle.OFilters]) -> None:
    con = make_db(tables)
    check(con, filters, "generated", oracle.read_tables(con))


def _edge_cases() -> oracle.Tables:
    """Hand-made rows for the cases a random draw seldom hits together."""
    d, t = dt.date, dt.datetime
    history = [("D1", "lead", t(2024, 1, 1)), ("D1", "proposal", t(2024, 1, 5)), ("D1", "qualified", t(2024, 1, 5)),
               ("D1", "visit", t(2024, 1, 9)), ("D1", "qualified", t(2024, 1, 20, 12)), ("D1", "lost", t(2024, 1, 22)),
               ("D2", "qualified", t(2024, 2, 1)), ("D2", "negotiation", t(2024, 2, 3, 6)),
               ("D3", "lead", t(2024, 1, 3)), ("D3", "lead", t(2024, 1, 4)), ("D3", "visit", t(2024, 1, 8))]
    return {
        "reps": [{"rep_id": "R1", "region": "N"}, {"rep_id": "R2", "region": "S", "role": "employee"},
                 {"rep_id": "R3", "region": "N", "role": "partner"}],
        "accounts": [{"account_id": "A1", "region": "N", "segment": "big", "owner_rep_id": "R1"},
                     {"account_id": "A2", "region": "S", "segment": "small", "owner_rep_id": "R2"}],
        "quotas": [{"rep_id": "R1", "period_start": d(2024, 1, 1), "quota_amount": 1500.0},
                   {"rep_id": "R2", "period_start": d(2024, 1, 1), "quota_amount": 0.0},
                   {"rep_id": "R1", "period_start": d(2024, 2, 1), "quota_amount": 10.0}],  # not a period start
        "deals": [
            {"deal_id": "D1", "stage": "lost", "account_id": "A1", "owner_rep_id": "R1", "created_at": t(2024, 1, 1)},
            # won, split, referred by R3, clawed back in Q2 (its account leaves on 2024-04-15)
            {"deal_id": "D2", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
             "referrer_id": "R3", "amount": 1000.0, "created_at": t(2024, 2, 1), "closed_at": t(2024, 3, 1, 15)},
            {"deal_id": "D3", "stage": "visit", "account_id": "A2", "owner_rep_id": "R2", "created_at": t(2024, 1, 3)},
            # status says won while the stage does not; referrer is the owner (no referral)
            {"deal_id": "D4", "stage": "proposal", "status": "won", "account_id": "A2", "owner_rep_id": "R2",
             "referrer_id": "R2", "amount": 2000.0, "created_at": t(2024, 1, 10), "closed_at": t(2024, 2, 20)},
            # won without an amount, without an account, without dates
            {"deal_id": "D5", "stage": "won", "owner_rep_id": "R1", "closed_at": t(2024, 5, 2)},
            {"deal_id": "D6", "stage": "won", "owner_rep_id": "R2", "amount": 50.0},
            {"deal_id": "D7", "stage": "lead", "account_id": "A1", "owner_rep_id": "R1", "amount": 99.5,
             "created_at": t(2024, 6, 30, 23, 59)},
        ],
        "deal_stage_history": [{"deal_id": i, "stage": s, "entered_at": w} for i, s, w in history],
        "deal_splits": [{"deal_id": "D2", "rep_id": "R1", "share": 0.6}, {"deal_id": "D2", "rep_id": "R2", "share": 0.4}],
        "contracts": [{"contract_id": "C1", "account_id": "A1", "start_date": d(2024, 1, 1),
                       "end_date": d(2024, 4, 15), "mrr": 100.0},
                      {"contract_id": "C2", "account_id": "A2", "start_date": d(2024, 1, 1), "mrr": 80.0},
                      {"contract_id": "C3", "account_id": "A2", "start_date": d(2024, 3, 1),
                       "end_date": d(2024, 6, 30), "mrr": 40.0}],
        "tickets": [{"ticket_id": "T1", "account_id": "A1", "opened_at": t(2024, 3, 1, 10),
                     "first_response_at": t(2024, 3, 2, 10)},
                    {"ticket_id": "T2", "account_id": "A2", "opened_at": t(2024, 3, 1, 10)}],
        "surveys": [{"response_id": f"S{i}", "account_id": "A1", "submitted_at": t(2024, 3, 1), "kind": k, "score": v}
                    for i, (k, v) in enumerate([("nps", 0.0), ("nps", 10.0), ("csat", 5.0), ("ces", 2.0)])],
    }


def test_edge_cases_match_the_oracle() -> None:
    con = make_db(_edge_cases())
    check(con, [oracle.OFilters(), oracle.OFilters(date_to=dt.date(2024, 9, 30)),
                oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 6, 30)), oracle.OFilters(regions=("N",)),
                oracle.OFilters(reps=("R2",))], "edge")


@pytest.mark.parametrize("f", GENERATED_FILTERS[:2])
def test_empty_database_matches_the_oracle(f: oracle.OFilters) -> None:
    con = make_db({})
    check(con, [f], "empty")
