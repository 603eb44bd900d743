"""Datasets, strategies and checks the test modules share (not a test module itself: test modules
never import each other).

* `check`: `compute_kpis` against the plain-Python oracle of CONTRACT §5 (tests/contract_oracle.py),
  with `GENERATED_FILTERS`, the hypothesis strategy `datasets` and the hand-made `edge_cases`
  (tests/test_contract_oracle.py, tests/test_materialize.py read the same);
* commission: the strategies `plans` and `deal_sets` (property tests and the speed equivalence),
  and the hand-worked golden rows `COMMISSION_ROWS` over `FEB_TO_MAY` (tests/test_commission.py
  works their numbers out by hand; tests/test_commission_speed_equivalence.py reuses them).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

from hypothesis import strategies as st

from b2bmetrics.config import Config, Plan, Tier
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics import compute_kpis
from tests import contract_oracle as oracle

CFG = Config()
REL = 1e-9

# ---- the oracle comparison -------------------------------------------------------------------


def _same(a: Any, b: Any, path: str) -> None:
    """Project value `a` equals oracle value `b` (floats to REL, Decimals exactly, None only equals None)."""
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
    elif isinstance(b, decimal.Decimal):
        # exact money (CONTRACT §4 v2): a Decimal equal to the oracle's to the last digit
        assert isinstance(a, decimal.Decimal) and a == b, f"{path}: project {a!r} != oracle {b!r} (exact money)"
    elif isinstance(b, int) and not isinstance(a, float | decimal.Decimal):
        assert a == b, f"{path}: project {a!r} != oracle {b!r}"
    elif isinstance(a, decimal.Decimal):
        # an oracle float where the project is exact: equal to REL
        assert math.isclose(float(a), b, rel_tol=REL, abs_tol=1e-9), f"{path}: project {a!r} != oracle {b!r}"
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


# ---- small generated datasets for the oracle -------------------------------------------------

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


def edge_cases() -> oracle.Tables:
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


# ---- commission ------------------------------------------------------------------------------

D = dt.datetime
Q1, Q2 = dt.date(2024, 1, 1), dt.date(2024, 4, 1)
# overlaps Q1 and Q2 2024: each row still counts its whole quarter
FEB_TO_MAY = Period(dt.date(2024, 2, 10), dt.date(2024, 5, 1), True)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(1, 4))
    bounds = sorted(draw(st.lists(st.floats(0.05, 3.0), min_size=n - 1, max_size=n - 1, unique=True)))
    rates = draw(st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n))
    tiers = tuple(Tier(b, r) for b, r in zip(bounds, rates, strict=False)) + (Tier(None, rates[-1]),)
    return Plan(mode=draw(st.sampled_from(["marginal", "retroactive"])), tiers=tiers,
                cap=draw(st.sampled_from([0.0, 0.0, 1000.0, 50000.0])))


@st.composite
def deal_sets(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    people = ["R1", "R2", "E1"]
    deals, splits = [], []
    for i in range(draw(st.integers(0, 8))):
        did = f"D{i}"
        amount = draw(st.one_of(st.none(), st.floats(0.0, 200000.0).map(lambda x: round(x, 2))))
        day = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 200)))
        deals.append({"deal_id": did, "stage": "won", "status": draw(st.sampled_from(["won", "won", "lost"])),
                      "account_id": draw(st.sampled_from(["A", "B"])), "owner_rep_id": draw(st.sampled_from(people)),
                      "amount": amount, "closed_at": dt.datetime.combine(day, dt.time(12)),
                      "referrer_id": draw(st.one_of(st.none(), st.sampled_from(people)))})
        if draw(st.booleans()):
            share = draw(st.sampled_from([0.25, 0.5, 0.6]))
            splits += [{"deal_id": did, "rep_id": "R1", "share": share},
                       {"deal_id": did, "rep_id": "R2", "share": round(1 - share, 6)}]
    end = draw(st.sampled_from([None, dt.date(2024, 3, 1), dt.date(2024, 6, 1)]))
    return {
        "reps": [{"rep_id": p, "region": "n"} for p in people],
        "accounts": [{"account_id": "A"}, {"account_id": "B"}],
        "contracts": [{"contract_id": "C1", "account_id": "A", "start_date": dt.date(2023, 1, 1), "mrr": 1.0},
                      {"contract_id": "C2", "account_id": "B", "start_date": dt.date(2023, 1, 1), "end_date": end,
                       "mrr": 1.0}],
        "quotas": [{"rep_id": "R1", "period_start": dt.date(2024, 1, 1), "quota_amount": 100000.0}],
        "deals": deals,
        "deal_splits": splits,
    }


def deal(did: str, owner: str | None, amount: float | None, closed: dt.datetime | None, account: str = "A",
         status: str | None = "won", **kw: Any) -> dict[str, Any]:
    return {"deal_id": did, "stage": "won" if status in ("won", None) else status, "status": status,
            "account_id": account, "owner_rep_id": owner, "amount": amount, "closed_at": closed, **kw}


COMMISSION_ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [
        {"rep_id": "R1", "region": "north", "role": "sales"},
        {"rep_id": "R2", "region": "south", "role": "sales"},
        {"rep_id": "E1", "region": "north", "role": "employee"},
        {"rep_id": "P1", "region": "south", "role": "partner"},
    ],
    "accounts": [{"account_id": "A", "account_name": "Acme", "region": "east", "segment": "smb"},
                 {"account_id": "B", "account_name": "Beta", "region": "west", "segment": "ent"}],
    "contracts": [
        {"contract_id": "C1", "account_id": "A", "start_date": dt.date(2023, 1, 1), "mrr": 10.0},
        # B is active 2024-01-01 … 2024-04-30 (end_date is the first inactive day)
        {"contract_id": "C2", "account_id": "B", "start_date": dt.date(2024, 1, 1), "end_date": dt.date(2024, 5, 1),
         "mrr": 10.0},
    ],
    "quotas": [
        {"rep_id": "R1", "period_start": Q1, "quota_amount": 100000.0},
        {"rep_id": "R1", "period_start": Q2, "quota_amount": 50000.0},
        # not the first day of a quarter: ignored in quarter mode
        {"rep_id": "R2", "period_start": dt.date(2024, 2, 1), "quota_amount": 99999.0},
    ],
    "deals": [
        deal("D1", "R1", 80000.0, D(2024, 1, 15, 10)),
        deal("D2", "R1", 50000.0, D(2024, 3, 31, 23), referrer_id="E1"),
        deal("D3", "R2", 10000.0, D(2024, 2, 20)),  # split R1 60 % / R2 40 %
        # B lapses on 2024-05-01: day 0 = 03-10, +90 = 2024-06-08 -> clawed back in Q2
        deal("D4", "R2", 20000.0, D(2024, 3, 10), account="B", referrer_id="E1"),
        deal("D5", "R1", 30000.0, D(2024, 5, 5), referrer_id="R1"),  # refers own deal: no referral
        deal("D6", "X9", 5000.0, D(2024, 4, 20), referrer_id="P1"),  # owner not in reps
        deal("D7", "R1", 99999.0, D(2024, 2, 1), status="lost"),
        deal("D8", "R1", None, None, status="open"),
        deal("D9", "R1", None, D(2024, 2, 2)),  # won without amount: credits nothing
        deal("D10", "R1", 40000.0, None),  # won without close date: in no period
        deal("D11", "R2", 1000.0, D(2024, 4, 2), status=None),  # no status, stage won -> won
    ],
    "deal_splits": [{"deal_id": "D3", "rep_id": "R1", "share": 0.6},
                    {"deal_id": "D3", "rep_id": "R2", "share": 0.4}],
}
