"""Property tests (hypothesis) for the funnel and churn: invariants, and agreement with a plain-Python
reading of CONTRACT §5 on random small datasets."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period, resolve_period
from b2bmetrics.metrics import churn, funnel
from tests.conftest import make_db

# each example builds a database and runs a few queries (~0.1 s each): bounded
DB_BOUNDED = settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CFG = Config()
STAGES = list(CFG.pipeline.stages)
LOST = CFG.pipeline.lost_stage
T0 = dt.datetime(2024, 1, 1)
D0 = dt.date(2024, 1, 1)


# ---- funnel -------------------------------------------------------------------------------

@st.composite
def funnel_data(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    deals, hist = [], []
    for i in range(draw(st.integers(0, 8))):
        did = f"d{i}"
        created = draw(st.one_of(st.none(), st.integers(0, 60 * 24)))
        closed = draw(st.one_of(st.none(), st.integers(0, 90 * 24)))
        deals.append({
            "deal_id": did,
            "stage": draw(st.sampled_from([*STAGES, LOST])),
            "status": draw(st.sampled_from([None, "open", "won", "lost"])),
            "amount": draw(st.one_of(st.none(), st.sampled_from([0.0, 10.0, 99.5, 1000.0]))),
            "created_at": None if created is None else T0 + dt.timedelta(hours=created),
            "closed_at": None if closed is None else T0 + dt.timedelta(hours=closed),
        })
        entries = draw(st.lists(st.tuples(st.sampled_from([*STAGES, LOST]), st.integers(0, 90 * 24)),
                                max_size=5, unique=True))
        hist += [{"deal_id": did, "stage": s, "entered_at": T0 + dt.timedelta(hours=h)} for s, h in entries]
    return {"deals": deals, "deal_stage_history": hist}


periods = st.one_of(
    st.just(Filters()),
    st.tuples(st.integers(0, 70), st.integers(0, 70)).map(
        lambda ab: Filters(date_from=D0 + dt.timedelta(days=min(ab)), date_to=D0 + dt.timedelta(days=max(ab)))),
)


def status_of(d: dict[str, Any]) -> str:
    if d["status"] is not None:
        return str(d["status"])
    return "won" if d["stage"] == STAGES[-1] else "lost" if d["stage"] == LOST else "open"


def funnel_by_hand(data: dict[str, list[dict[str, Any]]], period: Period) -> dict[str, Any]:
    """CONTRACT §5 "Funnel" read literally, in plain Python."""
    def in_cohort(d: dict[str, Any]) -> bool:
        if d["created_at"] is None:
            return not period.given
        return (not period.empty_data and period.start is not None and period.end is not None
                and period.start <= d["created_at"].date() <= period.end)

    pos = {s: i for i, s in enumerate(STAGES)}
    cohort = [d for d in data["deals"] if in_cohort(d)]
    ids = {d["deal_id"] for d in cohort}
    reach = []
    for d in cohort:
        seen = [pos[h["stage"]] for h in data["deal_stage_history"] if h["deal_id"] == d["deal_id"]
                and h["stage"] in pos]
        cands = [0, *seen, pos.get(d["stage"], 0), len(STAGES) - 1 if status_of(d) == "won" else 0]
        reach.append(max(cands))
    entered = [sum(r >= i for r in reach) for i in range(len(STAGES))]
    visits: dict[str, list[float]] = {s: [] for s in STAGES}
    for did in ids:
        rows = sorted((h for h in data["deal_stage_history"] if h["deal_id"] == did),
                      key=lambda h: (h["entered_at"], pos.get(h["stage"], len(STAGES)), h["stage"]))
        for a, b in zip(rows, rows[1:], strict=False):
            if a["stage"] in visits:
                visits[a["stage"]].append((b["entered_at"] - a["entered_at"]).total_seconds() / 86400)
    won = [d for d in cohort if status_of(d) == "won"]
    lost = sum(status_of(d) == "lost" for d in cohort)
    opened = sum(status_of(d) == "open" for d in cohort)
    amounts = [d["amount"] for d in won if d["amount"] is not None]
    cycles = [(d["closed_at"] - d["created_at"]).total_seconds() / 86400 for d in won
              if d["closed_at"] is not None and d["created_at"] is not None]
    win_rate = len(won) / (len(won) + lost) if won or lost else None
    avg_won = sum(amounts) / len(amounts) if amounts else None
    cycle = sum(cycles) / len(cycles) if cycles else None
    velocity = (opened * win_rate * avg_won / cycle
                if win_rate is not None and avg_won is not None and cycle else None)
    return {
        "entered": entered,
        "conversion": [entered[i + 1] / entered[i] if entered[i] else None for i in range(len(STAGES) - 1)] + [None],
        "median": [statistics.median(visits[s]) if visits[s] else None for s in STAGES],
        "overall_conversion": entered[-1] / entered[0] if entered[0] else None,
        "win_rate": win_rate, "won_deals": len(won), "won_amount": float(sum(amounts)), "avg_won_amount": avg_won,
        "avg_sales_cycle_days": cycle, "open_deals": opened, "pipeline_velocity_per_day": velocity,
    }


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(a == pytest.approx(b, rel=1e-9, abs=1e-9))


@DB_BOUNDED
@given(funnel_data(), periods)
def test_funnel_matches_the_contract_read_by_hand(data: dict[str, list[dict[str, Any]]], filters: Filters) -> None:
    con = make_db(data)
    period = resolve_period(con, filters)
    out = funnel.summary(con, CFG, filters, period)
    want = funnel_by_hand(data, period)
    entered = [s["entered"] for s in out["stages"]]
    assert entered == want["entered"]
    assert all(a >= b for a, b in zip(entered, entered[1:], strict=False))  # non-increasing
    for s, conv, med in zip(out["stages"], want["conversion"], want["median"], strict=True):
        assert same(s["conversion_to_next"], conv)
        assert same(s["median_days_in_stage"], med)
        assert s["conversion_to_next"] is None or 0.0 <= s["conversion_to_next"] <= 1.0
    for key in ("overall_conversion", "win_rate", "won_deals", "won_amount", "avg_won_amount",
                "avg_sales_cycle_days", "open_deals", "pipeline_velocity_per_day"):
        assert same(out[key], want[key]), key
    for key in ("overall_conversion", "win_rate"):
        assert out[key] is None or 0.0 <= out[key] <= 1.0
    assert out["won_deals"] <= entered[-1]  # a won deal reaches the last stage


@FEW
@given(funnel_data(), periods)
def test_funnel_frames_never_crash(data: dict[str, list[dict[str, Any]]], filters: Filters) -> None:
    con = make_db(data)
    p = resolve_period(con, filters)
    summary = funnel.summary(con, CFG, filters, p)
    rep = funnel.breakdown(con, CFG, filters, p, "rep")
    assert int(rep["entered_lead"].sum()) == summary["stages"][0]["entered"]
    trend = funnel.monthly_trend(con, CFG, filters, p)
    assert trend["win_rate"].dropna().between(0, 1).all()
    moves = funnel.transitions(con, CFG, filters, p)
    assert (moves["deals"] <= moves["moves"]).all()
    tis = funnel.time_in_stage(con, CFG, filters, p)
    assert len(tis) == len(STAGES)
    assert (tis["p25_days"].dropna() <= tis["p75_days"].dropna() + 1e-9).all()
    behind = funnel.deals_behind(con, CFG, filters, p, stage=STAGES[2])
    assert len(behind) == summary["stages"][2]["entered"]


# ---- churn --------------------------------------------------------------------------------

@st.composite
def contracts(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for i in range(draw(st.integers(0, 10))):
        start = draw(st.integers(0, 90))
        length = draw(st.one_of(st.none(), st.integers(0, 60)))  # 0: ends on its start, never active
        rows.append({"contract_id": f"c{i}", "account_id": f"a{draw(st.integers(0, 4))}",
                     "start_date": D0 + dt.timedelta(days=start),
                     "end_date": None if length is None else D0 + dt.timedelta(days=start + length),
                     "mrr": draw(st.sampled_from([0.0, 10.0, 25.5, 100.0]))})
    return rows


churn_periods = st.tuples(st.integers(0, 120), st.integers(0, 120)).map(
    lambda ab: Filters(date_from=D0 + dt.timedelta(days=min(ab)), date_to=D0 + dt.timedelta(days=max(ab))))


def churn_by_hand(rows: list[dict[str, Any]], start: dt.date, end: dt.date) -> dict[str, Any]:
    def mrr(acc: str, day: dt.date) -> tuple[bool, float]:
        live = [r for r in rows if r["account_id"] == acc and r["start_date"] <= day
                and (r["end_date"] is None or r["end_date"] > day)]
        return bool(live), sum(r["mrr"] for r in live)

    accounts = {r["account_id"] for r in rows}
    s = [a for a in accounts if mrr(a, start)[0]]
    churned = [a for a in s if not mrr(a, end)[0]]
    m0 = sum(mrr(a, start)[1] for a in s)
    m1 = sum(mrr(a, end)[1] for a in s)
    grr = sum(min(mrr(a, end)[1], mrr(a, start)[1]) for a in s)
    return {"active_accounts_start": len(s), "churned_accounts": len(churned),
            "logo_churn_rate": len(churned) / len(s) if s else None, "mrr_start": float(m0), "mrr_end": float(m1),
            "gross_revenue_retention": grr / m0 if m0 else None, "net_revenue_retention": m1 / m0 if m0 else None}


@DB_BOUNDED
@given(contracts(), churn_periods)
def test_churn_matches_the_contract_read_by_hand(rows: list[dict[str, Any]], filters: Filters) -> None:
    con = make_db({"contracts": rows})
    out = churn.summary(con, CFG, filters, resolve_period(con, filters))
    assert filters.date_from is not None and filters.date_to is not None
    want = churn_by_hand(rows, filters.date_from, filters.date_to)
    for key, value in want.items():
        assert same(out[key], value), key
    assert out["logo_churn_rate"] is None or 0.0 <= out["logo_churn_rate"] <= 1.0
    assert out["gross_revenue_retention"] is None or 0.0 <= out["gross_revenue_retention"] <= 1.0 + 1e-12
    assert out["churned_accounts"] <= out["active_accounts_start"]


@FEW
@given(contracts(), churn_periods)
def test_churn_frames_agree_and_never_crash(rows: list[dict[str, Any]], filters: Filters) -> None:
    con = make_db({"contracts": rows})
    p = resolve_period(con, filters)
    monthly = churn.monthly(con, CFG, filters, p)
    for rec in monthly.to_dict("records"):  # each month is the contract's numbers over its days
        want = churn_by_hand(rows, rec["from"], rec["to"])
        for key, value in want.items():
            assert same(None if rec[key] != rec[key] else rec[key], value), (rec["month"], key)
    cm = churn.cohort_matrix(con, CFG, filters, p)
    assert cm["retention"].between(0, 1).all() if len(cm) else True
    km = churn.kaplan_meier(con, CFG, filters, p)
    if len(km):
        surv = km["survival"].to_numpy()
        assert ((surv >= 0) & (surv <= 1)).all() and (np.diff(surv) <= 1e-12).all()
        assert (km["at_risk"].diff().dropna() <= 0).all()
    risk = churn.at_risk(con, CFG, filters, p)
    assert risk["health_score"].between(0, 100).all() if len(risk) else True
    assert list(risk["health_score"]) == sorted(risk["health_score"])
