"""Golden tests for metrics/commission/ (CONTRACT §5 "Commission", §4 "(v2) Money in the JSON"),
every number worked by hand.

Default plan: bands (0, 0.5] 4 %, (0.5, 1.0] 8 %, above 12 %; marginal; default_quota 0; no cap;
referral 2 %; clawback 90 days. Money is Decimal and compared exactly: credited revenue and quotas
as the data's decimals, commission / referral commission / clawback rounded to cents half away
from zero, payout the sum of its rounded parts, total_payout the sum of the payouts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
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
M = Decimal
ROUNDED = ("commission", "referral_commission", "clawback", "payout")
EXPECTED = {
    ("E1", Q1): dict(credited_revenue=M(0), quota=M(0), attainment=None, commission=M("0.00"),
                     referral_commission=M("1400.00"), clawback=M("0.00"), payout=M("1400.00")),
    ("R1", Q1): dict(credited_revenue=M(136000), quota=M(100000), attainment=1.36, commission=M("10320.00"),
                     referral_commission=M("0.00"), clawback=M("0.00"), payout=M("10320.00")),
    ("R2", Q1): dict(credited_revenue=M(24000), quota=M(0), attainment=None, commission=M("2880.00"),
                     referral_commission=M("0.00"), clawback=M("0.00"), payout=M("2880.00")),
    ("E1", Q2): dict(credited_revenue=M(0), quota=M(0), attainment=None, commission=M("0.00"),
                     referral_commission=M("0.00"), clawback=M("400.00"), payout=M("-400.00")),
    ("P1", Q2): dict(credited_revenue=M(0), quota=M(0), attainment=None, commission=M("0.00"),
                     referral_commission=M("100.00"), clawback=M("0.00"), payout=M("100.00")),
    ("R1", Q2): dict(credited_revenue=M(30000), quota=M(50000), attainment=0.6, commission=M("1400.00"),
                     referral_commission=M("0.00"), clawback=M("0.00"), payout=M("1400.00")),
    ("R2", Q2): dict(credited_revenue=M(1000), quota=M(0), attainment=None, commission=M("120.00"),
                     referral_commission=M("0.00"), clawback=M("2400.00"), payout=M("-2280.00")),
    ("X9", Q2): dict(credited_revenue=M(5000), quota=M(0), attainment=None, commission=M("600.00"),
                     referral_commission=M("0.00"), clawback=M("0.00"), payout=M("600.00")),
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
            if name == "attainment":
                assert rows[key][name] == (None if value is None else pytest.approx(value)), (key, name)
            else:  # money: exact decimals
                assert isinstance(rows[key][name], Decimal) and rows[key][name] == value, (key, name, rows[key][name])
        for name in ROUNDED:  # in cents
            assert rows[key][name].as_tuple().exponent == -2, (key, name, rows[key][name])
    assert isinstance(got["total_payout"], Decimal)
    assert got["total_payout"] == sum(e["payout"] for e in expected.values())


def test_summary_golden_marginal(con: Any) -> None:
    got = cm.summary(con, CFG, Filters(), FEB_TO_MAY)
    assert_rows(got, EXPECTED)
    # 1400 + 10320 + 2880 − 400 + 100 + 1400 − 2280 + 600
    assert got["total_payout"] == M("14020.00")


def test_rows_are_sorted_and_json_ready(con: Any) -> None:
    got = cm.summary(con, CFG, Filters(), FEB_TO_MAY)
    keys = [(r["rep_id"], r["period_start"]) for r in got["rows"]]
    assert keys == sorted(keys)  # by person, then period
    assert keys[:2] == [("E1", "2024-01-01"), ("E1", "2024-04-01")]
    assert list(got["rows"][0]) == ["rep_id", "period_start", "credited_revenue", "quota", "attainment",
                                    "commission", "referral_commission", "clawback", "payout"]
    assert all(isinstance(r["period_start"], str) for r in got["rows"])
    assert all(r["attainment"] is None or isinstance(r["attainment"], float) for r in got["rows"])


def test_retroactive_vs_marginal_on_the_same_data(con: Any) -> None:
    plan = replace(CFG.commission, mode="retroactive")
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan))
    # Q1 R1: attainment 1.36 is in the open band -> all 136000 at 12 % = 16320 (marginal 10320)
    assert got[("R1", Q1)]["commission"] == M("16320.00")
    # Q2 R1: attainment 0.6 is in (0.5, 1.0] -> 30000 at 8 % = 2400 (marginal 1400)
    assert got[("R1", Q2)]["commission"] == M("2400.00")
    # quota 0 -> last band in both modes
    assert got[("R2", Q1)]["commission"] == M("2880.00")
    total = cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan)["total_payout"]
    assert total == M("14020.00") + (16320 - 10320) + (2400 - 1400)  # 21020


def test_each_row_counts_its_whole_quarter(con: Any) -> None:
    # two days in February still show Q1 whole: D1 (January) and D2 (March) are credited
    got = rows_by_key(cm.summary(con, CFG, Filters(), Period(dt.date(2024, 2, 10), dt.date(2024, 2, 11), True)))
    assert {k[1] for k in got} == {Q1}
    assert got[("R1", Q1)]["credited_revenue"] == M(136000)


def test_filter_region_picks_people_by_their_reps_region(con: Any) -> None:
    north = cm.summary(con, CFG, Filters(regions=("north",)), FEB_TO_MAY)
    assert_rows(north, {k: v for k, v in EXPECTED.items() if k[0] in ("R1", "E1")})
    assert north["total_payout"] == 1400 + 10320 - 400 + 1400
    # "east" is an account region, not a person's: nobody is shown
    assert cm.summary(con, CFG, Filters(regions=("east",)), FEB_TO_MAY) == {"total_payout": M("0.00"), "rows": []}


def test_filter_segment_has_no_effect(con: Any) -> None:
    assert cm.summary(con, CFG, Filters(segments=("ent",)), FEB_TO_MAY) == cm.summary(
        con, CFG, Filters(), FEB_TO_MAY)


def test_filter_rep_shows_those_ids_even_outside_reps(con: Any) -> None:
    got = cm.summary(con, CFG, Filters(reps=("R2", "X9")), FEB_TO_MAY)
    assert_rows(got, {k: v for k, v in EXPECTED.items() if k[0] in ("R2", "X9")})
    assert got["total_payout"] == 2880 - 2280 + 600


def test_rows_do_not_depend_on_the_view(con: Any) -> None:
    # R2's Q1 row includes D3 (account A) and D4 (account B) whatever account filter is set
    got = rows_by_key(cm.summary(con, CFG, Filters(segments=("smb",), reps=("R2",)), FEB_TO_MAY))
    assert got[("R2", Q1)]["credited_revenue"] == M(24000)


def test_month_period(con: Any) -> None:
    plan = replace(CFG.commission, period="month")
    march = cm.summary(con, CFG, Filters(), Period(dt.date(2024, 3, 1), dt.date(2024, 3, 31), True), plan)
    got = rows_by_key(march)
    mar = dt.date(2024, 3, 1)
    # March: R1 D2 50000, no quota row starting 03-01 -> default 0 -> 12 % = 6000;
    # R2 D4 20000·12 % = 2400; E1 referral (50000 + 20000)·2 % = 1400
    assert set(got) == {("R1", mar), ("R2", mar), ("E1", mar)}
    assert got[("R1", mar)]["commission"] == M("6000.00")
    assert march["total_payout"] == 6000 + 2400 + 1400
    # January: the 2024-01-01 quota row is the month's first day: 80000 / 100000 = 0.8 ->
    # 50000·4 % + 30000·8 % = 4400
    jan = rows_by_key(cm.summary(con, CFG, Filters(), Period(dt.date(2024, 1, 1), dt.date(2024, 1, 31), True), plan))
    assert jan[("R1", Q1)]["attainment"] == pytest.approx(0.8)
    assert jan[("R1", Q1)]["commission"] == M("4400.00")
    # June: D4's clawback lands in June (2024-06-08), at R2's March rate 12 % -> 2400, E1's 400
    june = cm.summary(con, CFG, Filters(), Period(dt.date(2024, 6, 1), dt.date(2024, 6, 30), True), plan)
    assert june["total_payout"] == M("-2800.00")


def test_default_quota(con: Any) -> None:
    plan = replace(CFG.commission, default_quota=200000.0)
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan))
    # R2 Q1: no quota row -> 200000; 24000 / 200000 = 0.12 -> all in the first band: 24000·4 % = 960
    assert got[("R2", Q1)]["quota"] == M(200000)
    assert got[("R2", Q1)]["attainment"] == pytest.approx(0.12)
    assert got[("R2", Q1)]["commission"] == M("960.00")
    # R1 keeps its own row
    assert got[("R1", Q1)]["quota"] == M(100000)
    # the clawback of D4 now reverses 20000 at R2's Q1 rate 960 / 24000 = 4 % -> 800
    assert got[("R2", Q2)]["clawback"] == M("800.00")


def test_quota_zero_row_pays_the_last_band() -> None:
    con = make_db({"quotas": [{"rep_id": "R", "period_start": Q1, "quota_amount": 0.0}],
                   "deals": [deal("D", "R", 1000.0, D(2024, 2, 1))]})
    for mode in ("marginal", "retroactive"):
        got = cm.summary(con, CFG, Filters(), FEB_TO_MAY, replace(CFG.commission, mode=mode))["rows"][0]
        # quota 0: attainment undefined, everything at 12 % = 120
        assert got["attainment"] is None and got["commission"] == M("120.00")


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
    assert got[("R", Q1)]["commission"] == M("5000.00")
    # D2's account lapses 02-01, day 0 = 01-06, +90 = 04-05 -> Q2: 40000 × 5 % = 2000
    assert got[("R", Q2)]["clawback"] == M("2000.00")


def test_clawback_lands_in_the_next_quarter(con: Any) -> None:
    only_q1 = rows_by_key(cm.summary(con, CFG, Filters(), Period(Q1, dt.date(2024, 3, 31), True)))
    assert all(r["clawback"] == 0 for r in only_q1.values())
    only_q2 = rows_by_key(cm.summary(con, CFG, Filters(), Period(Q2, dt.date(2024, 6, 30), True)))
    # R2's Q2 row: the Q1 deal D4 reversed at the Q1 rate, even though Q1 is not shown
    assert only_q2[("R2", Q2)]["clawback"] == M("2400.00")


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
        assert got[(rep, Q1)]["commission"] == M("120.00"), contracts
        assert ((rep, Q2) in got) == clawed, contracts
        if clawed:
            assert got[(rep, Q2)]["clawback"] == M("120.00")
            assert got[(rep, Q2)]["payout"] == M("-120.00")


def test_clawback_days_zero_claws_nothing_back(con: Any) -> None:
    plan = replace(CFG.commission, clawback_days=0)
    got = cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan)
    assert all(r["clawback"] == 0 for r in got["rows"])


def test_referral_rules(con: Any) -> None:
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    # a non-sales employee earns referral commission; the owner who refers their own deal does not
    assert got[("E1", Q1)]["referral_commission"] == M("1400.00")
    assert got[("R1", Q2)]["referral_commission"] == 0
    assert got[("P1", Q2)]["referral_commission"] == M("100.00")


def test_split_credit_sums_to_the_deal_amount() -> None:
    con = make_db({"deals": [deal("D", "O", 10000.0, D(2024, 2, 1))],
                   "deal_splits": [{"deal_id": "D", "rep_id": "S1", "share": 0.25},
                                   {"deal_id": "D", "rep_id": "S2", "share": 0.75}]})
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    # the owner O is not in the splits: nothing for O
    assert set(got) == {("S1", Q1), ("S2", Q1)}
    assert got[("S1", Q1)]["credited_revenue"] + got[("S2", Q1)]["credited_revenue"] == M(10000)
    assert got[("S1", Q1)]["commission"] == M("300.00")  # 2500 × 12 %


def test_credited_revenue_is_exact_with_a_third_of_a_share() -> None:
    # 100.01 split 0.3333 / 0.6667: R1 100.01 × 0.3333 = 33.333333, R2 100.01 × 0.6667 = 66.676667, exactly
    # (in binary floats 100.01 × 0.3333 is 33.333332999999996); together 100.01 again
    con = make_db({"deals": [deal("D", "R1", 100.01, D(2024, 2, 1))],
                   "deal_splits": [{"deal_id": "D", "rep_id": "R1", "share": 0.3333},
                                   {"deal_id": "D", "rep_id": "R2", "share": 0.6667}]})
    got = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    r1, r2 = got[("R1", Q1)], got[("R2", Q1)]
    assert r1["credited_revenue"] == M("33.333333") and r2["credited_revenue"] == M("66.676667")
    assert r1["credited_revenue"] + r2["credited_revenue"] == M("100.01")
    # credited revenue is not rounded; commission is: 33.333333 × 12 % = 3.99999996 -> 4.00,
    # 66.676667 × 12 % = 8.00120004 -> 8.00
    assert (r1["commission"], r2["commission"]) == (M("4.00"), M("8.00"))
    assert str(r1["commission"]) == "4.00"
    # the statement's credited line is the same exact product, its share the stored one
    line = cm.statement(con, CFG, "R1", Q1).iloc[0]
    assert (line["share"], line["credited"], line["commission"]) == (M("0.3333"), M("33.333333"), M("4.00"))


def test_empty_period_and_no_data(con: Any) -> None:
    assert cm.summary(con, CFG, Filters(), Period(None, None, False)) == {"total_payout": 0, "rows": []}
    empty = cm.summary(con, CFG, Filters(), Period(dt.date(2030, 1, 1), dt.date(2030, 1, 2), True))
    assert empty == {"total_payout": M("0.00"), "rows": []}
    assert str(empty["total_payout"]) == "0.00"


def test_tier_commission_bands() -> None:
    plan = Plan()
    # marginal at 0.5 × quota exactly: 50000·4 % = 2000
    assert cm.tier_commission(M(50000), M(100000), plan) == 2000
    retro = replace(plan, mode="retroactive")
    # retroactive: attainment exactly at up_to belongs to that band
    assert cm.tier_commission(M(50000), M(100000), retro) == 2000  # 0.5 -> 4 %
    assert cm.tier_commission(M(50001), M(100000), retro) == M("4000.08")  # 50001 × 8 %
    assert cm.tier_commission(M(100000), M(100000), retro) == 8000  # 1.0 -> 8 %
    # 0.3 × quota is exactly 30000 in decimals: it sits in the 0.3 band
    assert cm.tier_commission(M(30000), M(100000), replace(retro, tiers=(Tier(0.3, 0.01), Tier(None, 0.5)))) == 300
    assert cm.tier_commission(M("30000.0001"), M(100000),
                              replace(retro, tiers=(Tier(0.3, 0.01), Tier(None, 0.5)))) == M("15000.00005")
    assert cm.tier_commission(M(0), M(100000), plan) == 0
    assert cm.tier_commission(M(1000), M(0), replace(plan, cap=50.0)) == 50  # 120 capped
    # unrounded and exact: 0.1 + 0.2 of revenue at 12 % is 0.036, not 0.036000000000000004
    assert cm.tier_commission(M("0.3"), M(0), plan) == M("0.036")


# ---- rounding to cents (CONTRACT §4: half away from zero, as Excel's ROUND) ---------------------

def test_cents_rounds_half_away_from_zero() -> None:
    assert cm.cents(M("0.125")) == M("0.13") and cm.cents(M("-0.125")) == M("-0.13")
    assert cm.cents(M("2.345")) == M("2.35") and cm.cents(M("-2.345")) == M("-2.35")  # not banker's 2.34
    assert cm.cents(M("0.124999")) == M("0.12") and cm.cents(M("-0.124999")) == M("-0.12")
    assert cm.cents(Fraction(1, 8)) == M("0.13") and cm.cents(Fraction(-1, 8)) == M("-0.13")  # ±0.125
    assert cm.cents(Fraction(1, 3)) == M("0.33") and cm.cents(Fraction(2, 3)) == M("0.67")
    assert cm.cents(Fraction(-2, 3)) == M("-0.67")
    # a tiny negative rounds to zero, printed as 0.00, never -0.00
    assert str(cm.cents(M("-0.004"))) == "0.00" and str(cm.cents(Fraction(-1, 300))) == "0.00"
    assert str(cm.cents(M(7))) == "7.00"


# Half a cent on every figure. Default plan (quota 0: everything at 12 %; referral 2 %; 90 days).
# Account B is active 2024-01-01 … 2024-02-29 (ends 03-01), so Q1 deals on B lapse within 90 days.
# D1 R, B, 01-10, 10.375: Q1 commission 10.375 × 12 % = 1.245 -> 1.25 (banker's rounding: 1.24);
#   day 90 = 04-09: clawed back in Q2 at R's Q1 rate 12 %: 1.245 -> 1.25
# D2 R, A, 04-15, 1.00: Q2 commission 0.12
# D3 S, B, 01-20, 6.25, referred by F: S's Q1 commission 0.75, clawed back in Q2 (day 90 = 04-19);
#   F's Q1 referral 6.25 × 2 % = 0.125 -> 0.13, clawed back in Q2: 0.125 -> 0.13
HALF_CENTS: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"account_id": "A"}, {"account_id": "B"}],
    "contracts": [{"contract_id": "CA", "account_id": "A", "start_date": dt.date(2023, 1, 1), "mrr": 1.0},
                  {"contract_id": "CB", "account_id": "B", "start_date": dt.date(2024, 1, 1),
                   "end_date": dt.date(2024, 3, 1), "mrr": 1.0}],
    "deals": [deal("D1", "R", 10.375, D(2024, 1, 10), account="B"),
              deal("D2", "R", 1.0, D(2024, 4, 15), account="A"),
              deal("D3", "S", 6.25, D(2024, 1, 20), account="B", referrer_id="F")],
}
H1 = Period(Q1, dt.date(2024, 6, 30), True)


def test_half_a_cent_rounds_away_from_zero_and_a_payout_adds_up_its_rounded_parts() -> None:
    got = cm.summary(make_db(HALF_CENTS), CFG, Filters(), H1)
    rows = {k: (r["commission"], r["referral_commission"], r["clawback"], r["payout"])
            for k, r in rows_by_key(got).items()}
    assert rows == {
        ("F", Q1): (M("0.00"), M("0.13"), M("0.00"), M("0.13")),  # 0.125 -> 0.13
        ("F", Q2): (M("0.00"), M("0.00"), M("0.13"), M("-0.13")),  # −0.125 -> −0.13, away from zero
        ("R", Q1): (M("1.25"), M("0.00"), M("0.00"), M("1.25")),  # 1.245 -> 1.25
        # the clawback 1.245 -> 1.25 is larger than the commission 0.12: 0.12 − 1.25 = −1.13
        # (unrounded 0.12 − 1.245 = −1.125, which rounds away from zero to the same −1.13)
        ("R", Q2): (M("0.12"), M("0.00"), M("1.25"), M("-1.13")),
        ("S", Q1): (M("0.75"), M("0.00"), M("0.00"), M("0.75")),
        ("S", Q2): (M("0.00"), M("0.00"), M("0.75"), M("-0.75")),
    }
    assert [r["rep_id"] for r in got["rows"]] == ["F", "F", "R", "R", "S", "S"]
    # credited revenue is exact, not rounded
    assert rows_by_key(got)[("R", Q1)]["credited_revenue"] == M("10.375")
    # total_payout is the sum of the rows' payouts: 0.13 − 0.13 + 1.25 − 1.13 + 0.75 − 0.75 = 0.12
    assert got["total_payout"] == M("0.12") == sum(r["payout"] for r in got["rows"])
    # the same sum in a view of one person: R's 1.25 − 1.13
    assert cm.summary(make_db(HALF_CENTS), CFG, Filters(reps=("R",)), H1)["total_payout"] == M("0.12")


def test_half_a_cent_statements_sum_to_their_rows() -> None:
    con = make_db(HALF_CENTS)
    r_q2 = cm.statement(con, CFG, "R", Q2).set_index("line")
    # D2's credit line 0.12; D1 reversed at the Q1 rate: 10.375 × 12 % = 1.245 -> 1.25, as the row
    assert r_q2.loc["credit", "commission"] == M("0.12") and r_q2.loc["clawback", "clawback"] == M("1.25")
    assert r_q2.loc["clawback", "rate"] == pytest.approx(0.12) and r_q2.loc["clawback", "origin_period"] == Q1
    f_q2 = cm.statement(con, CFG, "F", Q2)
    assert list(f_q2["line"]) == ["referral_clawback"] and f_q2["clawback"].iloc[0] == M("0.13")


# Three lines of a third of a cent each: three deals of 1.00 (12 % = 0.36) capped at 0.01, so each
# deal's commission is 1.00 × 0.01 / 3.00 = 1/3 cent. Rounded one by one they would sum to 0.00, not
# the row's 0.01; the largest remainder gives the cent to one line (all remainders 1/3: the first).
THIRDS: dict[str, list[dict[str, Any]]] = {
    "deals": [deal(f"D{i}", "R", 1.0, D(2024, 2, i)) for i in (1, 2, 3)],
}


def test_statement_of_thirds_of_a_cent_sums_to_the_rounded_row() -> None:
    con = make_db(THIRDS)
    plan = replace(CFG.commission, cap=0.01)
    row = cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan)["rows"][0]
    assert row["commission"] == M("0.01") and row["payout"] == M("0.01")
    st = cm.statement(con, CFG, "R", Q1, plan)
    assert list(st["deal_id"]) == ["D1", "D2", "D3"]
    assert list(st["commission"]) == [M("0.01"), M("0.00"), M("0.00")]
    assert sum(st["commission"]) == row["commission"]
    # 0.02: two thirds of a cent each, rounded one by one 0.03; apportioned 0.01 + 0.01 + 0.00
    plan2 = replace(CFG.commission, cap=0.02)
    st2 = cm.statement(con, CFG, "R", Q1, plan2)
    assert list(st2["commission"]) == [M("0.01"), M("0.01"), M("0.00")]
    assert sum(st2["commission"]) == cm.summary(con, CFG, Filters(), FEB_TO_MAY, plan2)["rows"][0]["commission"]


def test_apportion_gives_the_leftover_cents_to_the_largest_remainders() -> None:
    # 1/7, 2/7 and 4/7 of a cent (sum 1 cent): floors 0, 0, 0; the cent goes to the largest, 4/7
    sevenths = [Fraction(k, 700) for k in (1, 2, 4)]
    assert cm.apportion(sevenths, M("0.01")) == [M("0.00"), M("0.00"), M("0.01")]
    # whole cents are never moved: 1.10 and 2.20 stay, the third line 0.005 -> 0.01 with the row 3.31
    assert cm.apportion([Fraction(110, 100), Fraction(220, 100), Fraction(1, 200)], M("3.31")) == [
        M("1.10"), M("2.20"), M("0.01")]
    # negative lines (a credit note): −0.125 and −0.125 sum to −0.25 exactly: floors −0.13 and −0.13
    # (= −0.26), one cent back to the first of the tied remainders 0.5 cent: −0.12, −0.13
    assert cm.apportion([Fraction(-1, 8), Fraction(-1, 8)], M("-0.25")) == [M("-0.12"), M("-0.13")]
    assert cm.apportion([], M("0.00")) == []


def test_statement_sums_to_the_row(con: Any) -> None:
    rows = rows_by_key(cm.summary(con, CFG, Filters(), FEB_TO_MAY))
    for (rep, start), row in rows.items():
        st = cm.statement(con, CFG, rep, start)
        assert sum(st["credited"].dropna()) == row["credited_revenue"]
        assert sum(st["commission"]) == row["commission"]
        assert sum(st["referral"]) == row["referral_commission"]
        assert sum(st["clawback"]) == row["clawback"]
        for column in ("commission", "referral", "clawback"):
            assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in st[column])


def test_statement_lines(con: Any) -> None:
    st = cm.statement(con, CFG, "R1", dt.date(2024, 2, 15))  # any day of the quarter
    assert list(st.columns) == cm.STATEMENT_COLUMNS
    credit = st[st["line"] == "credit"].set_index("deal_id")
    assert sorted(credit.index) == ["D1", "D2", "D3"]
    assert credit.loc["D3", "share"] == M("0.6") and credit.loc["D3", "credited"] == M(6000)
    # effective rate 10320 / 136000; D1's line 80000 × that = 6070.588235…, D2 50000 × that =
    # 3794.117647…, D3 6000 × that = 455.294117…: floors 6070.58 + 3794.11 + 455.29 = 10319.98, the
    # 2 cents left go to the largest remainders, D1 (0.82 cent) and D2 (0.76): 10320.00 in all
    assert credit.loc["D1", "rate"] == pytest.approx(10320 / 136000)
    assert [credit.loc[d, "commission"] for d in ("D1", "D2", "D3")] == [M("6070.59"), M("3794.12"), M("455.29")]
    assert credit.loc["D1", "account_name"] == "Acme"
    # R2 in Q2: D11 credited, D4 reversed at the Q1 rate
    st2 = cm.statement(con, CFG, "R2", Q2).set_index("line")
    assert st2.loc["clawback", "deal_id"] == "D4"
    assert st2.loc["clawback", "origin_period"] == Q1
    assert st2.loc["clawback", "clawback"] == M("2400.00")
    assert st2.loc["credit", "commission"] == M("120.00")
    # E1 in Q2: the referral on D4 reversed
    st3 = cm.statement(con, CFG, "E1", Q2)
    assert list(st3["line"]) == ["referral_clawback"] and st3["clawback"].iloc[0] == M("400.00")


def test_statement_with_a_cap_allocates_pro_rata(con: Any) -> None:
    plan = replace(CFG.commission, cap=5000.0)
    st = cm.statement(con, CFG, "R1", Q1, plan)
    credit = st[st["line"] == "credit"].set_index("deal_id")
    # 10320 capped at 5000: each deal gets credited × 5000 / 136000: D1 2941.176470… -> 2941.17,
    # D2 1838.235294… -> 1838.23, D3 220.588235… -> 220.58; floors 4999.98, the 2 cents left go to
    # the largest remainders, D3 (0.8235 cent) and D1 (0.6470): 2941.18, 1838.23, 220.59
    assert [credit.loc[d, "commission"] for d in ("D1", "D2", "D3")] == [M("2941.18"), M("1838.23"), M("220.59")]
    assert sum(st["commission"]) == M("5000.00")


def test_what_if(con: Any) -> None:
    plan_b = parse_plan({"mode": "retroactive"})
    df = cm.what_if(cm.attainment(con, CFG, Filters(), FEB_TO_MAY), cm.attainment(con, CFG, Filters(), FEB_TO_MAY, plan_b))
    total = df[df["is_total"]].iloc[0]
    assert (total["payout_a"], total["payout_b"], total["difference"]) == (M("14020.00"), M("21020.00"), M("7000.00"))
    r1 = df[(df["rep_id"] == "R1") & (df["period_start"] == Q1)].iloc[0]
    assert r1["difference"] == M("6000.00")  # 16320 − 10320
    body = df[~df["is_total"]]
    assert list(zip(body["rep_id"], body["period_start"], strict=True)) == sorted(EXPECTED)  # person, then period


def test_what_if_with_another_period_unit(con: Any) -> None:
    plan_b = replace(CFG.commission, period="month")
    df = cm.what_if(cm.all_rows(con, CFG, FEB_TO_MAY), cm.all_rows(con, CFG, FEB_TO_MAY, plan_b))
    total = df[df["is_total"]].iloc[0]
    assert total["payout_a"] == M("14020.00")
    body = df[~df["is_total"]]
    assert total["payout_b"] == sum(body["payout_b"])


def test_referral_earnings_by_role(con: Any) -> None:
    df = cm.referral_earnings(cm.attainment(con, CFG, Filters(), FEB_TO_MAY), CFG.commission).set_index("role")
    # employee E1: D2 + D4 = 70000 referred, 1400 earned, D4's 400 reversed in Q2
    assert df.loc["employee", "referred_deals"] == 2
    assert df.loc["employee", "referred_amount"] == M(70000)
    assert df.loc["employee", "referral_commission"] == M("1400.00")
    assert df.loc["employee", "referral_clawback"] == M("400.00")
    assert df.loc["employee", "net"] == M("1000.00")
    assert df.loc["partner", "referral_commission"] == M("100.00")
    assert "sales" not in df.index
    assert list(df.index) == ["employee", "partner"]  # by referral commission, largest first


def test_referral_earnings_in_cents_as_the_rows() -> None:
    # F: 0.125 -> 0.13 earned in Q1, 0.125 -> 0.13 reversed in Q2 (HALF_CENTS)
    con = make_db(HALF_CENTS)
    df = cm.referral_earnings(cm.attainment(con, CFG, Filters(), H1), CFG.commission)
    assert len(df) == 1 and df.iloc[0]["role"] is None  # F is not in reps
    assert (df.iloc[0]["referral_commission"], df.iloc[0]["referral_clawback"], df.iloc[0]["net"]) == (
        M("0.13"), M("0.13"), M("0.00"))


def test_attainment_and_leaderboard(con: Any) -> None:
    att = cm.attainment(con, CFG, Filters(), FEB_TO_MAY)
    x9 = att[att["rep_id"] == "X9"].iloc[0]
    assert x9["rep_name"] is None or x9["rep_name"] != x9["rep_name"]  # not in reps
    board = cm.leaderboard(att)
    assert board.iloc[0]["rep_id"] == "R1" and board.iloc[0]["rank"] == 1
    # R1: (136000 + 30000) / (100000 + 50000)
    assert board.iloc[0]["attainment"] == pytest.approx(166000 / 150000)
    assert board.iloc[0]["payout"] == M("11720.00")  # 10320 + 1400
    assert sum(board["payout"]) == M("14020.00")


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
    # one sum for every view: the page's total of these rows is the JSON's, exactly
    assert cm.total_payout(picked["payout"]) == cm.summary(con, CFG, view, FEB_TO_MAY)["total_payout"]


def test_rows_of_an_empty_period_are_an_empty_frame(con: Any) -> None:
    none = cm.all_rows(con, CFG, Period(dt.date(2030, 1, 1), dt.date(2030, 1, 2), True))
    assert none.empty and "payout" in none and cm.in_view(none, Filters(regions=("north",))).empty
