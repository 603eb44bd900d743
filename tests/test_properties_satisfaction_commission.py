"""Property tests (hypothesis) for satisfaction, commission and quality invariants."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics import commission as cm
from b2bmetrics.metrics import quality
from b2bmetrics.metrics import satisfaction as sat
from tests.conftest import make_db
from tests.datasets import deal_sets, plans

BOUNDED = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# each example builds a database and asks several queries (~0.1 s each): fewer examples
DB_BOUNDED = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUALITY_BOUNDED = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CFG = Config()
YEAR = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31), True)


money = st.decimals(min_value=0, max_value=10**7, places=4, allow_nan=False, allow_infinity=False)
quotas = st.sampled_from([Decimal(0), Decimal(1), Decimal(50000), Decimal(10**6)]) | st.decimals(
    min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)


@BOUNDED
@given(plans(), money, money, quotas)
def test_marginal_commission_is_non_decreasing_in_revenue(plan: Plan, a: Decimal, b: Decimal, quota: Decimal) -> None:
    plan = replace(plan, mode="marginal")
    lo, hi = sorted((a, b))
    # exact decimals: no slack needed
    assert cm.tier_commission(lo, quota, plan) <= cm.tier_commission(hi, quota, plan)


@BOUNDED
@given(plans(), st.lists(st.tuples(money, quotas), min_size=1, max_size=30))
def test_tier_arithmetic_over_lists_equals_the_scalar_one(plan: Plan, pairs: list[tuple[Decimal, Decimal]]) -> None:
    # the rows of a period are computed in one pass; a statement recomputes one person with the scalar
    got = cm.tier_commissions([c for c, _ in pairs], [q for _, q in pairs], plan)
    assert got == [cm.tier_commission(c, q, plan) for c, q in pairs]


@BOUNDED
@given(plans(), money, quotas)
def test_commission_is_bounded(plan: Plan, credited: Decimal, quota: Decimal) -> None:
    got = cm.tier_commission(credited, quota, plan)
    top = max(Fraction(str(t.rate)) for t in plan.tiers)
    assert 0 <= got and Fraction(got) <= Fraction(credited) * top  # exact: no slack
    if plan.cap > 0:
        assert got <= Decimal(str(plan.cap))


@BOUNDED
@given(st.decimals(min_value=-10**6, max_value=10**6, places=6, allow_nan=False, allow_infinity=False))
def test_cents_is_within_half_a_cent_and_symmetric(value: Decimal) -> None:
    rounded = cm.cents(value)
    assert rounded.as_tuple().exponent == -2
    assert abs(rounded - value) <= Decimal("0.005")
    assert cm.cents(-value) == -rounded  # half away from zero is symmetric
    assert cm.cents(Fraction(value)) == rounded


@BOUNDED
@given(st.lists(st.fractions(min_value=-1000, max_value=1000, max_denominator=10**6), min_size=1, max_size=12))
def test_apportioned_lines_sum_to_the_rounded_total(values: list[Fraction]) -> None:
    total = cm.cents(sum(values, Fraction(0)))
    lines = cm.apportion(values, total)
    assert sum(lines, Decimal("0.00")) == total
    # each line within a cent of its exact value, and a value in whole cents is kept as it is
    assert all(abs(Fraction(line) - v) < Fraction(1, 100) for line, v in zip(lines, values, strict=True))
    assert all(Fraction(line) == v for line, v in zip(lines, values, strict=True) if (v * 100).denominator == 1)


@DB_BOUNDED
@given(st.lists(st.tuples(st.sampled_from(["csat", "nps", "ces"]), st.integers(0, 10), st.sampled_from("AB")),
                max_size=25),
       st.lists(st.tuples(st.integers(0, 200), st.booleans(), st.sampled_from("AB")), max_size=15))
def test_satisfaction_rates_are_in_range(surveys: list[tuple[str, int, str]],
                                         tickets: list[tuple[int, bool, str]]) -> None:
    scale = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
    rows = {
        "accounts": [{"account_id": "A", "region": "r1"}, {"account_id": "B", "region": "r2"}],
        "surveys": [{"response_id": f"S{i}", "account_id": acc, "kind": kind,
                     "score": float(min(max(score, scale[kind][0]), scale[kind][1])),
                     "submitted_at": dt.datetime(2024, 3, 1)} for i, (kind, score, acc) in enumerate(surveys)],
        "tickets": [{"ticket_id": f"T{i}", "account_id": acc, "opened_at": dt.datetime(2024, 3, 1),
                     "first_response_at": dt.datetime(2024, 3, 1) + dt.timedelta(hours=h) if answered else None}
                    for i, (h, answered, acc) in enumerate(tickets)],
    }
    con = make_db(rows)
    got = sat.summary(con, CFG, Filters(), YEAR)
    for rate in ("csat", "sla_met_rate"):
        assert got[rate] is None or 0.0 <= got[rate] <= 1.0
    if got["csat"] is not None:
        lo, hi = got["csat_ci"]
        assert 0.0 <= lo <= got["csat"] <= hi <= 1.0
    if got["nps"] is not None:
        assert -100.0 <= got["nps"] <= 100.0
        assert got["nps_ci"][0] <= got["nps"] <= got["nps_ci"][1]
    groups = sat.by_group(con, CFG, Filters(), YEAR, "region")
    assert int(groups["tickets"].sum()) == got["tickets"]
    assert int(groups["csat_n"].sum()) == got["csat_responses"]


@DB_BOUNDED
@given(deal_sets(), plans())
def test_credit_sums_to_won_amounts_and_statements_sum_to_rows(data: dict[str, list[dict[str, Any]]],
                                                                plan: Plan) -> None:
    con = make_db(data)
    period = Period(dt.date(2024, 1, 1), dt.date(2024, 3, 31), True)  # Q1
    got = cm.summary(con, CFG, Filters(), period, plan)
    won_q1 = [Decimal(str(d["amount"])) for d in data["deals"]
              if d["status"] == "won" and d["amount"] is not None and d["closed_at"] < dt.datetime(2024, 4, 1)]
    # every won amount is credited exactly once: split shares sum to 1, else the owner takes it
    assert sum(r["credited_revenue"] for r in got["rows"]) == sum(won_q1)
    assert got["total_payout"] == sum(r["payout"] for r in got["rows"])
    for row in got["rows"]:
        assert row["attainment"] is None or row["attainment"] >= 0
        assert row["commission"] >= 0 and row["referral_commission"] >= 0 and row["clawback"] >= 0
        assert row["payout"] == row["commission"] + row["referral_commission"] - row["clawback"]
        st_ = cm.statement(con, CFG, row["rep_id"], dt.date.fromisoformat(row["period_start"]), plan)
        assert sum(st_["commission"]) == row["commission"]
        assert sum(st_["referral"]) == row["referral_commission"]
        assert sum(st_["clawback"]) == row["clawback"]
        assert sum(st_["credited"].dropna()) == row["credited_revenue"]


@QUALITY_BOUNDED
@given(deal_sets())
def test_quality_rates_are_in_range(data: dict[str, list[dict[str, Any]]]) -> None:
    got = quality.summary(make_db(data), CFG)["tables"]
    for name, t in got.items():
        assert 0 <= t["orphans"] <= t["rows"], name
        assert (t["completeness"] is None) == (t["rows"] == 0)
        assert t["completeness"] is None or 0.0 <= t["completeness"] <= 1.0
