"""The column-wise commission rows equal a plain row-by-row reading of the same query result.

`commission.facts._facts_of` and `commission.rows._row_columns` work on arrays for speed (tens of thousands of rows at
scale). The reference below is the straightforward version they replaced: dicts keyed by
(person, period), the scalar tier arithmetic in decimals, exact fractions for the clawback rates,
rounding to cents at the end, one row at a time. Both read the very same query result, so any
difference, down to the last bit of a float (attainment), a cent or the order of the rows, is theirs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from b2bmetrics import demo
from b2bmetrics.config import Config, Plan, Tier
from b2bmetrics.filters import Filters, Period, resolve_period
from b2bmetrics.metrics import commission as cm
from b2bmetrics.metrics.commission import facts as cm_facts
from b2bmetrics.store import connect_duckdb, init_schema
from tests.conftest import make_db
from tests.datasets import COMMISSION_ROWS, FEB_TO_MAY, deal, deal_sets, plans

D = dt.datetime
CFG = Config()
FACTS_OF = cm_facts._facts_of  # the real one, whatever a test has patched in
PLANS = {
    "marginal": CFG.commission,
    "retroactive": replace(CFG.commission, mode="retroactive"),
    "month": replace(CFG.commission, period="month", clawback_days=60),
    "quota_cap": replace(CFG.commission, default_quota=60000.0, cap=3000.0,
                         tiers=(Tier(0.3, 0.01), Tier(1.0, 0.05), Tier(None, 0.5))),
    "long_clawback": replace(CFG.commission, clawback_days=400),
    "no_clawback": replace(CFG.commission, clawback_days=0),
}
WIDE = Context(prec=100)


def money(value: str) -> Decimal:
    """A value of the query: the exact amount's text (Σ amount × 10^10 with 'E-10' after it; a
    NULL sum, a quotas row without an amount, is '0')."""
    if value == "0":
        return Decimal(0)
    assert value.endswith("E-10"), value
    with localcontext(WIDE):
        return Decimal(value[:-4]) / 10**10


def reference_rows(df: pd.DataFrame, plan: Plan, periods: list[dt.date]) -> list[dict[str, Any]]:
    """The rows of `summary`, computed one key at a time from the query's long result."""
    credit: dict[Any, Decimal] = {}
    referral: dict[Any, Decimal] = {}
    quota: dict[Any, Decimal] = {}
    claw_referral: dict[Any, Decimal] = {}
    claw_credit: dict[Any, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for kind, person, start, origin, value in zip(df["kind"], df["person"], df["period_start"], df["origin"],
                                                  [money(v) for v in df["value"]], strict=True):
        key = (str(person), pd.Timestamp(start).date())
        if kind == "credit":
            credit[key] = value
        elif kind == "referral":
            referral[key] = value
        elif kind == "quota":
            quota[key] = value
        elif kind == "claw_referral":
            claw_referral[key] = claw_referral.get(key, Decimal(0)) + value
        else:
            claw_credit[key].append((pd.Timestamp(origin).date(), value))
    default_quota, referral_rate = Decimal(str(plan.default_quota)), Decimal(str(plan.referral_rate))

    def commission(key: Any) -> Decimal:
        return cm.tier_commission(credit.get(key, Decimal(0)), quota.get(key, default_quota), plan)

    def rate(key: Any) -> Fraction:
        credited = credit.get(key, Decimal(0))
        return Fraction(0) if credited == 0 else Fraction(commission(key)) / Fraction(credited)

    def clawback(key: Any) -> Decimal:
        if key not in claw_credit and key not in claw_referral:
            return Decimal("0.00")
        amounts = [Fraction(value) * rate((key[0], origin)) for origin, value in claw_credit.get(key, [])]
        return cm.cents(sum(amounts, Fraction(referral_rate) * Fraction(claw_referral.get(key, Decimal(0)))))

    keys = sorted(k for k in {*credit, *referral, *claw_credit, *claw_referral} if k[1] in set(periods))
    rows = []
    for key in keys:
        credited, q = credit.get(key, Decimal(0)), quota.get(key, default_quota)
        paid, clawed = cm.cents(commission(key)), clawback(key)
        with localcontext(WIDE):
            referred = cm.cents(referral_rate * referral.get(key, Decimal(0)))
        attainment = float(credited) / float(q) if q > 0 else None  # a float of the two nearest floats
        rows.append({"rep_id": key[0], "period_start": key[1].isoformat(), "credited_revenue": credited,
                     "quota": q, "attainment": attainment, "commission": paid,
                     "referral_commission": referred, "clawback": clawed, "payout": paid + referred - clawed})
    return rows


def canonical(value: Any) -> Any:
    """Decimals by value (the JSON prints them without trailing zeros), floats to the last bit and
    the sign of a zero, dict keys in order."""
    if isinstance(value, dict):
        return [(k, canonical(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, Decimal):
        return ("decimal", str(value.normalize()))
    if isinstance(value, float):
        return ("float", repr(value))
    return value


def assert_same_as_reference(monkeypatch: pytest.MonkeyPatch, con: Any, filters: Filters, period: Period,
                             plan: Plan) -> dict[str, Any]:
    results: list[pd.DataFrame] = []

    def keep_result(result: Any, unit: str, periods: list[dt.date]) -> cm.Facts:
        results.append(result if isinstance(result, pd.DataFrame) else result.to_pandas())
        return FACTS_OF(result, unit, periods)

    monkeypatch.setattr(cm_facts, "_facts_of", keep_result)
    got = cm.summary(con, CFG, filters, period, plan)
    rows = reference_rows(results[0], plan, cm.commission_periods(period, plan.period)) if results else []
    expected = {"total_payout": sum((r["payout"] for r in rows), Decimal("0.00")), "rows": rows}
    assert canonical(got) == canonical(expected)
    for row in got["rows"]:  # the rounded figures in cents, the payout their sum
        assert all(row[k].as_tuple().exponent == -2 for k in ("commission", "referral_commission", "clawback"))
        assert row["payout"] == row["commission"] + row["referral_commission"] - row["clawback"]
    return got


@pytest.fixture(scope="module")
def demo_con() -> Any:
    """The demo dataset (300 accounts) in memory."""
    con = connect_duckdb()
    init_schema(con)
    for name, table in demo.generate(seed=7, accounts=300).items():
        con.register("_source", table)
        con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _source')
        con.unregister("_source")
    return ibis.duckdb.from_connection(con)


@pytest.mark.parametrize("plan", PLANS, ids=list(PLANS))
@pytest.mark.parametrize("view", ["everyone", "region", "reps"])
def test_demo_rows_equal_the_reference(monkeypatch: pytest.MonkeyPatch, demo_con: Any, plan: str,
                                       view: str) -> None:
    reps = demo_con.table("reps").order_by("rep_id").rep_id.execute().tolist()
    filters = {"everyone": Filters(), "region": Filters(regions=("华东", "西部")),
               "reps": Filters(reps=(reps[0], reps[7], "NOT-A-REP"))}[view]
    got = assert_same_as_reference(monkeypatch, demo_con, filters, resolve_period(demo_con, Filters()), PLANS[plan])
    assert got["rows"], "the case should have rows to compare"
    if view == "everyone" and PLANS[plan].clawback_days > 0:
        assert any(r["clawback"] for r in got["rows"]), "the case should reach the clawback arithmetic"


@pytest.mark.parametrize("plan", PLANS, ids=list(PLANS))
def test_golden_fixture_rows_equal_the_reference(monkeypatch: pytest.MonkeyPatch, plan: str) -> None:
    con = make_db(COMMISSION_ROWS)
    for filters in (Filters(), Filters(regions=("north",)), Filters(reps=("R2", "X9"))):
        assert_same_as_reference(monkeypatch, con, filters, FEB_TO_MAY, PLANS[plan])
    assert_same_as_reference(monkeypatch, con, Filters(), Period(dt.date(2030, 1, 1), dt.date(2030, 1, 2), True),
                             PLANS[plan])


EDGES: dict[str, list[dict[str, Any]]] = {
    # ids whose sorted order is not their order of appearance, and outside ASCII
    "reps": [{"rep_id": rep, "region": "r"} for rep in ("R9", "R10", "b", "B", "张", "Z")],
    "accounts": [{"account_id": "A"}, {"account_id": "L"}, {"account_id": "M"}],
    "contracts": [
        {"contract_id": "C1", "account_id": "A", "start_date": dt.date(2023, 1, 1), "mrr": 1.0},
        # L lapses on 2024-04-01 and M on 2024-05-01: deals on them before then are clawed back
        {"contract_id": "C2", "account_id": "L", "start_date": dt.date(2023, 1, 1), "end_date": dt.date(2024, 4, 1),
         "mrr": 1.0},
        {"contract_id": "C3", "account_id": "M", "start_date": dt.date(2023, 1, 1), "end_date": dt.date(2024, 5, 1),
         "mrr": 1.0},
    ],
    "quotas": [{"rep_id": "R9", "period_start": dt.date(2024, 1, 1), "quota_amount": 10000.0},
               {"rep_id": "Z", "period_start": dt.date(2024, 1, 1), "quota_amount": None},  # a quota of 0
               {"rep_id": "B", "period_start": dt.date(2024, 4, 1), "quota_amount": 5000.0}],  # a quota alone
    "deals": [
        deal("E1", "R10", 1234.56, D(2024, 1, 20), account="L", referrer_id="张"),
        deal("E2", "R10", 0.1, D(2024, 2, 25), account="L", referrer_id="张"),
        deal("E3", "R9", 20000.3, D(2024, 3, 3), account="L", referrer_id="b"),
        deal("E4", "b", -500.0, D(2024, 3, 5), account="L"),  # a credit note: negative credit
        deal("E5", "Z", 777.7, D(2024, 2, 1), account="A", referrer_id="张"),
        deal("E6", "张", 3333.33, D(2024, 1, 9), account="L"),
        # 张's referrals from two origin periods (March and April) are clawed back in one period
        # (Q2 after 90 days, May after 60): their amounts add up
        deal("E7", "R10", 100.1, D(2024, 3, 25), account="M", referrer_id="张"),
        deal("E8", "Z", 200.2, D(2024, 4, 1), account="M", referrer_id="张"),
    ],
    "deal_splits": [{"deal_id": "E3", "rep_id": "R9", "share": 0.7}, {"deal_id": "E3", "rep_id": "Z", "share": 0.3}],
}


@pytest.mark.parametrize("plan", PLANS, ids=list(PLANS))
def test_edge_rows_equal_the_reference(monkeypatch: pytest.MonkeyPatch, plan: str) -> None:
    con = make_db(EDGES)
    whole_year = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31), True)
    got = assert_same_as_reference(monkeypatch, con, Filters(), whole_year, PLANS[plan])
    assert {"R9", "R10", "b", "Z", "张"} <= {r["rep_id"] for r in got["rows"]}
    assert "B" not in {r["rep_id"] for r in got["rows"]}  # a quota alone makes no row


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(deal_sets(), plans())
def test_random_rows_equal_the_reference(monkeypatch: pytest.MonkeyPatch, data: dict[str, list[dict[str, Any]]],
                                         plan: Plan) -> None:
    con = make_db(data)
    for period, unit in ((Period(dt.date(2024, 1, 1), dt.date(2024, 9, 30), True), "quarter"),
                         (Period(dt.date(2024, 2, 1), dt.date(2024, 5, 31), True), "month")):
        assert_same_as_reference(monkeypatch, con, Filters(), period, replace(plan, period=unit, clawback_days=45))
