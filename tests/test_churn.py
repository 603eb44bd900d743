"""Golden tests for metrics/churn.py on fixtures small enough to compute by hand.

Active on d ⇔ a contract with start_date ≤ d and (end_date empty or end_date > d).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, resolve_period
from b2bmetrics.metrics import churn
from tests.conftest import make_db

D = dt.date
T = dt.datetime
CFG = Config()
Q1 = Filters(date_from=D(2024, 1, 1), date_to=D(2024, 3, 31))


def k(cid: str, acc: str, start: dt.date, end: dt.date | None, mrr: float) -> dict[str, Any]:
    return {"contract_id": cid, "account_id": acc, "start_date": start, "end_date": end, "mrr": mrr}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "rep_name": "Zhang Wei", "region": "north"},
             {"rep_id": "r2", "rep_name": "Li Na", "region": "south"}],
    "accounts": [
        *({"account_id": a, "account_name": a.upper(), "region": "east", "segment": "smb",
           "owner_rep_id": "r1" if a == "a" else "r2"} for a in "abc"),
        *({"account_id": a, "account_name": a.upper(), "region": "west", "segment": "ent",
           "owner_rep_id": "r1" if a == "e" else "r2"} for a in "defghij"),
    ],
    "contracts": [
        k("a1", "a", D(2023, 6, 1), None, 100.0),  # steady: 100 -> 100
        k("b1", "b", D(2023, 6, 1), D(2024, 3, 31), 50.0),  # ends exactly on `to`: not active then -> churned
        k("c1", "c", D(2023, 6, 1), D(2024, 2, 15), 80.0),  # contraction: 80 -> 40
        k("c2", "c", D(2024, 2, 15), None, 40.0),
        k("d1", "d", D(2024, 2, 10), None, 70.0),  # new in the period: outside S
        k("e1", "e", D(2023, 1, 1), None, 60.0),  # expansion: 60 -> 90
        k("e2", "e", D(2024, 3, 1), None, 30.0),
        k("f1", "f", D(2023, 12, 1), D(2024, 2, 1), 30.0),  # churned mid-period
        k("g1", "g", D(2023, 6, 1), D(2024, 1, 1), 99.0),  # ends exactly on `from`: not in S
        k("h1", "h", D(2024, 1, 1), None, 20.0),  # starts exactly on `from`: in S
        k("i1", "i", D(2023, 10, 1), D(2024, 4, 1), 10.0),  # ends the day after `to`: still active on `to`
        k("j1", "j", D(2024, 1, 10), D(2024, 2, 20), 5.0),  # new in January, gone in February
    ],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def run(con: Any, filters: Filters, cfg: Config = CFG) -> dict[str, Any]:
    return churn.summary(con, cfg, filters, resolve_period(con, filters))


def test_summary_golden(con: Any) -> None:
    out = run(con, Q1)
    # S (active on Jan 1) = a, b, c, e, f, h, i; d and j start later, g ended on Jan 1
    assert out["active_accounts_start"] == 7
    assert out["churned_accounts"] == 2  # b (end_date = Mar 31 is not > Mar 31), f
    assert out["logo_churn_rate"] == pytest.approx(2 / 7)
    assert out["mrr_start"] == 350.0  # 100 + 50 + 80 + 60 + 30 + 20 + 10
    assert out["mrr_end"] == 260.0  # 100 + 0 + 40 + 90 + 0 + 20 + 10
    # Σ min(to, from): 100 + 0 + 40 + 60 + 0 + 20 + 10 = 230
    assert out["gross_revenue_retention"] == pytest.approx(230 / 350)
    assert out["net_revenue_retention"] == pytest.approx(260 / 350)
    assert list(out) == ["active_accounts_start", "churned_accounts", "logo_churn_rate", "mrr_start", "mrr_end",
                         "gross_revenue_retention", "net_revenue_retention"]
    # money is exact (CONTRACT §4 v2): Decimals; the ratios are floats
    assert type(out["active_accounts_start"]) is int and type(out["mrr_start"]) is Decimal
    assert type(out["mrr_end"]) is Decimal and type(out["gross_revenue_retention"]) is float


def test_empty_period_gives_nulls(con: Any) -> None:
    # a period before every contract (the ongoing ones are still active in 2030)
    out = run(con, Filters(date_from=D(2000, 1, 1), date_to=D(2000, 12, 31)))
    assert out == {"active_accounts_start": 0, "churned_accounts": 0, "logo_churn_rate": None, "mrr_start": 0.0,
                   "mrr_end": 0.0, "gross_revenue_retention": None, "net_revenue_retention": None}


def test_empty_database() -> None:
    con = make_db({})
    assert run(con, Filters())["logo_churn_rate"] is None
    p = resolve_period(con, Filters())
    assert churn.monthly(con, CFG, Filters(), p).empty
    assert churn.cohort_matrix(con, CFG, Filters(), p).empty
    assert churn.kaplan_meier(con, CFG, Filters(), p).empty
    assert churn.at_risk(con, CFG, Filters(), p).empty
    assert churn.lifetimes(con, CFG, Filters()).empty


def test_zero_mrr_start_is_undefined_retention() -> None:
    con = make_db({"contracts": [k("z", "z", D(2024, 1, 1), None, 0.0)]})
    out = run(con, Filters(date_from=D(2024, 1, 1), date_to=D(2024, 1, 31)))
    assert out["active_accounts_start"] == 1 and out["logo_churn_rate"] == 0.0  # 0 / 1
    assert out["gross_revenue_retention"] is None and out["net_revenue_retention"] is None  # ... / 0


def test_filters_region_segment_rep(con: Any) -> None:
    east = run(con, replace(Q1, regions=("east",)))  # a, b, c
    assert east["active_accounts_start"] == 3 and east["churned_accounts"] == 1  # b
    assert east["mrr_start"] == 230.0 and east["mrr_end"] == 140.0  # 100+50+80; 100+0+40
    assert east["gross_revenue_retention"] == pytest.approx(140 / 230)  # 100 + 0 + 40
    smb = run(con, replace(Q1, segments=("smb",)))
    assert smb == east  # the same three accounts
    r1 = run(con, replace(Q1, reps=("r1",)))  # owner r1: a, e
    assert r1["mrr_start"] == 160.0 and r1["mrr_end"] == 190.0  # 100+60; 100+90
    assert r1["gross_revenue_retention"] == 1.0  # (100 + 60) / 160: expansion is not counted
    assert r1["net_revenue_retention"] == pytest.approx(190 / 160)
    by_rep_region = run(con, replace(Q1, regions=("north",)), replace(CFG, region_of="rep"))
    assert by_rep_region == r1  # r1 is in north


def test_monthly_golden(con: Any) -> None:
    df = churn.monthly(con, CFG, Q1, resolve_period(con, Q1))
    assert [m.strftime("%Y-%m") for m in df["month"]] == ["2024-01", "2024-02", "2024-03"]
    assert list(df["from"]) == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert list(df["to"]) == [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31)]
    jan, feb, mar = (df.iloc[i] for i in range(3))
    # January: S = the 7 of the summary, all still active on Jan 31; j is new (5)
    assert (jan["active_accounts_start"], jan["churned_accounts"], jan["mrr_start"], jan["mrr_end"]) == (7, 0, 350, 350)
    assert jan["gross_revenue_retention"] == 1.0
    assert (jan["active_accounts_end"], jan["new_accounts"], jan["mrr_total_end"]) == (8, 1, 355.0)
    # February: S = a b c e h i j (f ended Feb 1): 100+50+80+60+20+10+5 = 325; on Feb 29 j is gone and c is 40
    assert (feb["active_accounts_start"], feb["churned_accounts"]) == (7, 1)
    assert feb["mrr_start"] == 325.0 and feb["mrr_end"] == 280.0  # 100+50+40+60+20+10
    assert feb["gross_revenue_retention"] == pytest.approx(280 / 325)  # nobody expanded
    assert feb["logo_churn_rate"] == pytest.approx(1 / 7)
    assert (feb["active_accounts_end"], feb["new_accounts"], feb["mrr_total_end"]) == (7, 1, 350.0)  # + d (70)
    # March: S = a b c d e h i; e expands on Mar 1 (start ≤ d): 100+50+40+70+90+20+10 = 380
    assert mar["mrr_start"] == 380.0 and mar["mrr_end"] == 330.0  # b ends on Mar 31
    assert mar["gross_revenue_retention"] == pytest.approx(330 / 380)
    assert mar["churned_accounts"] == 1


def test_monthly_clips_partial_months(con: Any) -> None:
    f = Filters(date_from=D(2024, 1, 15), date_to=D(2024, 2, 10))
    df = churn.monthly(con, CFG, f, resolve_period(con, f))
    assert list(df["from"]) == [D(2024, 1, 15), D(2024, 2, 1)]
    assert list(df["to"]) == [D(2024, 1, 31), D(2024, 2, 10)]
    # a month's row equals the summary over the same days
    one = run(con, Filters(date_from=D(2024, 2, 1), date_to=D(2024, 2, 10)))
    for key, value in one.items():
        assert df.iloc[1][key] == pytest.approx(value, nan_ok=True)


def test_cohort_matrix(con: Any) -> None:
    df = churn.cohort_matrix(con, CFG, Q1, resolve_period(con, Q1))
    got = {(c.strftime("%Y-%m"), o): (a, s) for c, o, a, s in
           zip(df["cohort"], df["month_offset"], df["active"], df["size"], strict=True)}
    # first contract in Q1: h (Jan 1), j (Jan 10) -> January; d (Feb 10) -> February
    assert got == {
        ("2024-01", 0): (2, 2),  # Jan 31: h, j
        ("2024-01", 1): (1, 2),  # Feb 29: h (j ended Feb 20)
        ("2024-01", 2): (1, 2),  # Mar 31: h
        ("2024-02", 0): (1, 1),  # Feb 29: d
        ("2024-02", 1): (1, 1),  # Mar 31: d
    }
    assert list(df.columns) == ["cohort", "month_offset", "observed_on", "active", "size", "retention"]
    assert df["retention"].between(0, 1).all()
    assert df.loc[(df["month_offset"] == 1) & (df["size"] == 2), "retention"].iloc[0] == 0.5


KM_ROWS: dict[str, list[dict[str, Any]]] = {"contracts": [
    k("k1", "k1", D(2024, 1, 1), D(2024, 1, 6), 1.0),  # churned at day 5
    k("k2", "k2", D(2024, 1, 1), D(2024, 1, 11), 1.0),  # churned at day 10
    k("k3", "k3", D(2024, 1, 1), None, 1.0),  # censored at day 30 (Jan 31)
    k("k4", "k4", D(2024, 1, 1), D(2024, 1, 11), 1.0),  # churned at day 10
    k("k5a", "k5", D(2024, 1, 1), D(2024, 1, 4), 1.0),  # a gap, then back: one lifetime, censored at 30
    k("k5b", "k5", D(2024, 1, 20), None, 1.0),
    k("k6", "k6", D(2024, 1, 21), None, 1.0),  # censored at day 10
    k("old", "old", D(2023, 1, 1), None, 1.0),  # first contract before the period: not in this cohort
]}
JAN = Filters(date_from=D(2024, 1, 1), date_to=D(2024, 1, 31))


def test_lifetimes() -> None:
    con = make_db(KM_ROWS)
    df = churn.lifetimes(con, CFG, JAN).set_index("account_id")
    assert sorted(df.index) == ["k1", "k2", "k3", "k4", "k5", "k6"]
    assert df.loc["k1", "duration_days"] == 5 and bool(df.loc["k1", "churned"])
    assert df.loc["k1", "last_active_day"] == D(2024, 1, 5)  # the day before end_date
    assert df.loc["k5", "duration_days"] == 30 and not bool(df.loc["k5", "churned"])
    assert df.loc["k6", "duration_days"] == 10 and df.loc["k6", "last_active_day"] == D(2024, 1, 31)


def test_kaplan_meier_golden() -> None:
    con = make_db(KM_ROWS)
    km = churn.kaplan_meier(con, CFG, JAN, resolve_period(con, JAN))
    assert list(km["days"]) == [0.0, 5.0, 10.0, 30.0]
    # day 5: 6 at risk, 1 event -> 5/6; day 10: 5 at risk (k2 k4 k6 k3 k5), 2 events -> 5/6 × 3/5 = 1/2
    assert km["survival"].tolist() == pytest.approx([1.0, 5 / 6, 0.5, 0.5])
    assert km["at_risk"].tolist() == [6, 6, 5, 2]
    assert km["events"].tolist() == [0, 1, 2, 0]
    assert km["censored"].tolist() == [0, 0, 1, 2]
    # log-log band at day 5: Greenwood Σ d/(n(n−d)) = 1/30; se of log(−log S) = sqrt(1/30) / |log S|
    s, z = 5 / 6, 1.959964
    se = math.sqrt(1 / 30) / abs(math.log(s))
    lo, hi = (math.exp(-math.exp(math.log(-math.log(s)) + sign * z * se)) for sign in (1, -1))
    assert km["ci_low"].iloc[1] == pytest.approx(lo, rel=1e-5)
    assert km["ci_high"].iloc[1] == pytest.approx(hi, rel=1e-5)
    assert (km["ci_low"] <= km["survival"] + 1e-12).all() and (km["survival"] <= km["ci_high"] + 1e-12).all()


KM_ALL_CENSORED: dict[str, list[dict[str, Any]]] = {"contracts": [k("x", "x", D(2024, 1, 1), None, 1.0)]}


def test_kaplan_meier_without_events() -> None:
    con = make_db(KM_ALL_CENSORED)
    km = churn.kaplan_meier(con, CFG, JAN, resolve_period(con, JAN))
    assert km["survival"].tolist() == [1.0, 1.0]
    assert km["ci_low"].tolist() == [1.0, 1.0]


HEALTH_ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "rep_name": "Zhang Wei"}],
    "accounts": [{"account_id": a, "account_name": a.upper(), "owner_rep_id": "r1"} for a in "xyzw"],
    "contracts": [
        k("x1", "x", D(2023, 6, 1), D(2024, 2, 1), 100.0),  # MRR 100 on Jan 1 (= Mar 31 − 90 days) ...
        k("x2", "x", D(2024, 2, 1), None, 70.0),  # ... 70 on Mar 31: down 30 %
        k("y1", "y", D(2023, 6, 1), None, 50.0),
        k("z1", "z", D(2023, 6, 1), D(2024, 3, 1), 20.0),  # 20 -> 40: growth costs nothing
        k("z2", "z", D(2024, 3, 1), None, 40.0),
        k("w1", "w", D(2023, 6, 1), D(2024, 3, 1), 99.0),  # not active on Mar 31: not ranked
    ],
    "activities": [
        {"activity_id": "a1", "account_id": "x", "occurred_at": T(2024, 1, 31)},  # 61 days before Apr 1 00:00
        {"activity_id": "a2", "account_id": "x", "occurred_at": T(2024, 4, 5)},  # after the day: ignored
        {"activity_id": "a3", "account_id": "y", "occurred_at": T(2024, 3, 30, 12)},
    ],
    "surveys": [
        {"response_id": "s1", "account_id": "x", "kind": "nps", "score": 10.0, "submitted_at": T(2024, 1, 2)},
        {"response_id": "s2", "account_id": "x", "kind": "nps", "score": 4.0, "submitted_at": T(2024, 3, 2)},
        {"response_id": "s3", "account_id": "x", "kind": "nps", "score": 10.0, "submitted_at": T(2024, 4, 2)},
        {"response_id": "s4", "account_id": "y", "kind": "csat", "score": 5.0, "submitted_at": T(2024, 3, 2)},
        {"response_id": "s5", "account_id": "z", "kind": "csat", "score": 3.0, "submitted_at": T(2024, 3, 2)},
    ],
    "tickets": [
        {"ticket_id": "t1", "account_id": "x", "opened_at": T(2024, 3, 1)},  # open
        {"ticket_id": "t2", "account_id": "x", "opened_at": T(2024, 3, 1), "resolved_at": T(2024, 4, 3)},  # open then
        {"ticket_id": "t3", "account_id": "x", "opened_at": T(2024, 3, 1), "resolved_at": T(2024, 3, 3)},  # closed
        {"ticket_id": "t4", "account_id": "y", "opened_at": T(2024, 4, 3)},  # after the day
    ],
}


def test_at_risk_golden() -> None:
    con = make_db(HEALTH_ROWS)
    df = churn.at_risk(con, CFG, Q1, resolve_period(con, Q1))
    assert list(df["account_id"]) == ["x", "z", "y"]  # lowest score first; w is not active
    x = df.iloc[0]
    # activity: 61 idle days -> 30 × (61 − 30) / 60 = 15.5; NPS 4 (latest by Mar 31) -> 25;
    # 2 open tickets -> 10; MRR 100 -> 70 = −30 % -> 25 × 0.3 / 0.5 = 15; 100 − 65.5 = 34.5
    assert x["health_score"] == pytest.approx(34.5)
    assert x["days_since_activity"] == pytest.approx(61.0)
    assert x["open_tickets"] == 2 and x["mrr_change"] == pytest.approx(-0.3)
    assert churn.reasons_text(x["reasons"]) == "NPS detractor (4); no activity for 61 days; MRR down 30%; 2 open tickets"
    # codes and the numbers they quote, worst first: satisfaction 25, activity 15.5, MRR 15, tickets 10
    assert [(r.code, r.value) for r in x["reasons"]] == [("nps_detractor", 4.0), ("idle_days", 61),
                                                         ("mrr_down", 30), ("open_tickets", 2)]
    assert churn.reasons_text(x["reasons"], "zh") == "NPS 贬损者（4 分）；61 天未跟进；MRR 下降 30%；2 个未结工单"
    z = df.iloc[1]
    assert z["health_score"] == 60.0  # 100 − 30 (no activity at all) − 10 (CSAT 3)
    assert churn.reasons_text(z["reasons"]) == "no activity on record; CSAT 3/5"
    assert churn.reasons_text(z["reasons"], "zh") == "无跟进记录；CSAT 3/5"
    y = df.iloc[2]
    assert y["health_score"] == 100.0 and churn.reasons_text(y["reasons"]) == ""
    shown = churn.with_reason_text(df, "zh")  # what the pages show and download
    assert shown["reasons"].tolist()[1] == "无跟进记录；CSAT 3/5" and shown["reasons"].tolist()[2] == ""
    assert x["owner_name"] == "Zhang Wei"
    assert len(churn.at_risk(con, CFG, Q1, resolve_period(con, Q1), limit=1)) == 1


def test_health_of_one_account() -> None:
    con = make_db(HEALTH_ROWS)
    x = churn.health(con, CFG, "x", as_of=D(2024, 3, 31))
    assert x["health_score"] == pytest.approx(34.5) and x["active"] is True
    assert churn.reasons_text(x["reasons"]) == "NPS detractor (4); no activity for 61 days; MRR down 30%; 2 open tickets"
    w = churn.health(con, CFG, "w", as_of=D(2024, 3, 31))
    assert w["active"] is False
    assert churn.health(con, CFG, "nobody", as_of=D(2024, 3, 31)) == {}


def test_every_reason_reads_in_both_languages() -> None:
    R = churn.Reason
    assert set(churn.REASON_TEXT) == {"no_activity", "idle_days", "mrr_down", "open_ticket", "open_tickets",
                                      "nps_detractor", "nps_passive", "csat_low"}
    one = (R("tickets", "open_ticket", 1), R("satisfaction", "nps_passive", 7.0), R("satisfaction", "csat_low", 2.0))
    # one factor's two answers stay together; the factors are apart
    assert churn.reasons_text(one) == "1 open ticket; NPS passive (7), CSAT 2/5"
    assert churn.reasons_text(one, "zh") == "1 个未结工单；NPS 中立者（7 分），CSAT 2/5"
    assert churn.reasons_text(()) == "" and churn.reasons_text((), "zh") == ""


def test_sensible_frames_on_the_golden_fixture(con: Any) -> None:
    f = Filters()
    p = resolve_period(con, f)
    km = churn.kaplan_meier(con, CFG, f, p)
    surv = km["survival"].to_numpy()
    assert ((surv >= 0) & (surv <= 1)).all() and (np.diff(surv) <= 1e-12).all()
    monthly = churn.monthly(con, CFG, f, p)
    assert len(monthly) == (p.end.year - p.start.year) * 12 + p.end.month - p.start.month + 1  # type: ignore[union-attr]
    assert (monthly["gross_revenue_retention"].dropna() <= 1 + 1e-12).all()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from b2bmetrics.demo import write_demo
    from b2bmetrics.store import Store

    store = Store.at(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    write_demo(store, accounts=300)
    return store.ibis()


def test_sensible_frames_on_demo_data(demo: Any) -> None:
    f = Filters(date_from=D(2025, 1, 1), date_to=D(2025, 12, 31))
    p = resolve_period(demo, f)
    out = churn.summary(demo, CFG, f, p)
    assert out["active_accounts_start"] > 0 and 0 <= out["gross_revenue_retention"] <= 1
    monthly = churn.monthly(demo, CFG, f, p)
    assert len(monthly) == 12 and (monthly["gross_revenue_retention"] <= 1).all()
    assert monthly.iloc[0]["active_accounts_start"] == out["active_accounts_start"]  # both start on Jan 1
    cm = churn.cohort_matrix(demo, CFG, Filters(), resolve_period(demo, Filters()))
    assert len(cm) and cm["retention"].between(0, 1).all()
    assert (cm.loc[cm["month_offset"] == 0, "size"] > 0).all()
    km = churn.kaplan_meier(demo, CFG, Filters(), resolve_period(demo, Filters()))
    surv = km["survival"].to_numpy()
    assert surv[0] == 1.0 and surv[-1] < 1.0 and (np.diff(surv) <= 1e-12).all()
    assert (km["ci_low"] <= km["survival"] + 1e-12).all() and (km["survival"] <= km["ci_high"] + 1e-12).all()
    risk = churn.at_risk(demo, CFG, f, p, limit=20)
    assert len(risk) == 20 and list(risk["health_score"]) == sorted(risk["health_score"])
    assert risk["health_score"].between(0, 100).all()
    assert all(churn.reasons_text(r) != "" for r in risk["reasons"].iloc[:5])


# ---- exact money (CONTRACT §4 v2) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cents() -> Any:
    """10,000 accounts, each with one contract of MRR ¥0.10 or ¥0.20 (alternately) from 2023-12-01,
    and half of them (the ¥0.20 ones of even numbers below 5,000) ending on 2024-03-31."""
    accounts, contracts = [], []
    for i in range(10_000):
        accounts.append({"account_id": f"a{i:05d}"})
        contracts.append({"contract_id": f"k{i:05d}", "account_id": f"a{i:05d}", "start_date": D(2023, 12, 1),
                          "end_date": D(2024, 3, 31) if i % 2 == 0 and i < 5000 else None,
                          "mrr": "0.10" if i % 2 else "0.20"})
    return make_db({"accounts": accounts, "contracts": contracts})


def test_mrr_sums_are_exact_where_floats_drift(cents: Any) -> None:
    assert sum([0.2, 0.1] * 5000) != 1500.0  # 1500.0000000000466 in binary floats
    out = run(cents, Q1)
    assert out["active_accounts_start"] == 10_000
    # start: 5,000 × 0.20 + 5,000 × 0.10 = 1,500.00; 2,500 of the ¥0.20 contracts end on Mar 31 (not
    # active on Mar 31): end = 1,500.00 − 2,500 × 0.20 = 1,000.00
    assert type(out["mrr_start"]) is Decimal and out["mrr_start"] == Decimal("1500")
    assert type(out["mrr_end"]) is Decimal and out["mrr_end"] == Decimal("1000")
    assert out["net_revenue_retention"] == 1000 / 1500 and out["gross_revenue_retention"] == 1000 / 1500
    assert out["churned_accounts"] == 2500 and out["logo_churn_rate"] == 0.25
    assert run(cents, Q1) == out


def test_monthly_frame_carries_floats(cents: Any) -> None:
    df = churn.monthly(cents, CFG, Q1, resolve_period(cents, Q1))
    for col in ("mrr_start", "mrr_end", "mrr_total_end"):
        assert df[col].dtype == "float64"
    assert df["mrr_start"].tolist() == [1500.0, 1500.0, 1500.0]
    assert df["mrr_end"].tolist() == [1500.0, 1500.0, 1000.0]
