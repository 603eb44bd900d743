"""Golden tests for metrics/health_backtest.py: the health score checked against what happened.

The fixture (data as of T = 2024-06-30, the last activity), every contract from 2024-01-01, MRR flat:

    A  an activity on the 20th of each month (and on Jun 30)    score 100   never stops
    B  no activity                                              score  70   stops 2024-03-15
       an installment due Feb 20, paid Mar 5 (late on Feb 29)
    C  no activity; a ticket Feb 1 answered after 48 h            score  70   stops 2024-05-15
    D  no activity, NPS 3 (Jan 10); an installment due Jan 15,   score  45   never stops
       never paid
    E  no activity, NPS 3, 4 tickets opened Jan 5, never          score  25   stops 2024-02-10
       answered nor resolved (open: 4 × 5 = 20)

Scores by churn's weights: 100 − 30 (no activity) − 25 (detractor) − 20 (open tickets).
Month-ends Jan 31 … Jun 30; the 90-day horizon is observed for Jan 31 (+90 = Apr 30), Feb 29
(May 29) and Mar 31 (Jun 29), not Apr 30 (Jul 29 > T). The fit's month-ends: the first
int(3 × 2/3) = 2, Jan 31 and Feb 29.

Observed pairs (account, month-end) and churn within 90 days:
    Jan 31: A100 no, B70 yes (Mar 15 ≤ Apr 30), C70 NO (May 15 > Apr 30: churns after 90 days),
            D45 no, E25 yes (Feb 10)
    Feb 29: A100 no, B70 yes (Mar 15), C70 yes (May 15 ≤ May 29), D45 no
    Mar 31: A100 no, C70 yes (May 15 ≤ Jun 29), D45 no          (B stopped Mar 15: not active)
12 pairs, 5 churned.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics import accounts, health_backtest
from tests.conftest import make_db
from tests.health_fixtures import backtest_rows, k

D, T = dt.date, dt.datetime
CFG = Config()


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(backtest_rows())


@pytest.fixture(scope="module")
def result(con: Any) -> health_backtest.Backtest:
    return health_backtest.backtest(con, CFG)


def test_month_ends_and_the_observed_horizon(result: health_backtest.Backtest) -> None:
    assert result.as_of == D(2024, 6, 30)
    assert result.month_ends == (D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31),
                                 D(2024, 6, 30))
    # M + 90 ≤ T: Jan 31 + 90 = Apr 30, Feb 29 + 90 = May 29, Mar 31 + 90 = Jun 29; Apr 30 + 90 = Jul 29 > T
    assert result.observed_month_ends == (D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31))
    assert (result.scored, result.churned) == (12, 5)  # 5 + 4 + 3 pairs; B×2, C×2 (Feb, Mar), E×1


def test_churn_rate_per_band(result: health_backtest.Backtest) -> None:
    bands = result.bands.set_index("band")
    assert bands["scored"].to_dict() == {"0_40": 1, "40_60": 3, "60_80": 5, "80_100": 3}
    # 0–40: E Jan 31 (25) churned: 1/1; 40–60: D ×3, none; 80–100: A ×3, none
    # 60–80: B Jan, B Feb (both churned), C Jan (not: churns after 90 days), C Feb, C Mar (churned) -> 4/5
    assert bands["churned"].to_dict() == {"0_40": 1, "40_60": 0, "60_80": 4, "80_100": 0}
    assert bands["churn_rate"].to_dict() == {"0_40": 1.0, "40_60": 0.0, "60_80": 0.8, "80_100": 0.0}


def test_auc_with_ties_counted_half(result: health_backtest.Backtest) -> None:
    # churners: E25, B70, B70, C70, C70 (5); stayers: A100 ×3, D45 ×3, C70 (Jan) (7); 35 pairs
    # E25 is below all 7 stayers: 7; each 70 churner is below A ×3 and ties C70 Jan: 3 + ½ = 3.5, ×4 = 14
    # U = 7 + 14 = 21 -> AUC = 21 / 35 = 0.6
    assert result.auc == pytest.approx(0.6, abs=1e-15)


def test_auc_from_counts_is_mann_whitney() -> None:
    # churned scored 1 and 3, stayers 2 and 3 (n: 2, 1, 1, 3): pairs 3 × 4 = 12
    # churned 1 (×2): below 2 and 3 ×3 -> 4 each = 8; churned 3 (×1): ties the 3 stayers -> 1.5; U = 9.5
    auc = health_backtest.auc_from_counts([1, 3, 2, 3], [True, True, False, False], [2, 1, 1, 3])
    assert auc == float(Fraction(19, 24))  # 9.5 / 12
    assert health_backtest.auc_from_counts([1, 2], [True, True], [1, 1]) is None  # no stayer: undefined
    # all tied: ½
    assert health_backtest.auc_from_counts([5, 5], [True, False], [3, 4]) == 0.5


def test_kaplan_meier_step_per_band(result: health_backtest.Backtest) -> None:
    km = result.km[result.km["band"] == "60_80"]
    # every pair counts (Jan–Jun), events: B Jan 31 → Mar 15 = 29 + 15 = 44 days, B Feb 29 → 15,
    # C Jan 31 → May 15 = 29 + 31 + 30 + 15 = 105, C Feb 29 → 76, C Mar 31 → 45, C Apr 30 → 15
    assert km["days"].tolist() == [0, 15, 44, 45, 76, 105]
    assert km["at_risk"].tolist() == [6, 6, 4, 3, 2, 1]
    assert km["events"].tolist() == [0, 2, 1, 1, 1, 1]
    # S(15) = 4/6; S(44) = 4/6 × 3/4 = 1/2; S(45) = 1/2 × 2/3 = 1/3; S(76) = 1/3 × 1/2 = 1/6; S(105) = 0
    assert km["survival"].tolist() == pytest.approx([1, 4 / 6, 1 / 2, 1 / 3, 1 / 6, 0], abs=1e-15)
    top = result.km[result.km["band"] == "80_100"]
    # A on every month-end, censored at T − M: Jun 30 → 0, May 31 → 30, Apr 30 → 61, Mar 31 → 91, Feb 29 → 122,
    # Jan 31 → 151 days; no event, so survival stays 1
    assert top["days"].tolist() == [0, 30, 61, 91, 122, 151]
    assert top["censored"].tolist() == [1, 1, 1, 1, 1, 1] and (top["survival"] == 1.0).all()
    low = result.km[result.km["band"] == "0_40"]
    assert low["days"].tolist() == [0, 10] and low["survival"].tolist() == [1.0, 0.0]  # E: Jan 31 → Feb 10


def test_kaplan_meier_matches_scipy() -> None:
    from scipy import stats

    durations, events, n = [3, 3, 5, 7, 7, 9], [True, False, True, True, False, False], [2, 1, 1, 1, 2, 1]
    km = health_backtest.kaplan_meier(durations, events, n)
    sample = np.repeat(durations, n).astype(float)
    censored = np.repeat(~np.array(events), n)
    ref = stats.ecdf(stats.CensoredData.right_censored(sample, censored)).sf
    for day, surv in zip(km["days"][1:], km["survival"][1:], strict=True):
        assert surv == pytest.approx(float(ref.evaluate(day)), abs=1e-12)
    # by hand: 8 followed; at 3: 2 of 8 churn, 1 censored -> S = 6/8; at 5: 1 of 5 -> 6/8 × 4/5 = 0.6;
    # at 7: 1 of 4 (2 censored) -> 0.6 × 3/4 = 0.45; at 9: 1 censored -> 0.45
    assert km["survival"].tolist() == pytest.approx([1, 0.75, 0.6, 0.45, 0.45], abs=1e-15)
    assert km["at_risk"].tolist() == [8, 8, 5, 4, 1]


def test_factors_late_payment_and_slow_response(result: health_backtest.Backtest) -> None:
    f = result.factors.set_index("factor")
    # late 回款 on the observed month-ends: D Jan, Feb, Mar (due Jan 15, unpaid), B Feb 29 (due Feb 20, paid Mar 5)
    assert (f.loc["late_payment", "flagged"], f.loc["late_payment", "flagged_churned"]) == (4, 1)  # B Feb churned
    assert f.loc["late_payment", "other_churn_rate"] == 0.5  # E Jan, B Jan, C Feb, C Mar of 8
    # churner B Feb (1) is above A ×3 and C Jan (0): 4, ties D ×3: 1.5 -> 5.5; the 4 churners at 0 tie
    # the 4 stayers at 0: 2 each -> 8; U = 13.5 of 35
    assert f.loc["late_payment", "auc"] == float(Fraction(27, 70))
    # slow first response: E Jan (4 unanswered for > 24 h), C Feb and C Mar (48 h reply on Feb 1, within 90 days)
    assert (f.loc["slow_response", "flagged"], f.loc["slow_response", "flagged_churned"]) == (3, 3)
    assert f.loc["slow_response", "other_churn_rate"] == pytest.approx(2 / 9)  # B Jan, B Feb
    # the 3 flagged churners are above all 7 stayers: 21; the 2 others tie the 7: 7; U = 28 of 35
    assert f.loc["slow_response", "auc"] == pytest.approx(0.8, abs=1e-15)
    assert f.loc["activity", "flagged"] == 9  # everyone but A (no activity at all)
    assert f.loc["late_payment", "current_points"] == 0.0 and f.loc["activity", "current_points"] == 30.0


def test_the_fit_and_its_before_after_auc(result: health_backtest.Backtest) -> None:
    fit = result.fit
    # fit on Jan 31 and Feb 29 (9 pairs), tested on Mar 31 (3 pairs)
    assert (fit["fit_pairs"], fit["test_pairs"]) == (9, 3)
    # before, on the fit's month-ends: churners E25, B70, B70, C70 (Feb); stayers A100 ×2, D45 ×2, C70 (Jan)
    # E: 5; each 70: A ×2 + ½ -> 2.5, ×3 = 7.5; U = 12.5 of 4 × 5 = 20
    assert fit["auc_before"] == 0.625
    # Mar 31: churner C70, stayers A100, D45: 1 of 2
    assert fit["auc_before_test"] == 0.5
    assert set(fit["coefficients"]) == set(health_backtest.FACTORS)
    assert sum(fit["points"].values()) == pytest.approx(100.0)
    assert 0.0 <= fit["auc_after"] <= 1.0


def test_stop_days_gaps_and_renewals() -> None:
    con = make_db({"contracts": [
        k("F1", "F", D(2024, 1, 1), D(2024, 3, 31)), k("F2", "F", D(2024, 3, 31), None),  # renewed that day
        k("G1", "G", D(2024, 1, 1), D(2024, 2, 15)), k("G2", "G", D(2024, 2, 20), D(2024, 6, 1)),  # 5-day gap
        k("H1", "H", D(2024, 1, 1), D(2024, 5, 1)), k("H2", "H", D(2024, 2, 1), D(2024, 3, 1)),  # inside H1
        k("J1", "J", D(2024, 1, 1), D(2024, 1, 1)),  # never active
    ]})
    got = health_backtest.stop_days(con.table("contracts")).order_by(["account_id", "stop_day"]).execute()
    pairs = [(a, pd.Timestamp(d).date()) for a, d in zip(got["account_id"], got["stop_day"], strict=True)]
    # F: F2 covers Mar 31, no stop; G: Feb 15 (G2 starts Feb 20) and Jun 1; H: Mar 1 is covered by H1, May 1
    assert pairs == [("G", D(2024, 2, 15)), ("G", D(2024, 6, 1)), ("H", D(2024, 5, 1))]


def test_no_data() -> None:
    got = health_backtest.backtest(make_db({}), CFG)
    assert got.auc is None and got.scored == 0 and got.km.empty and got.bands["scored"].sum() == 0


# ---- the at-risk list's two new factors (accounts.late_payments / slow_responses) ---------------

AS_OF = D(2024, 6, 30)  # the end of D: 2024-07-01 00:00; the 90-day look-back from 2024-04-02 00:00

FACTOR_ROWS: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"account_id": a, "account_name": a} for a in ("L1", "L2", "L3", "S1", "S2", "S3")],
    "contracts": [k(f"K{a}", a, D(2024, 1, 1), None) for a in ("L1", "L2", "L3", "S1", "S2", "S3")],
    "payments": [
        # L1: paid 23:59 on the due day + 1 (by the end of D): not late; due on D itself: due, not overdue
        {"payment_id": "X1", "account_id": "L1", "due_date": D(2024, 6, 29), "amount_due": 100.0,
         "paid_at": T(2024, 6, 30, 23, 59), "amount_paid": 100.0},
        {"payment_id": "X2", "account_id": "L1", "due_date": D(2024, 6, 30), "amount_due": 70.0},
        # L2: a partial payment (100 due, 40 paid: 60 outstanding, 29 days) and one unpaid for 91 days
        {"payment_id": "X3", "account_id": "L2", "due_date": D(2024, 6, 1), "amount_due": 100.0,
         "paid_at": T(2024, 5, 30), "amount_paid": 40.0},
        {"payment_id": "X4", "account_id": "L2", "due_date": D(2024, 3, 31), "amount_due": 50.0},
        # L3: paid the day after D (overdue on D in full, 10 days); a receipt without a plan
        {"payment_id": "X5", "account_id": "L3", "due_date": D(2024, 6, 20), "amount_due": 80.0,
         "paid_at": T(2024, 7, 1, 8), "amount_paid": 80.0},
        {"payment_id": "X6", "account_id": "L3", "paid_at": T(2024, 6, 1), "amount_paid": 30.0},
    ],
    "tickets": [
        {"ticket_id": "T1", "account_id": "S1", "opened_at": T(2024, 6, 1, 9), "first_response_at": T(2024, 6, 2, 9)},
        {"ticket_id": "T2", "account_id": "S1", "opened_at": T(2024, 6, 3, 9),
         "first_response_at": T(2024, 6, 4, 9, 1)},
        {"ticket_id": "T3", "account_id": "S2", "opened_at": T(2024, 6, 30, 2)},
        {"ticket_id": "T4", "account_id": "S2", "opened_at": T(2024, 6, 29, 22)},
        {"ticket_id": "T5", "account_id": "S3", "opened_at": T(2024, 4, 1, 12), "first_response_at": T(2024, 4, 5)},
        {"ticket_id": "T6", "account_id": "S3", "opened_at": T(2024, 6, 30, 10),
         "first_response_at": T(2024, 7, 2, 10)},
        {"ticket_id": "T7", "account_id": "S3", "opened_at": T(2024, 6, 28, 10),
         "first_response_at": T(2024, 7, 1, 12)},
    ],
    "activities": [{"activity_id": "Y", "account_id": "L1", "occurred_at": T(2024, 6, 30)}],
}


@pytest.fixture(scope="module")
def fcon() -> Any:
    return make_db(FACTOR_ROWS)


def test_late_payments_reuse_collections_overdue_rule(fcon: Any) -> None:
    acc = fcon.table("accounts").select("account_id")
    got = accounts.late_payments(fcon, acc, AS_OF).order_by("account_id").execute().set_index("account_id")
    assert got.index.tolist() == ["L2", "L3"]  # L1: paid by the end of D, and due on D is not overdue
    assert got.loc["L2", "late_installments"] == 2
    assert float(got.loc["L2", "overdue_amount"]) == 110.0  # (100 − 40) + 50
    assert got.loc["L2", "max_days_overdue"] == 91  # Jun 30 − Mar 31 = 30 + 31 + 30
    assert (got.loc["L3", "late_installments"], float(got.loc["L3", "overdue_amount"])) == (1, 80.0)  # paid Jul 1
    assert got.loc["L3", "max_days_overdue"] == 10  # Jun 30 − Jun 20


def test_slow_first_response_against_the_sla(fcon: Any) -> None:
    acc = fcon.table("accounts").select("account_id")
    got = accounts.slow_responses(fcon, CFG, acc, AS_OF).order_by("account_id").execute().set_index("account_id")
    # S1: T1 answered at exactly 24 h (met), T2 at 24 h 1 min (slow)
    # S2: T3 unanswered for 22 h at the end of D (not yet), T4 for 26 h (slow)
    # S3: T5 opened Apr 1 (before the look-back), T6 14 h without answer by the end of D (not yet),
    #     T7 answered after D, 62 h without answer by then (slow)
    assert got["tickets_90d"].to_dict() == {"S1": 2, "S2": 2, "S3": 2}
    assert got["slow_tickets"].to_dict() == {"S1": 1, "S2": 1, "S3": 1}


def test_at_risk_list_has_the_new_factor_columns(fcon: Any) -> None:
    period = Period(D(2024, 1, 1), AS_OF, True)
    got = accounts.at_risk(fcon, CFG, Filters(), period).set_index("account_id")
    assert list(got.reset_index().columns) == accounts.AT_RISK_COLUMNS
    assert got["late_payment"].to_dict() == {"L1": False, "L2": True, "L3": True, "S1": False, "S2": False,
                                             "S3": False}
    assert got.loc["L2", "overdue_amount"] == 110.0 and got.loc["L1", "overdue_amount"] == 0.0
    assert got["slow_response"].to_dict() == {"L1": False, "L2": False, "L3": False, "S1": True, "S2": True,
                                              "S3": True}
    assert got.loc["L1", "late_installments"] == 0 and got.loc["S3", "slow_tickets"] == 1


# ---- the demo: the same data gives the same AUC twice --------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from b2bmetrics.demo import write_demo
    from b2bmetrics.store import Store

    store = Store.at(tmp_path_factory.mktemp("hb_demo") / "demo.duckdb")
    write_demo(store, accounts=300)
    return store.ibis()


@pytest.mark.slow
def test_demo_backtest_is_deterministic(demo: Any) -> None:
    first = health_backtest.backtest(demo, CFG)
    second = health_backtest.backtest(demo, CFG)
    assert first.auc is not None and 0.0 <= first.auc <= 1.0
    assert first.auc == second.auc  # exactly: integer counts and one Fraction
    assert first.fit == second.fit
    pd.testing.assert_frame_equal(first.bands, second.bands)
    pd.testing.assert_frame_equal(first.km, second.km)
    pd.testing.assert_frame_equal(first.factors, second.factors)
    assert first.scored == int(first.bands["scored"].sum()) and first.churned == int(first.bands["churned"].sum())


def _scored_one_by_one(con: Any, every: int = 1) -> pd.DataFrame:
    """Each month-end (every `every`-th) scored on its own, by `churn`'s and `accounts`' own functions."""
    from b2bmetrics.metrics import churn
    from b2bmetrics.metrics._rules import contract_active_on

    c = con.table("contracts")
    frames = []
    for day in health_backtest.plan(con).month_ends[::every]:
        base = c.filter(contract_active_on(c, day)).select("account_id").distinct()
        h = churn._health_table(con, base, day)
        h = h.select("account_id", score=h.health_score.round(1))  # rounded as the backtest rounds, in the database
        got = accounts.with_factors(con, CFG, h, day).execute()
        frames.append(got.assign(month_end=pd.Timestamp(day)))
    return (pd.concat(frames).sort_values(["month_end", "account_id"])
            [["month_end", "account_id", "score", "late_payment", "slow_response"]].reset_index(drop=True))


def test_all_month_ends_at_once_score_as_each_one_alone(con: Any) -> None:
    """The shifted copy of every month-end scores each pair as the real rows score as of its day."""
    got = health_backtest.pair_frame(con, CFG)
    want = _scored_one_by_one(con)
    got = got.assign(month_end=pd.to_datetime(got["month_end"]), late_payment=got["late_payment"].astype(bool),
                     slow_response=got["slow_response"].astype(bool))[want.columns]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
    # A 100, B 70, C 70, D 45, E 25 on every month-end each is active on (5 + 4 + 3 + 3 + 2 + 2 pairs)
    assert len(got) == 19 and got.groupby("account_id")["score"].unique().map(list).to_dict() == {
        "A": [100.0], "B": [70.0], "C": [70.0], "D": [45.0], "E": [25.0]}


@pytest.mark.slow
def test_demo_all_month_ends_at_once_score_as_each_one_alone(demo: Any) -> None:
    want = _scored_one_by_one(demo, every=6)  # 7 of the 38 month-ends (every 6th, from the first)
    got = health_backtest.pair_frame(demo, CFG)
    got = got[pd.to_datetime(got["month_end"]).isin(want["month_end"])]
    got = got.assign(month_end=pd.to_datetime(got["month_end"]), late_payment=got["late_payment"].astype(bool),
                     slow_response=got["slow_response"].astype(bool))[want.columns]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


# ---- Spark: the same expressions, the same numbers ------------------------------------------------

@pytest.mark.spark
@pytest.mark.slow
def test_the_backtest_on_spark_gives_the_same_numbers(tmp_path: Any) -> None:
    pytest.importorskip("pyspark")
    from b2bmetrics.engines import export_parquet, spark_backend
    from b2bmetrics.store import Store
    from tests.conftest import write_db

    path = write_db(tmp_path / "hb.duckdb", backtest_rows())
    store = Store.at(path)
    export_parquet(store, tmp_path / "parquet")
    spark = spark_backend(tmp_path / "parquet", "local[2]")
    duck, on_spark = health_backtest.backtest(store.ibis(), CFG), health_backtest.backtest(spark, CFG)
    assert on_spark.auc == duck.auc == pytest.approx(0.6)  # 21 / 35, as on DuckDB
    assert (on_spark.scored, on_spark.churned) == (duck.scored, duck.churned) == (12, 5)
    pd.testing.assert_frame_equal(on_spark.bands, duck.bands)
    pd.testing.assert_frame_equal(on_spark.km, duck.km)
    pd.testing.assert_frame_equal(on_spark.factors, duck.factors)
