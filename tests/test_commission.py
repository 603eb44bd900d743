"""Golden tests for metrics/commission/ (CONTRACT §5 "Commission"), every number worked by hand.

Default plan: bands (0, 0.5] 4 %, (0.5, 1.0] 8 %, above 12 %; marginal; default_quota 0; no cap;
referral 2 %; clawback 90 days.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from b2bmetrics.config import Config, Plan, Tier, parse_plan
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics import commission as cm
from tests.conftest import make_db
from tests.datasets import COMMISSION_ROWS, FEB_TO_MAY, Q1, Q2, deal

D = dt.datetime
CFG = Config()
# the fixture, COMMISSION_ROWS, is in tests/datasets.py (the speed-equivalence test reads it too):
# people R1, R2 (sales), E1 (employee), P1 (partner); deals D1–D11 with their notes beside them
ROWS = COMMISSION_ROWS


# The hand-worked rows for FEB_TO_MAY (marginal):
# Q1 R1: credited D1 80000 + D2 50000 + 60 % of D3 6000 = 136000, quota 100000, attainment 1.36;
#        50000·4 % + 50000·8 % + 36000·12 % = 2000 + 4000 + 4320 = 10320
# Q1 R2: 40 % of D3 4000 + D4 20000 = 24000; its quota row starts 02-01 -> default 0 ->
#        attainment null, all at 12 % = 2880 (effective rate 0.12)
# Q1 E1: referral 2 % of D2 50000 + D4 20000 = 1400
# Q2 R1: D5 30000, quota 50000, attainment 0.6: 25000·4 % + 5000·8 % = 1400; D5 refers itself
# Q2 R2: D11 1000·12 % = 120; clawback of D4 = 20000 × 0.12 = 2400 -> payout −2280
# Q2 E1: clawback of D4's referral 400 -> −400
# Q2 P1: referral 2 % of D6 5000 = 100
# Q2 X9: 5000·12 % = 600
EXPECTED = {
    ("E1", Q1): dict(credited_revenue=0.0, quota=0.0, attainment=None, commission=0.0, referral_commission=1400.0,
                     clawback=0.0, payout=1400.0),
    ("R1", Q1): dict(credited_revenue=136000.0, quota=100000.0, attainment=1.36, commission=10320.0,
                     referral_commission=0.0, clawback=0.0, payout=10320.0),
    ("R2", Q1): dict(credited_revenue=24000.0, quota=0.0, attainment=None, commission=2880.0,
                     referral_commission=0.0, clawback=0.0, payout=2880.0),
    ("E1", Q2): dict(credited_revenue=0.0, quota=0.0, attainment=None, commission=0.0, referral_commission=0.0,
                     clawback=400.0, payout=-400.0),
    ("P1", Q2): dict(credited_revenue=0.0, quota=0.0, attainment=None, commission=0.0, referral_commission=100.0,
                     clawback=0.0, payout=100.0),
    ("R1", Q2): dict(credited_revenue=30000.0, quota=50000.0, attainment=0.6, commission=1400.0,
                     referral_commission=0.0, clawback=0.0, payout=1400.0),
    ("R2", Q2): dict(credited_revenue=1000.0, quota=0.0, attainment=None, commission=120.0,
                     referral_commission=0.0, clawback=2400.0, payout=-2280.0),
    ("X9", Q2): dict(credited_revenue=5000.0, quota=0.0, attainment=None, commission=600.0,
                     referral_commission=0.0, clawback=0.0, payout=600.0),
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def rows_by_key(result: dict[str, Any]) -> dict[tuple[str, dt.date], dict[str, Any]]:
    return {(r["rep_id"], dt.date.fromisoformat(r["period_start"])): r for r in result["rows"]}


def assert_rows(got: dict[str, Any], expected: dict[tuple[str, dt.date], dict[str, Any]]) -> None:
    rows = rows_by_key(got)
    assert set(rows) == set(expected)
    for key, exp in expected.items():
        for name, value in exp.items():
            assert rows[key][name] == (None if value is None else pytest.approx(value)), (key, name)
    assert got["total_payout"] == pytest.approx(sum(e["payout"] for e in expected.values()))


def test_summary_golden_marginal(con: Any) -> None:
    got = cm.summary(con, CFG, Filters(), FEB_TO_MAY)
    assert_rows(got, EXPECTED)
    # 1400 + 10320 + 2880 − 400 + 100 + 1400 − 2280 + 600
    assert got["total_payout"] == pytest.approx(14020.0)


def test_rows_are_sorted_and_json_ready(con: Any) -> None:
    got = cm.summary(con, CFG, Filters(), FEB_TO_MAY)
    keys = [(r["period_start"], r["rep_id"]) for r in got["rows"]]
    assert keys == sorted(keys)
    assert list(got["rows"][0]) == ["rep_id", "period_start", "credited_revenue", "quota", "attainment",
                                    "commission", "referral_commission", "clawback", "payout"]
    assert all(isinstance(r["period_start"], str) for r in got["rows"])


def test_retroactive_vs_marginal_on_the_same_data(con: Any) -> None:
    plan = replace(CFG.commission, mode="retroactive")
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan))
    # Q1 R1: attainment 1.36 is in the open band -> all 136000 at 12 % = 16320 (marginal 10320)
    assert got[("R1", Q1)]["commission"] == pytest.approx(16320.0)
    # Q2 R1: attainment 0.6 is in (0.5, 1.0] -> 30000 at 8 % = 2400 (marginal 1400)
    assert got[("R1", Q2)]["commission"] == pytest.approx(2400.0)
    # quota 0 -> last band in both modes
    assert got[("R2", Q1)]["commission"] == pytest.approx(2880.0)
    total = cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan)["total_payout"]
    assert total == pytest.approx(14020.0 + (16320 - 10320) + (2400 - 1400))  # 21020


def test_each_row_counts_its_whole_quarter(con: Any) -> None:
    # two days in February still show Q1 whole: D1 (January) and D2 (March) are credited
    got = rows_by_key(cm.summary(con, CFG, Filters(), Period(dt.date(2024, 2, 10), dt.date(2024, 2, 11), True)))
    assert {k[1] for k in got} == {Q1}
    assert got[("R1", Q1)]["credited_revenue"] == pytest.approx(136000.0)


def test_filter_region_picks_people_by_their_reps_region(con: Any) -> None:
    north = cm.summary(con, CFG, Filters(regions=("north",)), FEB_TO_MAY)
    assert_rows(north, {k: v for k, v in EXPECTED.items() if k[0] in ("R1", "E1")})
    assert north["total_payout"] == pytest.approx(1400 + 10320 - 400 + 1400)
    # "east" is an account region, not a person's: nobody is shown
    assert cm.summary(con, CFG, Filters(regions=("east",)), FEB_TO_MAY) == {"total_payout": 0.0, "rows": []}


def test_filter_segment_has_no_effect(con: Any) -> None:
    assert cm.summary(con, CFG, Filters(segments=("ent",)), FEB_TO_MAY) == cm.summary(
        con, CFG, Filters(), FEB_TO_MAY)


def test_filter_rep_shows_those_ids_even_outside_reps(con: Any) -> None:
    got = cm.summary(con, CFG, Filters(reps=("R2", "X9")), FEB_TO_MAY)
    assert_rows(got, {k: v for k, v in EXPECTED.items() if k[0] in ("R2", "X9")})
    assert got["total_payout"] == pytest.approx(2880 - 2280 + 600)


def test_rows_do_not_depend_on_the_view(con: Any) -> None:
    # R2's Q1 row includes D3 (account A) and D4 (account B) whatever account filter is set
    got = rows_by_key(cm.summary(con, CFG, Filters(segments=("smb",), reps=("R2",)), FEB_TO_MAY))
    assert got[("R2", Q1)]["credited_revenue"] == pytest.approx(24000.0)


def test_month_period(con: Any) -> None:
    plan = replace(CFG.commission, period="month")
    march = cm.summary(con, CFG, Filters(), Period(dt.date(2024, 3, 1), dt.date(2024, 3, 31), True), plan)
    got = rows_by_key(march)
    mar = dt.date(2024, 3, 1)
    # March: R1 D2 50000, no quota row starting 03-01 -> default 0 -> 12 % = 6000;
    # R2 D4 20000·12 % = 2400; E1 referral (50000 + 20000)·2 % = 1400
    assert set(got) == {("R1", mar), ("R2", mar), ("E1", mar)}
    assert got[("R1", mar)]["commission"] == pytest.approx(6000.0)
    assert march["total_payout"] == pytest.approx(6000 + 2400 + 1400)
    # January: the 2024-01-01 quota row is the month's first day: 80000 / 100000 = 0.8 ->
    # 50000·4 % + 30000·8 % = 4400
    jan = rows_by_key(cm.summary(con, CFG, Filters(), Period(dt.date(2024, 1, 1), dt.date(2024, 1, 31), True), plan))
    assert jan[("R1", Q1)]["attainment"] == pytest.approx(0.8)
    assert jan[("R1", Q1)]["commission"] == pytest.approx(4400.0)
    # June: D4's clawback lands in June (2024-06-08), at R2's March rate 12 % -> 2400, E1's 400
    june = cm.summary(con, CFG, Filters(), Period(dt.date(2024, 6, 1), dt.date(2024, 6, 30), True), plan)
    assert june["total_payout"] == pytest.approx(-2800.0)


def test_default_quota(con: Any) -> None:
    plan = replace(CFG.commission, default_quota=200000.0)
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan))
    # R2 Q1: no quota row -> 200000; 24000 / 200000 = 0.12 -> all in the first band: 24000·4 % = 960
    assert got[("R2", Q1)]["quota"] == 200000.0
    assert got[("R2", Q1)]["attainment"] == pytest.approx(0.12)
    assert got[("R2", Q1)]["commission"] == pytest.approx(960.0)
    # R1 keeps its own row
    assert got[("R1", Q1)]["quota"] == 100000.0
    # the clawback of D4 now reverses 20000 at R2's Q1 rate 960 / 24000 = 4 % -> 800
    assert got[("R2", Q2)]["clawback"] == pytest.approx(800.0)


def test_quota_zero_row_pays_the_last_band() -> None:
    con = make_db({"quotas": [{"rep_id": "R", "period_start": Q1, "quota_amount": 0.0}],
                   "deals": [deal("D", "R", 1000.0, D(2024, 2, 1))]})
    for mode in ("marginal", "retroactive"):
        got = cm.summary(con, CFG, Filters(), FEB_TO_MAY, replace(CFG.commission, mode=mode))["rows"][0]
        # quota 0: attainment undefined, everything at 12 % = 120
        assert got["attainment"] is None and got["commission"] == pytest.approx(120.0)


def test_cap_limits_commission_and_the_clawback_rate() -> None:
    con = make_db({
        "contracts": [{"contract_id": "C", "account_id": "B", "start_date": dt.date(2024, 1, 1),
                       "end_date": dt.date(2024, 2, 1), "mrr": 1.0}],
        "deals": [deal("D1", "R", 60000.0, D(2024, 1, 5), account="A"),
                  deal("D2", "R", 40000.0, D(2024, 1, 6), account="B")],
    })
    plan = replace(CFG.commission, cap=5000.0)
    got = rows_by_key(cm.summary(con, CFG, Filters(), Period(Q1, dt.date(2024, 6, 30), True), plan))
    # 100000 at 12 % = 12000, capped at 5000 -> effective rate 5 %
    assert got[("R", Q1)]["commission"] == pytest.approx(5000.0)
    # D2's account lapses 02-01, day 0 = 01-06, +90 = 04-05 -> Q2: 40000 × 5 % = 2000
    assert got[("R", Q2)]["clawback"] == pytest.approx(2000.0)


def test_clawback_lands_in_the_next_quarter(con: Any) -> None:
    only_q1 = rows_by_key(cm.summary(con, CFG, Filters(), Period(Q1, dt.date(2024, 3, 31), True)))
    assert all(r["clawback"] == 0 for r in only_q1.values())
    only_q2 = rows_by_key(cm.summary(con, CFG, Filters(), Period(Q2, dt.date(2024, 6, 30), True)))
    # R2's Q2 row: the Q1 deal D4 reversed at the Q1 rate, even though Q1 is not shown
    assert only_q2[("R2", Q2)]["clawback"] == pytest.approx(2400.0)


# day 0 = 2024-01-10 (closed 15:00: the date part), +90 days = 2024-04-09 (in Q2).
# One account, person and deal per case, all in one database: (contracts of the account, clawed back?)
CLAWBACK_CASES: list[tuple[list[tuple[dt.date, dt.date | None]], bool]] = [
    ([(dt.date(2023, 1, 1), None)], False),  # ongoing
    ([(dt.date(2023, 1, 1), dt.date(2024, 4, 9))], True),  # last active day 04-08: lapsed on day 90
    ([(dt.date(2023, 1, 1), dt.date(2024, 4, 10))], False),  # still active on day 90
    ([(dt.date(2023, 1, 1), dt.date(2024, 1, 11))], False),  # active on day 0 only: not in (day 0, day 90]
    ([(dt.date(2023, 1, 1), dt.date(2024, 1, 12))], True),  # active on day 1, then lapsed
    ([(dt.date(2024, 4, 10), None)], False),  # starts after day 90
    ([(dt.date(2023, 1, 1), dt.date(2024, 2, 1)), (dt.date(2024, 3, 1), None)], False),  # renewed
    ([(dt.date(2023, 1, 1), dt.date(2024, 2, 1)), (dt.date(2024, 3, 1), dt.date(2024, 4, 1))], True),
    ([], False),  # never had a contract
]


def test_clawback_rule() -> None:
    con = make_db({
        "contracts": [{"contract_id": f"C{i}-{j}", "account_id": f"A{i}", "start_date": s, "end_date": e, "mrr": 1.0}
                      for i, (contracts, _) in enumerate(CLAWBACK_CASES) for j, (s, e) in enumerate(contracts)],
        "deals": [deal(f"D{i}", f"R{i}", 1000.0, D(2024, 1, 10, 15), account=f"A{i}")
                  for i in range(len(CLAWBACK_CASES))],
    })
    got = rows_by_key(cm.summary(con, CFG, Filters(), Period(Q1, dt.date(2024, 6, 30), True)))
    for i, (contracts, clawed) in enumerate(CLAWBACK_CASES):
        rep = f"R{i}"
        # Q1 commission 1000·12 % = 120; reversed in Q2 when clawed back
        assert got[(rep, Q1)]["commission"] == pytest.approx(120.0), contracts
        assert ((rep, Q2) in got) == clawed, contracts
        if clawed:
            assert got[(rep, Q2)]["clawback"] == pytest.approx(120.0)
            assert got[(rep, Q2)]["payout"] == pytest.approx(-120.0)


def test_clawback_days_zero_claws_nothing_back(con: Any) -> None:
    plan = replace(CFG.commission, clawback_days=0)
    got = cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan)
    assert all(r["clawback"] == 0 for r in got["rows"])


def test_referral_rules(con: Any) -> None:
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    # a non-sales employee earns referral commission; the owner who refers their own deal does not
    assert got[("E1", Q1)]["referral_commission"] == pytest.approx(1400.0)
    assert got[("R1", Q2)]["referral_commission"] == 0.0
    assert got[("P1", Q2)]["referral_commission"] == pytest.approx(100.0)


def test_split_credit_sums_to_the_deal_amount() -> None:
    con = make_db({"deals": [deal("D", "O", 10000.0, D(2024, 2, 1))],
                   "deal_splits": [{"deal_id": "D", "rep_id": "S1", "share": 0.25},
                                   {"deal_id": "D", "rep_id": "S2", "share": 0.75}]})
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    # the owner O is not in the splits: nothing for O
    assert set(got) == {("S1", Q1), ("S2", Q1)}
    assert got[("S1", Q1)]["credited_revenue"] + got[("S2", Q1)]["credited_revenue"] == pytest.approx(10000.0)
    assert got[("S1", Q1)]["commission"] == pytest.approx(2500 * 0.12)


def test_empty_period_and_no_data(con: Any) -> None:
    assert cm.summary(con, CFG, Filters(), Period(None, None, False)) == {"total_payout": 0.0, "rows": []}
    empty = cm.summary(con, CFG, Filters(), Period(dt.date(2030, 1, 1), dt.date(2030, 1, 2), True))
    assert empty == {"total_payout": 0.0, "rows": []}


def test_tier_commission_bands() -> None:
    plan = Plan()
    # marginal at 0.5 × quota exactly: 50000·4 % = 2000
    assert cm.tier_commission(50000.0, 100000.0, plan) == pytest.approx(2000.0)
    retro = replace(plan, mode="retroactive")
    # retroactive: attainment exactly at up_to belongs to that band
    assert cm.tier_commission(50000.0, 100000.0, retro) == pytest.approx(2000.0)  # 0.5 -> 4 %
    assert cm.tier_commission(50001.0, 100000.0, retro) == pytest.approx(50001 * 0.08)
    assert cm.tier_commission(100000.0, 100000.0, retro) == pytest.approx(8000.0)  # 1.0 -> 8 %
    assert cm.tier_commission(30000.0, 100000.0, replace(retro, tiers=(Tier(0.3, 0.01), Tier(None, 0.5)))) == \
        pytest.approx(300.0)  # 0.3 × quota in floating point still sits in the 0.3 band
    assert cm.tier_commission(0.0, 100000.0, plan) == 0.0
    assert cm.tier_commission(1000.0, 0.0, replace(plan, cap=50.0)) == 50.0  # 120 capped


def test_statement_sums_to_the_row(con: Any) -> None:
    rows = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    for (rep, start), row in rows.items():
        st = cm.statement(con, CFG, rep, start)
        assert math.fsum(st["credited"].fillna(0)) == pytest.approx(row["credited_revenue"], abs=1e-9)
        assert math.fsum(st["commission"]) == pytest.approx(row["commission"], abs=1e-9)
        assert math.fsum(st["referral"]) == pytest.approx(row["referral_commission"], abs=1e-9)
        assert math.fsum(st["clawback"]) == pytest.approx(row["clawback"], abs=1e-9)


def test_statement_lines(con: Any) -> None:
    st = cm.statement(con, CFG, "R1", dt.date(2024, 2, 15))  # any day of the quarter
    assert list(st.columns) == cm.STATEMENT_COLUMNS
    credit = st[st["line"] == "credit"].set_index("deal_id")
    assert sorted(credit.index) == ["D1", "D2", "D3"]
    assert credit.loc["D3", "share"] == pytest.approx(0.6) and credit.loc["D3", "credited"] == pytest.approx(6000.0)
    # effective rate 10320 / 136000; D1's line 80000 × that
    assert credit.loc["D1", "rate"] == pytest.approx(10320 / 136000)
    assert credit.loc["D1", "commission"] == pytest.approx(80000 * 10320 / 136000)
    assert credit.loc["D1", "account_name"] == "Acme"
    # R2 in Q2: D11 credited, D4 reversed at the Q1 rate
    st2 = cm.statement(con, CFG, "R2", Q2).set_index("line")
    assert st2.loc["clawback", "deal_id"] == "D4"
    assert st2.loc["clawback", "origin_period"] == Q1
    assert st2.loc["clawback", "clawback"] == pytest.approx(2400.0)
    assert st2.loc["credit", "commission"] == pytest.approx(120.0)
    # E1 in Q2: the referral on D4 reversed
    st3 = cm.statement(con, CFG, "E1", Q2)
    assert list(st3["line"]) == ["referral_clawback"] and st3["clawback"].iloc[0] == pytest.approx(400.0)


def test_statement_with_a_cap_allocates_pro_rata(con: Any) -> None:
    plan = replace(CFG.commission, cap=5000.0)
    st = cm.statement(con, CFG, "R1", Q1, plan)
    credit = st[st["line"] == "credit"].set_index("deal_id")
    # 10320 capped at 5000: each deal gets credited × 5000 / 136000
    assert credit.loc["D1", "commission"] == pytest.approx(80000 * 5000 / 136000)
    assert math.fsum(st["commission"]) == pytest.approx(5000.0, abs=1e-9)


def test_what_if(con: Any) -> None:
    plan_b = parse_plan({"mode": "retroactive"})
    df = cm.what_if(cm.attainment(con, CFG, Filters(), FEB_TO_MAY), cm.attainment(con, CFG, Filters(), FEB_TO_MAY, plan_b))
    total = df[df["is_total"]].iloc[0]
    assert total["payout_a"] == pytest.approx(14020.0)
    assert total["payout_b"] == pytest.approx(21020.0)
    assert total["difference"] == pytest.approx(7000.0)
    r1 = df[(df["rep_id"] == "R1") & (df["period_start"] == Q1)].iloc[0]
    assert r1["difference"] == pytest.approx(6000.0)  # 16320 − 10320


def test_what_if_with_another_period_unit(con: Any) -> None:
    plan_b = replace(CFG.commission, period="month")
    df = cm.what_if(cm.all_rows(con, CFG, FEB_TO_MAY), cm.all_rows(con, CFG, FEB_TO_MAY, plan_b))
    total = df[df["is_total"]].iloc[0]
    assert total["payout_a"] == pytest.approx(14020.0)
    body = df[~df["is_total"]]
    assert total["payout_b"] == pytest.approx(body["payout_b"].sum())


def test_referral_earnings_by_role(con: Any) -> None:
    df = cm.referral_earnings(cm.attainment(con, CFG, Filters(), FEB_TO_MAY), CFG.commission).set_index("role")
    # employee E1: D2 + D4 = 70000 referred, 1400 earned, D4's 400 reversed in Q2
    assert df.loc["employee", "referred_deals"] == 2
    assert df.loc["employee", "referred_amount"] == pytest.approx(70000.0)
    assert df.loc["employee", "referral_commission"] == pytest.approx(1400.0)
    assert df.loc["employee", "referral_clawback"] == pytest.approx(400.0)
    assert df.loc["partner", "referral_commission"] == pytest.approx(100.0)
    assert "sales" not in df.index


def test_attainment_and_leaderboard(con: Any) -> None:
    att = cm.attainment(con, CFG, Filters(), FEB_TO_MAY)
    x9 = att[att["rep_id"] == "X9"].iloc[0]
    assert x9["rep_name"] is None or x9["rep_name"] != x9["rep_name"]  # not in reps
    board = cm.leaderboard(att)
    assert board.iloc[0]["rep_id"] == "R1" and board.iloc[0]["rank"] == 1
    # R1: (136000 + 30000) / (100000 + 50000)
    assert board.iloc[0]["attainment"] == pytest.approx(166000 / 150000)
    assert board.iloc[0]["payout"] == pytest.approx(11720.0)


def test_periods() -> None:
    assert cm.period_start_of(dt.date(2024, 11, 30), "quarter") == dt.date(2024, 10, 1)
    assert cm.next_period_start(dt.date(2024, 10, 1), "quarter") == dt.date(2025, 1, 1)
    assert cm.next_period_start(dt.date(2024, 12, 1), "month") == dt.date(2025, 1, 1)
    assert cm.commission_periods(FEB_TO_MAY, "quarter") == [Q1, Q2]
    assert cm.commission_periods(FEB_TO_MAY, "month") == [dt.date(2024, m, 1) for m in (2, 3, 4, 5)]


@pytest.mark.parametrize("view", [
    Filters(), Filters(regions=("north",)), Filters(regions=("east",)), Filters(reps=("R2", "X9")),
    Filters(regions=("north",), reps=("R1", "R2")), Filters(segments=("smb",)),
])
def test_everyones_rows_picked_in_pandas_equal_the_view_asked_of_the_database(con: Any, view: Filters) -> None:
    # the pages keep everyone's rows per period and pick people for a region or rep change
    everyone = cm.all_rows(con, CFG, FEB_TO_MAY)
    picked = cm.in_view(everyone, view)
    asked = cm.attainment(con, CFG, view, FEB_TO_MAY)
    pd.testing.assert_frame_equal(picked, asked.reset_index(drop=True), check_dtype=False)
    assert math.fsum(picked["payout"]) == pytest.approx(cm.summary(con, CFG, view, FEB_TO_MAY)["total_payout"])
    # one sum for every view: the page's total of these rows is the JSON's, to the last bit
    assert cm.total_payout(picked["payout"]) == cm.summary(con, CFG, view, FEB_TO_MAY)["total_payout"]


def test_rows_of_an_empty_period_are_an_empty_frame(con: Any) -> None:
    none = cm.all_rows(con, CFG, Period(dt.date(2030, 1, 1), dt.date(2030, 1, 2), True))
    assert none.empty and "payout" in none and cm.in_view(none, Filters(regions=("north",))).empty
