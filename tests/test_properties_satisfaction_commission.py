"""Property tests (hypothesis) for satisfaction, commission and quality invariants."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
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


money = st.floats(0.0, 1e7, allow_nan=False)


@BOUNDED
@given(plans(), money, money, st.floats(0.0, 1e6))
def test_marginal_commission_is_non_decreasing_in_revenue(plan: Plan, a: float, b: float, quota: float) -> None:
    plan = replace(plan, mode="marginal")
    lo, hi = sorted((a, b))
    assert cm.tier_commission(lo, quota, plan) <= cm.tier_commission(hi, quota, plan) + 1e-6


@BOUNDED
@given(plans(), st.lists(st.tuples(money, st.sampled_from([0.0, 1.0, 50000.0, 1e6]) | st.floats(0.0, 1e6)),
                         min_size=1, max_size=30))
def test_tier_arithmetic_over_arrays_equals_the_scalar_one_exactly(plan: Plan,
                                                                    pairs: list[tuple[float, float]]) -> None:
    # the rows of a period are computed over arrays; a statement recomputes one person with the scalar
    credited = np.array([c for c, _ in pairs])
    quota = np.array([q for _, q in pairs])
    assert cm.tier_commissions(credited, quota, plan).tolist() == [cm.tier_commission(c, q, plan) for c, q in pairs]


@BOUNDED
@given(plans(), money, st.floats(0.0, 1e6))
def test_commission_is_bounded(plan: Plan, credited: float, quota: float) -> None:
    got = cm.tier_commission(credited, quota, plan)
    top = max(t.rate for t in plan.tiers)
    assert 0.0 <= got <= credited * top + 1e-6
    if plan.cap > 0:
        assert got <= plan.cap


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
    won_q1 = [d["amount"] for d in data["deals"]
              if d["status"] == "won" and d["amount"] is not None and d["closed_at"] < dt.datetime(2024, 4, 1)]
    # every won amount is credited exactly once: split shares sum to 1, else the owner takes it
    assert math.fsum(r["credited_revenue"] for r in got["rows"]) == \
        pytest.approx(math.fsum(won_q1), abs=1e-6)
    assert got["total_payout"] == pytest.approx(math.fsum(r["payout"] for r in got["rows"]))
    for row in got["rows"]:
        assert row["attainment"] is None or row["attainment"] >= 0
        assert row["commission"] >= 0 and row["referral_commission"] >= 0 and row["clawback"] >= 0
        st_ = cm.statement(con, CFG, row["rep_id"], dt.date.fromisoformat(row["period_start"]), plan)
        assert math.fsum(st_["commission"]) == pytest.approx(row["commission"], abs=1e-6)
        assert math.fsum(st_["referral"]) == pytest.approx(row["referral_commission"], abs=1e-6)
        assert math.fsum(st_["clawback"]) == pytest.approx(row["clawback"], abs=1e-6)
        assert math.fsum(st_["credited"].fillna(0)) == pytest.approx(row["credited_revenue"], abs=1e-6)


@QUALITY_BOUNDED
@given(deal_sets())
def test_quality_rates_are_in_range(data: dict[str, list[dict[str, Any]]]) -> None:
    got = quality.summary(make_db(data), CFG)["tables"]
    for name, t in got.items():
        assert 0 <= t["orphans"] <= t["rows"], name
        assert (t["completeness"] is None) == (t["rows"] == 0)
        assert t["completeness"] is None or 0.0 <= t["completeness"] <= 1.0
