"""Golden and property tests for metrics/collection.py (CONTRACT §5 "(v2) Collection (回款)").

Due rows: due_date in [from, to]; collected_against_due: their amount_paid when paid_at ≤ to (on or
before the day `to`); collected: amount_paid with paid_at on a day of the period; overdue on `to`:
rows due before `to` with amount_due − (amount_paid when paid by `to`) > 0, aged by `to` − due_date.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, resolve_period
from b2bmetrics.metrics import collection
from tests.conftest import make_db

D = dt.date
T = dt.datetime
CFG = Config()
Q2 = Filters(date_from=D(2024, 4, 1), date_to=D(2024, 6, 30))


def pay(pid: str, acc: str, due: dt.date | None, amount_due: str | None, paid: dt.datetime | None,
        amount_paid: str | None, rep: str | None = None) -> dict[str, Any]:
    return {"payment_id": pid, "account_id": acc, "due_date": due, "amount_due": amount_due, "paid_at": paid,
            "amount_paid": amount_paid, "rep_id": rep}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "region": "north"}, {"rep_id": "r2", "region": "south"}],
    "accounts": [{"account_id": "a", "region": "east", "segment": "smb", "owner_rep_id": "r1"},
                 {"account_id": "b", "region": "west", "segment": "ent", "owner_rep_id": "r2"}],
    "payments": [
        # days overdue on Jun 30 = Jun 30 − due_date
        pay("p1", "a", D(2024, 5, 31), "100", None, None),  # 30 days, unpaid: 1_30 100
        pay("p2", "a", D(2024, 5, 30), "200", T(2024, 6, 10, 10), "50"),  # 31 days, partial: 31_60 150
        pay("p3", "b", D(2024, 5, 1), "300", None, None, "r1"),  # 60 days: 31_60 300
        pay("p4", "b", D(2024, 4, 30), "400", None, None, "r1"),  # 61 days: 61_90 400
        pay("p5", "a", D(2024, 4, 1), "500", None, None),  # 90 days (due on `from`): 61_90 500
        pay("p6", "b", D(2024, 3, 31), "600", None, None, "r1"),  # 91 days, due before the period: over_90 600
        # due in the period, paid in full after `to`: nothing against due, overdue 700 on Jun 30 (15 days)
        pay("p7", "a", D(2024, 6, 15), "700", T(2024, 7, 2, 9), "700"),
        pay("p8", "a", D(2024, 6, 30), "800", None, None),  # due on `to`: due, not yet overdue
        pay("p9", "b", None, None, T(2024, 5, 5, 14), "90", "r1"),  # a receipt without a plan
        pay("p10", "a", D(2024, 7, 15), "1000", T(2024, 6, 20), "1000"),  # paid before it is due
        pay("p11", "b", D(2024, 4, 10), "250", T(2024, 6, 30, 23, 59, 59), "250", "r1"),  # paid on `to`, late
        pay("p12", "a", D(2024, 2, 1), "120", T(2024, 4, 15), "120"),  # due before, paid in the period
        # paid at midnight after `to`: not by `to` (46 days overdue then), and July's cash
        pay("p13", "b", D(2024, 5, 15), "80", T(2024, 7, 1), "80", "r1"),
        pay("p14", "a", D(2024, 4, 20), "60", T(2024, 3, 20), "60"),  # a deposit before the period
    ],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def run(con: Any, filters: Filters, cfg: Config = CFG) -> dict[str, Any]:
    return collection.summary(con, cfg, filters, resolve_period(con, filters))


def test_collection_golden(con: Any) -> None:
    out = run(con, Q2)
    assert list(out) == ["due", "collected_against_due", "collection_rate", "collected", "overdue", "overdue_aging"]
    # due rows (Apr 1 … Jun 30): p1 100 + p2 200 + p3 300 + p4 400 + p5 500 + p7 700 + p8 800 + p11 250
    # + p13 80 + p14 60 = 3390
    assert out["due"] == Decimal(3390)
    assert out["collected_against_due"] == Decimal(360)  # p2 50 + p11 250 + p14 60 (p7, p13 paid after `to`)
    assert out["collection_rate"] == pytest.approx(360 / 3390)
    # paid Apr 1 00:00 … Jun 30 23:59:59: p2 50 + p9 90 + p10 1000 + p11 250 + p12 120 = 1510
    assert out["collected"] == Decimal(1510)
    # p1 100 + p2 150 + p3 300 + p4 400 + p5 500 + p6 600 + p7 700 + p13 80 = 2830
    assert out["overdue"] == Decimal(2830)
    assert out["overdue_aging"] == {
        "1_30": Decimal(800),  # p1 (30 days) 100 + p7 (15) 700
        "31_60": Decimal(530),  # p2 (31) 150 + p3 (60) 300 + p13 (46) 80
        "61_90": Decimal(900),  # p4 (61) 400 + p5 (90) 500
        "over_90": Decimal(600),  # p6 (91)
    }
    money = [out[k] for k in ("due", "collected_against_due", "collected", "overdue")] + [
        *out["overdue_aging"].values()]
    assert all(isinstance(m, Decimal) for m in money)
    assert isinstance(out["collection_rate"], float)


def test_paid_at_is_compared_by_day(con: Any) -> None:
    july = run(con, Filters(D(2024, 7, 1), D(2024, 7, 31)))
    assert july["collected"] == Decimal(780)  # p7 700 (Jul 2) + p13 80 (Jul 1 at midnight)
    # due in July: p10 1000, paid Jun 20 (before the period, by `to`): all of it collected against due
    assert (july["due"], july["collected_against_due"], july["collection_rate"]) == (Decimal(1000), Decimal(1000), 1.0)
    one_day = run(con, Filters(D(2024, 6, 30), D(2024, 6, 30)))
    assert one_day["collected"] == Decimal(250)  # p11 at 23:59:59 on the one day
    assert one_day["due"] == Decimal(800)  # p8
    assert one_day["collected_against_due"] == Decimal(0)
    assert one_day["collection_rate"] == 0.0
    # overdue does not depend on the period's start: the same on Jun 30 as for Q2
    assert one_day["overdue"] == Decimal(2830)
    assert one_day["overdue_aging"] == run(con, Q2)["overdue_aging"]


def test_nothing_due(con: Any) -> None:
    out = run(con, Filters(D(2024, 8, 1), D(2024, 8, 31)))
    assert out["due"] == Decimal(0) and out["collection_rate"] is None  # no due row: undefined
    assert out["collected"] == Decimal(0)
    # on Aug 31 p7, p10, p13 are paid; still open: p1 100 + p2 150 + p3 300 + p4 400 + p5 500 + p6 600 + p8 800
    assert out["overdue"] == Decimal(2850)
    assert out["overdue_aging"] == {
        "1_30": Decimal(0), "31_60": Decimal(0),
        "61_90": Decimal(800),  # p8, 62 days (Jun 30 -> Aug 31)
        "over_90": Decimal(2050),  # p1 (92 days) 100 + p2 (93) 150 + p3 300 + p4 400 + p5 500 + p6 600
    }
    empty = run(con, Filters(D(2020, 1, 1), D(2020, 1, 31)))  # before every row
    assert empty == {"due": 0, "collected_against_due": 0, "collection_rate": None, "collected": 0, "overdue": 0,
                     "overdue_aging": {"1_30": 0, "31_60": 0, "61_90": 0, "over_90": 0}}


def test_filters_select_accounts(con: Any) -> None:
    east = run(con, replace(Q2, regions=("east",)))  # account a
    assert east["due"] == Decimal(2360)  # p1 100 + p2 200 + p5 500 + p7 700 + p8 800 + p14 60
    assert east["collected_against_due"] == Decimal(110)  # p2 50 + p14 60
    assert east["collected"] == Decimal(1170)  # p2 50 + p10 1000 + p12 120
    assert east["overdue"] == Decimal(1450)  # p1 100 + p2 150 + p5 500 + p7 700
    assert east["overdue_aging"] == {"1_30": Decimal(800), "31_60": Decimal(150), "61_90": Decimal(500),
                                     "over_90": Decimal(0)}

    # rep = accounts whose owner is the rep (b is r2's), not the payment's rep_id (r1 on b's rows)
    r2 = run(con, replace(Q2, reps=("r2",)))
    assert r2["due"] == Decimal(1030)  # p3 300 + p4 400 + p11 250 + p13 80
    assert r2["collected_against_due"] == Decimal(250)  # p11
    assert r2["collection_rate"] == pytest.approx(250 / 1030)
    assert r2["collected"] == Decimal(340)  # p9 90 + p11 250
    assert r2["overdue"] == Decimal(1380)  # p3 300 + p4 400 + p6 600 + p13 80
    assert r2["overdue_aging"] == {"1_30": Decimal(0), "31_60": Decimal(380), "61_90": Decimal(400),
                                   "over_90": Decimal(600)}
    assert run(con, replace(Q2, reps=("r1",)))["due"] == Decimal(2360)  # r1 owns a: as east
    assert run(con, replace(Q2, segments=("ent",))) == r2  # b again
    # region_of = "rep": the account owner's region; south = r2's account b
    assert run(con, replace(Q2, regions=("south",)), replace(CFG, region_of="rep")) == r2
    assert run(con, replace(Q2, regions=("east",), reps=("r2",)))["due"] == Decimal(0)  # nobody's


# ---- properties on small generated payment plans -----------------------------------------------

DAY0 = D(2024, 1, 1)


@st.composite
def payment_rows(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    rows = []
    for i in range(draw(st.integers(0, 12))):
        planned = draw(st.integers(0, 5)) > 0
        due = DAY0 + dt.timedelta(days=draw(st.integers(0, 200))) if planned else None
        amount_due = Decimal(draw(st.sampled_from(["0", "100", "333.3333", "2500.5"]))) if planned else None
        paid = None
        amount_paid = None
        if not planned or draw(st.booleans()):
            paid = T(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 220)), hours=draw(st.sampled_from([0, 9, 23.99])))
            # partial or full; never more than due (CONTRACT §1); a receipt without a plan any amount
            amount_paid = ((amount_due * Decimal(draw(st.sampled_from(["0", "0.5", "1"])))).quantize(
                               Decimal("0.0001"), rounding=decimal.ROUND_DOWN)  # at most 4 places (§1)
                           if amount_due is not None else Decimal(draw(st.sampled_from(["10", "99.99"]))))
        rows.append(pay(f"p{i}", draw(st.sampled_from(["a", "b", "x"])), due,
                        None if amount_due is None else str(amount_due), paid,
                        None if amount_paid is None else str(amount_paid)))
    return {"accounts": ROWS["accounts"], "reps": ROWS["reps"], "payments": rows}


def plain_collection(data: dict[str, Any], filters: Filters, period: Any) -> dict[str, Any]:
    """CONTRACT §5 "(v2) Collection" read in plain Python (region by `accounts.region`)."""
    start, end = period.start, period.end
    accounts = {a["account_id"]: a for a in data["accounts"]}

    def in_scope(acc: str) -> bool:
        a = accounts.get(acc)
        if not (filters.regions or filters.segments or filters.reps):
            return True
        return a is not None and (not filters.regions or a["region"] in filters.regions) and (
            not filters.segments or a["segment"] in filters.segments) and (
            not filters.reps or a["owner_rep_id"] in filters.reps)

    due = against = collected = overdue = Decimal(0)
    aging = dict.fromkeys(("1_30", "31_60", "61_90", "over_90"), Decimal(0))
    for r in data["payments"]:
        if not in_scope(r["account_id"]):
            continue
        paid_day = r["paid_at"].date() if r["paid_at"] is not None else None
        paid_by_to = Decimal(r["amount_paid"]) if paid_day is not None and paid_day <= end else Decimal(0)
        if r["due_date"] is not None and start <= r["due_date"] <= end:
            due += Decimal(r["amount_due"])
            against += paid_by_to
        if paid_day is not None and start <= paid_day <= end:
            collected += Decimal(r["amount_paid"])
        if r["due_date"] is not None and r["due_date"] < end and Decimal(r["amount_due"]) - paid_by_to > 0:
            left = Decimal(r["amount_due"]) - paid_by_to
            overdue += left
            days = (end - r["due_date"]).days
            aging["1_30" if days <= 30 else "31_60" if days <= 60 else "61_90" if days <= 90 else "over_90"] += left
    return {"due": due, "collected_against_due": against, "collection_rate": None if due == 0 else float(against / due),
            "collected": collected, "overdue": overdue, "overdue_aging": aging}


PERIODS = [Filters(D(2024, 2, 1), D(2024, 4, 30)), Filters(D(2024, 1, 1), D(2024, 12, 31)),
           Filters(D(2024, 3, 15), D(2024, 3, 15)), Filters(D(2024, 1, 1), D(2024, 6, 30), regions=("east",)),
           Filters(D(2024, 5, 1), D(2024, 8, 31), reps=("r2",))]
# each example builds a database (~0.25 s): bounded, and marked slow
DB_BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@DB_BOUNDED
@given(data=payment_rows(), filters=st.sampled_from(PERIODS))
def test_rates_and_aging_hold(data: dict[str, Any], filters: Filters) -> None:
    con = make_db(data)
    out = run(con, filters)
    want = plain_collection(data, filters, resolve_period(con, filters))
    assert {k: v for k, v in out.items() if k != "collection_rate"} == {
        k: v for k, v in want.items() if k != "collection_rate"}  # money exactly
    assert out["collection_rate"] == (None if want["collection_rate"] is None else
                                      pytest.approx(want["collection_rate"]))
    rate = out["collection_rate"]
    assert (rate is None) == (out["due"] == 0)
    assert rate is None or 0.0 <= rate <= 1.0
    assert Decimal(0) <= out["collected_against_due"] <= out["due"]
    # the buckets split overdue exactly (Decimals)
    assert sum(out["overdue_aging"].values(), Decimal(0)) == out["overdue"]
    assert all(v >= 0 for v in out["overdue_aging"].values())
