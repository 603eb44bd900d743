"""Golden tests for metrics/forecast.py (CONTRACT §5 "(v2) Forecast") on a fixture small enough to
compute by hand. Period: Q1 2024. Stages: lead 0, qualified 1, visit 2, needs_analysis 3,
proposal 4, negotiation 5, won 6.

Decided deals and their reach: w1, w2, w3 and x1 won (reach 6, the last stage, whatever their
stage: x1 sits in proposal with status won); l1 lost after proposal (4), l2 lost at lead (0, owned
by r2), l3 lost after negotiation (5, account b). Learned p of stage i = won / decided among them
with reach ≥ i: i = 0: 4/7; i = 1…4: 4/6 (l2 drops out); i = 5: 4/5 (l1 drops out); i = 6: 4/4.
`[forecast] probabilities` sets negotiation = 0.7.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.config import Config, Forecast
from b2bmetrics.filters import Filters, resolve_period
from b2bmetrics.metrics import forecast
from b2bmetrics.schema import TABLES
from tests.conftest import make_db

D = dt.date
T = dt.datetime
CFG = replace(Config(), forecast=Forecast({"negotiation": 0.7}))
Q1 = Filters(date_from=D(2024, 1, 1), date_to=D(2024, 3, 31))
STAGES = Config().pipeline.stages


def deal(did: str, stage: str, amount: float | None = None, *, owner: str = "r1", account: str = "a",
         expected: dt.datetime | None = None, category: str | None = None, probability: float | None = None,
         closed: dt.datetime | None = None, status: str | None = None) -> dict[str, Any]:
    return {"deal_id": did, "stage": stage, "account_id": account, "owner_rep_id": owner, "amount": amount,
            "created_at": T(2023, 1, 1), "closed_at": closed, "status": status, "expected_close_at": expected,
            "forecast_category": category, "probability": probability}


def history(did: str, *stages: str) -> list[dict[str, Any]]:
    return [{"deal_id": did, "stage": s, "entered_at": T(2023, 1, 1 + i)} for i, s in enumerate(stages)]


MAR = T(2024, 3, 15)
ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "region": "north"}, {"rep_id": "r2", "region": "south"}],
    "accounts": [{"account_id": "a", "region": "east", "segment": "smb"},
                 {"account_id": "b", "region": "west", "segment": "ent"}],
    "deals": [
        deal("w1", "won", 700, closed=T(2024, 2, 1)),  # closed won in the period
        deal("w2", "won", 300, closed=T(2023, 11, 1)),  # won before the period
        deal("w3", "won", None, closed=T(2024, 3, 31, 12)),  # won in the period, no amount
        deal("l1", "lost", 100, closed=T(2024, 1, 5)),
        deal("l2", "lost", 100, closed=T(2024, 1, 5), owner="r2"),
        deal("l3", "lost", 100, closed=T(2024, 1, 5), account="b"),
        # expected in Q1 (open, expected_close_at in the period)
        deal("o1", "proposal", 1000, expected=MAR, category="commit", probability=0.9),  # its own p: 900
        deal("o2", "proposal", 2000, expected=MAR, category="best_case"),  # learned 0.6: 1200
        deal("o3", "negotiation", 500, expected=MAR),  # empty category = pipeline; configured 0.7: 350
        deal("o4", "qualified", 800, expected=MAR, category="pipeline", owner="r2"),  # learned 0.6: 480
        deal("o5", "lead", None, expected=MAR, category="commit", probability=0.5),  # no amount: adds nothing
        deal("o6", "negotiation", 3000, expected=MAR, category="omitted", probability=0.8),  # in nothing
        deal("o9", "visit", 100, expected=T(2024, 3, 31, 23), category="pipeline", probability=0.0),  # 0
        deal("o11", "negotiation", 1000, expected=T(2024, 1, 1), category="best_case", probability=0.2,
             account="b"),  # its own p beats the configured one: 200
        # not expected in Q1
        deal("o7", "proposal", 4000, expected=T(2024, 4, 1), category="commit"),  # after the period
        deal("o8", "visit", 600, category="pipeline"),  # no expected close
        deal("o10", "visit", 600, expected=T(2023, 12, 31, 23), category="commit"),  # overdue: before it
        deal("x1", "proposal", 900, expected=MAR, category="commit", status="won", closed=T(2023, 6, 1)),  # not open
    ],
    "deal_stage_history": [*history("l1", "lead", "qualified", "visit", "proposal", "lost"),
                           *history("l2", "lead", "lost"),
                           *history("l3", "lead", "qualified", "negotiation", "lost")],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def run(con: Any, filters: Filters = Q1, cfg: Config = CFG) -> dict[str, Any]:
    return forecast.summary(con, cfg, filters, resolve_period(con, filters))


def probabilities(out: dict[str, Any]) -> list[float | None]:
    assert [s["stage"] for s in out["stage_probabilities"]] == list(STAGES)
    return [s["probability"] for s in out["stage_probabilities"]]


def test_summary_golden(con: Any) -> None:
    out = run(con)
    assert list(out) == ["closed_won", "commit", "best_case", "pipeline", "weighted", "stage_probabilities"]
    assert out["closed_won"] == Decimal(700)  # w1 (w2 before the period, w3 without an amount)
    assert out["commit"] == Decimal(1000)  # o1 (o5 no amount, o7 after, o10 before, x1 not open)
    assert out["best_case"] == Decimal(3000)  # o2 2000 + o11 1000
    assert out["pipeline"] == Decimal(1400)  # o3 500 (empty) + o4 800 + o9 100; o6 omitted
    # o1 1000 × 0.9 + o2 2000 × 4/6 + o3 500 × 0.7 + o4 800 × 4/6 + o9 100 × 0 + o11 1000 × 0.2
    assert out["weighted"] == pytest.approx(900 + 2000 * 4 / 6 + 350 + 800 * 4 / 6 + 0 + 200)
    assert isinstance(out["weighted"], float)
    assert all(isinstance(out[k], Decimal) for k in ("closed_won", "commit", "best_case", "pipeline"))
    assert probabilities(out) == pytest.approx([4 / 7, 4 / 6, 4 / 6, 4 / 6, 4 / 6, 0.7, 1.0])


def test_learned_probabilities_from_every_deal_in_scope(con: Any) -> None:
    # segment smb (account a) drops l3 and o11
    out = run(con, replace(Q1, segments=("smb",)))
    # smb: w1 w2 w3 x1 l1 l2 decided; i = 0: 4/6; 1…4: 4/5 (l2 out); 5: 4/4 (l1 out); 6: 1
    assert probabilities(out) == pytest.approx([4 / 6, 4 / 5, 4 / 5, 4 / 5, 4 / 5, 0.7, 1.0])
    assert out["best_case"] == Decimal(2000)  # o11 is on account b
    # o1 900 + o2 2000 × 4/5 + o3 350 + o4 800 × 4/5 + o9 0
    assert out["weighted"] == pytest.approx(900 + 1600 + 350 + 640)
    # no configured p: negotiation takes its learned 4/4
    out = run(con, replace(Q1, segments=("smb",)), Config())
    assert probabilities(out)[5] == pytest.approx(1.0)
    assert out["weighted"] == pytest.approx(900 + 1600 + 500 * 1.0 + 640)


def test_a_stage_without_decided_deals_has_no_p_and_adds_nothing(con: Any) -> None:
    # rep r2 owns l2 (lost at lead, reach 0) and o4 (qualified, expected, 800, no p of its own)
    out = run(con, replace(Q1, reps=("r2",)))
    # lead: 0 won of 1 decided = 0.0; qualified … won: no decided deal reaches them -> None; negotiation configured
    assert probabilities(out) == [0.0, None, None, None, None, 0.7, None]
    assert out["pipeline"] == Decimal(800)
    assert out["weighted"] == 0.0  # o4's stage has no p: it adds nothing
    assert out["closed_won"] == Decimal(0)


def test_region_filter_selects_deals_by_account(con: Any) -> None:
    out = run(con, replace(Q1, regions=("west",)))  # account b: l3 (lost, reach 5) and o11
    assert probabilities(out) == [0.0, 0.0, 0.0, 0.0, 0.0, 0.7, None]
    assert (out["commit"], out["pipeline"]) == (Decimal(0), Decimal(0))
    assert out["best_case"] == Decimal(1000)
    assert out["weighted"] == pytest.approx(200.0)  # o11's own 0.2
    # region_of = "rep": r1's region north holds every deal but l2 and o4
    north = run(con, replace(Q1, regions=("north",)), replace(CFG, region_of="rep"))
    assert north["pipeline"] == Decimal(600)  # o3 500 + o9 100


def test_no_data() -> None:
    out = run(make_db({}), Filters())
    assert out["closed_won"] == out["commit"] == out["best_case"] == out["pipeline"] == Decimal(0)
    assert out["weighted"] == 0.0
    assert probabilities(out) == [None] * 5 + [0.7, None]  # only the configured stage has a p


# ---- property: the categories split the expected deals' amounts; a plain reading of the weights ---

CATEGORY = st.sampled_from([None, "pipeline", "best_case", "commit", "omitted"])
DEAL = st.fixed_dictionaries({
    "stage": st.sampled_from([*STAGES[:-1], "won", "lost"]),
    "top": st.sampled_from([None, *STAGES]),  # the furthest stage in its history, if any
    "amount": st.one_of(st.none(), st.decimals(min_value=0, max_value=10_000, places=2)),
    "category": CATEGORY,
    "probability": st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
    "expected_day": st.one_of(st.none(), st.integers(min_value=-40, max_value=130)),
})
PROBABILITIES = st.dictionaries(st.sampled_from(STAGES), st.sampled_from([0.0, 0.25, 0.6, 1.0]), max_size=3)


@pytest.fixture(scope="module")
def scratch() -> Any:
    return make_db({})


def _write(con: Any, tables: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in tables.items():
        cols = TABLES[name].column_names
        con.con.execute(f'DELETE FROM "{name}"')
        if rows:
            con.con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" for _ in cols)})',
                                [[r.get(c) for c in cols] for r in rows])


@pytest.mark.slow  # about 0.3 s an example
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(deals=st.lists(DEAL, max_size=12), configured=PROBABILITIES)
def test_forecast_matches_a_plain_reading(scratch: Any, deals: list[dict[str, Any]],
                                          configured: dict[str, float]) -> None:
    rows = [deal(f"d{i}", d["stage"], d["amount"], category=d["category"], probability=d["probability"],
                 expected=None if d["expected_day"] is None else T(2024, 1, 1) + dt.timedelta(days=d["expected_day"]),
                 closed=T(2024, 2, 1) if d["stage"] in ("won", "lost") else None)
            for i, d in enumerate(deals)]
    _write(scratch, {"deals": rows, "deal_stage_history": [
        h for i, d in enumerate(deals) if d["top"] is not None for h in history(f"d{i}", "lead", d["top"])]})
    out = run(scratch, Q1, replace(Config(), forecast=Forecast(configured)))
    start, end = T(2024, 1, 1), T(2024, 4, 1)
    last = len(STAGES) - 1

    def reach(d: dict[str, Any]) -> int:
        seen = [STAGES.index(s) for s in (d["stage"], d["top"]) if s in STAGES]
        return last if d["stage"] == "won" else max(seen, default=0)

    decided = [d for d in deals if d["stage"] in ("won", "lost")]
    learned = []
    for i in range(len(STAGES)):
        at = [d for d in decided if reach(d) >= i]
        learned.append(sum(d["stage"] == "won" for d in at) / len(at) if at else None)
    stage_p = [configured.get(s, learned[i]) for i, s in enumerate(STAGES)]
    assert probabilities(out) == pytest.approx(stage_p)
    expected = [d for d, r in zip(deals, rows, strict=True)
                if r["stage"] not in ("won", "lost") and r["expected_close_at"] is not None
                and start <= r["expected_close_at"] < end and d["category"] != "omitted"]
    total = sum((d["amount"] for d in expected if d["amount"] is not None), Decimal(0))
    assert out["commit"] + out["best_case"] + out["pipeline"] == total
    weights = [(d["amount"], d["probability"] if d["probability"] is not None else stage_p[STAGES.index(d["stage"])])
               for d in expected if d["amount"] is not None]
    assert out["weighted"] == pytest.approx(sum(float(a) * p for a, p in weights if p is not None), rel=1e-12, abs=1e-9)
    assert 0.0 <= out["weighted"] <= float(total) * (1 + 1e-12)


# ---- drill-downs: the evidence behind each stage's p, the deals by category, a target's daily credit

def test_stage_evidence_counts_and_wilson_intervals(con: Any) -> None:
    rows = {r["stage"]: r for r in forecast.stage_evidence(con, CFG, Q1)}
    assert list(rows) == list(STAGES)
    lead = rows["lead"]
    assert (lead["decided"], lead["won"]) == (7, 4)  # w1 w2 w3 x1 won, l1 l2 l3 lost: all reach lead
    assert lead["learned"] == pytest.approx(4 / 7) and lead["probability"] == pytest.approx(4 / 7)
    # Wilson, z = 1.959964, p = 4/7, n = 7: centre = (p + z²/14) / (1 + z²/7) = 0.54612,
    # half = z·sqrt(p(1 − p)/7 + z²/196) / (1 + z²/7) = 0.29566
    assert (lead["learned_lo"], lead["learned_hi"]) == pytest.approx((0.250458, 0.841780), abs=1e-6)
    assert lead["small_sample"] is True  # 7 < 30
    neg = rows["negotiation"]
    assert (neg["decided"], neg["won"], neg["configured"]) == (5, 4, 0.7)  # l1 (reach 4) and l2 drop out
    assert neg["learned"] == pytest.approx(4 / 5) and neg["probability"] == 0.7  # configured wins
    assert (neg["learned_lo"], neg["learned_hi"]) == pytest.approx((0.375535, 0.963776), abs=1e-6)
    won = rows["won"]
    assert (won["decided"], won["won"], won["learned_hi"]) == (4, 4, 1.0)  # every decided deal reaching won was won
    # the p used is the summary's
    assert [rows[s]["probability"] for s in STAGES] == pytest.approx(probabilities(run(con)))
    # a scope with no decided deal: nothing learned, no interval, not "small" (there is no sample)
    none = forecast.stage_evidence(con, Config(), replace(Q1, reps=("nobody",)))
    assert all(r["decided"] == 0 and r["learned"] is None and r["learned_lo"] is None and not r["small_sample"]
               for r in none)


def test_open_deals_by_category_add_up_to_the_summary(con: Any) -> None:
    period = resolve_period(con, Q1)
    out = run(con)
    p = {s["stage"]: s["probability"] for s in out["stage_probabilities"]}
    rows = forecast.open_deals(con, CFG, Q1, period, p).execute()
    assert list(rows.columns) == list(forecast.OPEN_COLUMNS)
    # commit o1 1000, o5 (no amount); best case o2 2000, o11 1000; pipeline o4 800, o3 500 (empty), o9 100;
    # omitted o6; not listed: o7 (after), o8 (no date), o10 (before), x1 (won)
    assert list(zip(rows["forecast_category"], rows["deal_id"], strict=True)) == [
        ("commit", "o1"), ("commit", "o5"), ("best_case", "o2"), ("best_case", "o11"), ("pipeline", "o4"),
        ("pipeline", "o3"), ("pipeline", "o9"), ("omitted", "o6")]
    for category in forecast.CATEGORIES:
        part = rows.loc[rows["forecast_category"] == category, "amount"].dropna()
        assert sum(part, Decimal(0)) == out[category]
    o3 = rows[rows["deal_id"] == "o3"].iloc[0]
    assert o3["stage_probability"] == pytest.approx(0.7)  # negotiation, configured
    assert rows[rows["deal_id"] == "o2"].iloc[0]["stage_probability"] == pytest.approx(4 / 6)  # proposal, learned
    r2 = forecast.open_deals(con, CFG, replace(Q1, reps=("r2",)), period).execute()
    assert list(r2["deal_id"]) == ["o4"] and r2["stage_probability"].isna().all()  # no stage p given


def test_credit_by_day_adds_up_to_each_targets_actual() -> None:
    from b2bmetrics.metrics import targets

    rows = {
        "reps": [{"rep_id": "r1", "team": "t1", "region": "north"}, {"rep_id": "r2", "team": "t1", "region": "south"},
                 {"rep_id": "r3", "team": "t2", "region": "south"}],
        "deals": [deal("a", "won", 700, closed=T(2024, 2, 1, 9)),  # r1 wholly
                  deal("b", "won", 100, closed=T(2024, 3, 10), owner="r3"),  # split r1 25 %, r2 75 %
                  deal("c", "won", 50, closed=T(2024, 3, 10, 18), owner="r3"),  # r3 wholly
                  deal("e", "won", 999, closed=T(2024, 4, 2))],  # after to
        "deal_splits": [{"deal_id": "b", "rep_id": "r1", "share": 0.25}, {"deal_id": "b", "rep_id": "r2", "share": 0.75}],
        "payments": [{"payment_id": "p1", "deal_id": "a", "paid_at": T(2024, 2, 20), "amount_paid": 300},
                     {"payment_id": "p2", "paid_at": T(2024, 2, 20, 5), "amount_paid": 40}],  # no deal: company only
        "targets": [{"level": lv, "key": k, "period": "quarter", "period_start": D(2024, 1, 1), "basis": b,
                     "amount": 1000} for lv, k in (("company", None), ("rep", "r1"), ("team", "t1"), ("region", "south"))
                    for b in ("booked", "collected")],
    }
    c = make_db(rows)
    start, end = D(2024, 1, 1), D(2024, 3, 31)
    day = forecast.credit_by_day
    assert day(c, CFG, "company", None, "booked", start, end) == [
        (D(2024, 2, 1), Decimal("700")), (D(2024, 3, 10), Decimal("150"))]  # b 100 + c 50
    assert day(c, CFG, "rep", "r1", "booked", start, end) == [
        (D(2024, 2, 1), Decimal("700")), (D(2024, 3, 10), Decimal("25"))]  # 25 % of b
    assert day(c, CFG, "team", "t1", "booked", start, end) == [
        (D(2024, 2, 1), Decimal("700")), (D(2024, 3, 10), Decimal("100"))]  # r1 25 + r2 75
    assert day(c, CFG, "region", "south", "booked", start, end) == [(D(2024, 3, 10), Decimal("125"))]  # r2 75 + r3 50
    assert day(c, CFG, "company", None, "collected", start, end) == [(D(2024, 2, 20), Decimal("340"))]  # 300 + 40
    assert day(c, CFG, "rep", "r1", "collected", start, end) == [(D(2024, 2, 20), Decimal("300"))]  # a's owner
    summary = targets.summary(c, CFG, Filters(D(2024, 1, 1), end), resolve_period(c, Filters(D(2024, 1, 1), end)))
    for r in summary["rows"]:
        credit = day(c, CFG, r["level"], r["key"], r["basis"], start, end)
        assert sum((v for _, v in credit), Decimal(0)) == r["actual"], r
