"""Golden tests for commission on collected cash (CONTRACT §3 `[commission] basis`, §5 "(v2) Commission
on collected cash"), every number worked by hand.

Default plan (bands (0, 0.5] 4 %, (0.5, 1.0] 8 %, above 12 %; marginal; default_quota 0; referral
2 %; clawback 90 days) with basis = "collected": each payment of a deal won now credits its
amount_paid in the quarter of its paid_at, by the deal's splits or to its owner; no clawbacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from b2bmetrics.config import Config, parse_plan
from b2bmetrics.errors import B2BError
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics import commission as cm
from tests.conftest import make_db

D, M = dt.datetime, Decimal
BOOKED = Config()
COLLECTED = replace(BOOKED, commission=replace(BOOKED.commission, basis="collected"))
Q4_23, Q1, Q2 = dt.date(2023, 10, 1), dt.date(2024, 1, 1), dt.date(2024, 4, 1)
THREE_QUARTERS = Period(Q4_23, dt.date(2024, 6, 30), True)


def pay(pid: str, deal: str | None, paid: D | None, amount: float | None, account: str = "A1") -> dict[str, Any]:
    return {"payment_id": pid, "account_id": account, "deal_id": deal, "due_date": dt.date(2024, 1, 1),
            "amount_due": amount, "paid_at": paid, "amount_paid": amount if paid else None}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "R1", "role": "sales"}, {"rep_id": "R2", "role": "sales"},
             {"rep_id": "P1", "role": "partner"}],
    "accounts": [{"account_id": "A1", "account_name": "Acme"}, {"account_id": "A2", "account_name": "Beta"}],
    "deals": [
        # D1: won 02-10, split R1 60 % / R2 40 %, referred by P1; paid 30000 in Q1, 50000 in Q2, 20000 not yet
        {"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
         "referrer_id": "P1", "amount": 100000, "created_at": D(2023, 11, 1), "closed_at": D(2024, 2, 10)},
        # D2: won 03-05 by R2 alone; a deposit of 10000 on 2023-12-20 (before closed_at: counts in Q4 2023)
        {"deal_id": "D2", "stage": "won", "status": "won", "account_id": "A2", "owner_rep_id": "R2",
         "amount": 40000, "created_at": D(2023, 11, 1), "closed_at": D(2024, 3, 5)},
        # D3: lost; its payment credits nothing
        {"deal_id": "D3", "stage": "lost", "status": "lost", "account_id": "A1", "owner_rep_id": "R1",
         "amount": 5000, "created_at": D(2023, 11, 1), "closed_at": D(2024, 1, 20)},
    ],
    "deal_splits": [{"deal_id": "D1", "rep_id": "R1", "share": 0.6}, {"deal_id": "D1", "rep_id": "R2", "share": 0.4}],
    "payments": [
        pay("PAY1", "D1", D(2024, 2, 20, 9), 30000),
        pay("PAY2", "D1", D(2024, 4, 15), 50000),
        pay("PAY3", "D1", None, 20000),  # due, not paid: nothing
        pay("PAY4", "D2", D(2023, 12, 20), 10000, "A2"),
        pay("PAY5", "D2", D(2024, 3, 10), 30000, "A2"),
        pay("PAY6", "D3", D(2024, 2, 1), 5000),  # a lost deal's payment: nothing
        pay("PAY7", None, D(2024, 2, 2), 7000),  # no deal_id: nothing
    ],
    "quotas": [{"rep_id": "R1", "period_start": Q1, "quota_amount": 100000}],
    # A1 active only through 03-31: under booked, D1 (closed 02-10, day 90 = 05-10) is clawed back in Q2
    "contracts": [{"contract_id": "K1", "account_id": "A1", "start_date": dt.date(2024, 1, 1),
                   "end_date": dt.date(2024, 3, 31), "mrr": 1000}],
}

# The hand-worked rows (collected):
# Q1 R1: 60 % of PAY1 30000 = 18000, quota 100000 (attainment 0.18, all in the 4 % band) -> 720
# Q2 R1: 60 % of PAY2 50000 = 30000, no quota row -> 0, all at 12 % -> 3600
# Q4 R2: PAY4 10000 (the deposit, before closed_at) at 12 % -> 1200
# Q1 R2: 40 % of PAY1 12000 + PAY5 30000 = 42000 at 12 % -> 5040
# Q2 R2: 40 % of PAY2 20000 at 12 % -> 2400
# Q1 P1: referral 2 % of PAY1 30000 = 600; Q2 P1: 2 % of PAY2 50000 = 1000
# no clawback (the lapse of A1 would claw D1 back under booked); PAY3, PAY6, PAY7 credit nothing
EXPECTED = {
    ("P1", Q1): (M(0), M(0), None, "0.00", "600.00", "600.00"),
    ("P1", Q2): (M(0), M(0), None, "0.00", "1000.00", "1000.00"),
    ("R1", Q1): (M(18000), M(100000), 0.18, "720.00", "0.00", "720.00"),
    ("R1", Q2): (M(30000), M(0), None, "3600.00", "0.00", "3600.00"),
    ("R2", Q4_23): (M(10000), M(0), None, "1200.00", "0.00", "1200.00"),
    ("R2", Q1): (M(42000), M(0), None, "5040.00", "0.00", "5040.00"),
    ("R2", Q2): (M(20000), M(0), None, "2400.00", "0.00", "2400.00"),
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def test_payments_credit_at_paid_at_by_splits_or_owner_with_referrals_and_no_clawback(con: Any) -> None:
    got = cm.summary(con, COLLECTED, Filters(), THREE_QUARTERS)
    rows = {(r["rep_id"], dt.date.fromisoformat(r["period_start"])): r for r in got["rows"]}
    assert list(rows) == sorted(EXPECTED)  # by person, then period
    for key, (credited, quota, attainment, commission, referral, payout) in EXPECTED.items():
        r = rows[key]
        assert (r["credited_revenue"], r["quota"], r["attainment"]) == (credited, quota, attainment), key
        assert (r["commission"], r["referral_commission"], r["clawback"], r["payout"]) == (
            M(commission), M(referral), M("0.00"), M(payout)), key
    # 600 + 1000 + 720 + 3600 + 1200 + 5040 + 2400
    assert got["total_payout"] == M("14560.00")


def test_the_same_data_on_the_booked_basis_credits_deals_and_claws_back(con: Any) -> None:
    # booked: Q1 R1 60 % of D1 100000 = 60000 against quota 100000: 50000·4 % + 10000·8 % = 2800;
    # Q2 R1: D1 clawed back (A1 lapsed before day 90, 05-10): 60000 × (2800 / 60000) = 2800 -> −2800
    rows = {(r["rep_id"], dt.date.fromisoformat(r["period_start"])): r
            for r in cm.summary(con, BOOKED, Filters(), THREE_QUARTERS)["rows"]}
    assert rows["R1", Q1]["commission"] == M("2800.00")
    assert rows["R1", Q2]["clawback"] == M("2800.00")
    assert ("R2", Q4_23) not in rows  # the deposit counts only on the collected basis


def test_a_statement_lists_one_line_per_payment(con: Any) -> None:
    st = cm.statement(con, COLLECTED, "R2", Q1)
    assert list(st.columns) == cm.COLLECTED_STATEMENT_COLUMNS
    # PAY1 (02-20): 40 % of 30000 = 12000 at the row's rate 0.12 -> 1440; PAY5 (03-10): 30000 × 0.12 = 3600
    assert st["payment_id"].tolist() == ["PAY1", "PAY5"]
    assert st["deal_id"].tolist() == ["D1", "D2"]
    assert st["line"].tolist() == ["credit", "credit"]
    assert st["amount"].tolist() == [M(30000), M(30000)]
    assert st["credited"].tolist() == [M(12000), M(30000)]
    assert st["commission"].tolist() == [M("1440.00"), M("3600.00")]
    assert sum(st["commission"]) == M("5040.00")  # the row's commission
    assert st["clawback"].tolist() == [M("0.00"), M("0.00")]
    ref = cm.statement(con, COLLECTED, "P1", Q2)
    # P1's referral of D1's PAY2 (04-15): 2 % of 50000 = 1000
    assert ref["line"].tolist() == ["referral"] and ref["payment_id"].tolist() == ["PAY2"]
    assert ref["referral"].tolist() == [M("1000.00")]
    assert ref["paid_at"].tolist()[0] == D(2024, 4, 15)


def test_fully_paid_in_the_period_the_year_pays_the_same_on_both_bases() -> None:
    # D1 (R1 60 % / R2 40 %, referred by P1) closed 02-10 for 100000, paid 30000 on 01-20 (a deposit
    # in the same quarter) and 70000 on 03-01; D2 (R2) closed 05-05 for 40000, paid 40000 on 06-01.
    # No contracts, so nothing is clawed back on the booked basis. Either way:
    # Q1 R1 60000 at 12 % = 7200; Q1 R2 40000 at 12 % = 4800; Q2 R2 40000 at 12 % = 4800;
    # Q1 P1 2 % of 100000 = 2000 -> total 18800.00
    tables = {
        "deals": [
            {"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
             "referrer_id": "P1", "amount": 100000, "closed_at": D(2024, 2, 10)},
            {"deal_id": "D2", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R2",
             "amount": 40000, "closed_at": D(2024, 5, 5)},
        ],
        "deal_splits": [{"deal_id": "D1", "rep_id": "R1", "share": 0.6},
                        {"deal_id": "D1", "rep_id": "R2", "share": 0.4}],
        "payments": [pay("P-1", "D1", D(2024, 1, 20), 30000), pay("P-2", "D1", D(2024, 3, 1), 70000),
                     pay("P-3", "D2", D(2024, 6, 1), 40000)],
    }
    con = make_db(tables)
    year = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31), True)
    booked, collected = cm.summary(con, BOOKED, Filters(), year), cm.summary(con, COLLECTED, Filters(), year)
    assert booked["total_payout"] == collected["total_payout"] == M("18800.00")
    assert booked["rows"] == collected["rows"]
    # the referral counts deals, not payments: D1 paid twice in Q1
    frame = cm.attainment(con, COLLECTED, Filters(), year)
    assert frame.loc[frame["rep_id"] == "P1", "referred_deals"].tolist() == [1]


def test_basis_is_read_from_the_plan_and_checked() -> None:
    assert parse_plan({"basis": "collected"}).basis == "collected"
    assert parse_plan({}).basis == "booked"
    with pytest.raises(B2BError, match="basis"):
        parse_plan({"basis": "cash"})


def test_a_store_kept_for_the_collected_basis_reads_the_same_rows(tmp_path: Any, con: Any) -> None:
    from b2bmetrics.metrics.commission.facts import COMMISSION_FACTS
    from b2bmetrics.metrics.materialized import RELATIONS
    from b2bmetrics.store import Store
    from b2bmetrics.store.materialize import lookup
    from tests.conftest import write_db

    store = Store.at(write_db(tmp_path / "c.duckdb", ROWS))
    with store.write(relations=RELATIONS, cfg=COLLECTED, changed=()):
        pass  # kept for the collected basis now
    stored = store.ibis()
    assert lookup(stored, COMMISSION_FACTS, COLLECTED) is not None
    assert lookup(stored, COMMISSION_FACTS, BOOKED) is None  # kept for one plan: the booked basis reads live
    for f in (Filters(), Filters(reps=("R2", "P1"))):
        assert cm.summary(stored, COLLECTED, f, THREE_QUARTERS) == cm.summary(con, COLLECTED, f, THREE_QUARTERS)
    assert cm.summary(stored, BOOKED, Filters(), THREE_QUARTERS) == cm.summary(con, BOOKED, Filters(), THREE_QUARTERS)
