"""Golden tests for metrics/bookings.py (CONTRACT §5 "(v2) Bookings") on a fixture small enough to
compute by hand.

Bookings = deals with `closed_at` on a day of the period, whenever they were created, after the
funnel's filters (region / segment by the deal's account, rep = the deal's owner); status by
`_rules.deal_status` (the `status` column, else derived from the stage).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, resolve_period
from b2bmetrics.metrics import bookings, compute_kpis
from tests.conftest import make_db
from tests.datasets import GENERATED_FILTERS, datasets

D = dt.date
T = dt.datetime
CFG = Config()
Q1 = Filters(date_from=D(2024, 1, 1), date_to=D(2024, 3, 31))
# the oracle's filter sets as Filters
GENERATED = [Filters(f.date_from, f.date_to, f.regions, f.segments, f.reps) for f in GENERATED_FILTERS]


def deal(did: str, stage: str, status: str | None, acc: str, owner: str, amount: str | None,
         created: dt.datetime | None, closed: dt.datetime | None) -> dict[str, Any]:
    return {"deal_id": did, "stage": stage, "status": status, "account_id": acc, "owner_rep_id": owner,
            "amount": amount, "created_at": created, "closed_at": closed}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "region": "north"}, {"rep_id": "r2", "region": "south"}],
    "accounts": [{"account_id": "a", "region": "east", "segment": "smb", "owner_rep_id": "r2"},
                 {"account_id": "b", "region": "west", "segment": "ent", "owner_rep_id": "r1"}],
    "deals": [
        # created before the period, closed in it: a booking of Q1 (the funnel's cohort would miss it)
        deal("d1", "won", "won", "a", "r1", "1000", T(2023, 11, 5), T(2024, 2, 10, 15)),
        # won on the last day, late in the evening, without an amount: counted, its amount left out
        deal("d2", "won", "won", "a", "r2", None, T(2024, 1, 5), T(2024, 3, 31, 23, 30)),
        # won at the first instant of the period
        deal("d3", "won", "won", "b", "r2", "250.25", T(2023, 12, 20), T(2024, 1, 1)),
        # won at midnight after `to`, and a minute before `from`: outside
        deal("d4", "won", "won", "b", "r1", "999", T(2024, 1, 2), T(2024, 4, 1)),
        deal("d5", "won", "won", "a", "r1", "500", T(2023, 10, 1), T(2023, 12, 31, 23, 59)),
        # lost in the period: by the status column, and by the lost stage with no status
        deal("d6", "lost", "lost", "a", "r1", "300", T(2024, 1, 10), T(2024, 2, 1)),
        deal("d7", "lost", None, "b", "r2", None, T(2023, 6, 1), T(2024, 3, 15)),
        # lost without a close date: left out
        deal("d8", "lost", "lost", "a", "r1", "40", T(2024, 1, 3), None),
        # open with a close date in the period: neither won nor lost
        deal("d9", "proposal", "open", "b", "r2", "60", T(2024, 1, 3), T(2024, 2, 2)),
        # won by its stage (no status column value)
        deal("d10", "won", None, "b", "r2", "100", T(2024, 2, 20), T(2024, 3, 1, 9)),
        # won without a close date: not a booking of any period
        deal("d11", "won", "won", "a", "r2", "77", T(2024, 1, 3), None),
    ],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def run(con: Any, filters: Filters, cfg: Config = CFG) -> dict[str, Any]:
    return bookings.summary(con, cfg, filters, resolve_period(con, filters))


def test_bookings_golden(con: Any) -> None:
    out = run(con, Q1)
    assert list(out) == ["won_deals", "won_amount", "lost_deals", "win_rate", "avg_won_amount"]
    assert out["won_deals"] == 4  # d1, d2, d3, d10 (d4 after, d5 before, d11 undated)
    assert out["won_amount"] == Decimal("1350.25")  # 1000 + 250.25 + 100 (d2 has no amount)
    assert isinstance(out["won_amount"], Decimal)
    assert out["lost_deals"] == 2  # d6 (status), d7 (stage); d8 has no closed_at
    assert out["win_rate"] == pytest.approx(4 / 6)  # 4 / (4 + 2); the open d9 counts in neither
    assert out["avg_won_amount"] == pytest.approx(1350.25 / 3)  # over the 3 won deals with an amount
    assert isinstance(out["win_rate"], float) and isinstance(out["avg_won_amount"], float)


def test_a_deal_counts_in_the_period_it_closed_not_the_one_it_was_created(con: Any) -> None:
    q4 = run(con, Filters(D(2023, 10, 1), D(2023, 12, 31)))
    # d5 closed on Dec 31 at 23:59: Q4's; d1 (created in November) is not Q4's, it closed in February
    assert (q4["won_deals"], q4["won_amount"], q4["lost_deals"]) == (1, Decimal(500), 0)
    assert q4["win_rate"] == 1.0  # 1 / (1 + 0)
    q2 = run(con, Filters(D(2024, 4, 1), D(2024, 6, 30)))
    assert (q2["won_deals"], q2["won_amount"]) == (1, Decimal(999))  # d4, closed at midnight of Apr 1


def test_won_deals_without_an_amount(con: Any) -> None:
    out = run(con, Filters(D(2024, 3, 31), D(2024, 3, 31)))  # only d2: won, no amount
    assert out["won_deals"] == 1
    assert out["won_amount"] == Decimal(0) and isinstance(out["won_amount"], Decimal)  # none has an amount
    assert out["avg_won_amount"] is None  # no won deal with an amount
    assert out["win_rate"] == 1.0  # 1 / (1 + 0)


def test_nothing_closed_in_the_period(con: Any) -> None:
    out = run(con, Filters(D(2022, 1, 1), D(2022, 12, 31)))
    assert out == {"won_deals": 0, "won_amount": Decimal(0), "lost_deals": 0, "win_rate": None,
                   "avg_won_amount": None}


def test_filters_are_the_funnels(con: Any) -> None:
    east = run(con, replace(Q1, regions=("east",)))  # deals of account a: d1, d2, d6
    assert (east["won_deals"], east["won_amount"], east["lost_deals"]) == (2, Decimal(1000), 1)
    assert east["win_rate"] == pytest.approx(2 / 3)  # 2 / (2 + 1)
    assert east["avg_won_amount"] == 1000.0  # 1000 / 1 (d2 has no amount)

    ent = run(con, replace(Q1, segments=("ent",)))  # deals of account b: d3, d7, d10 (d4 after, d9 open)
    assert (ent["won_deals"], ent["won_amount"], ent["lost_deals"]) == (2, Decimal("350.25"), 1)
    assert ent["avg_won_amount"] == pytest.approx(350.25 / 2)

    # rep = the deal's owner (not the account's): r2 owns d2, d3, d7, d10
    r2 = run(con, replace(Q1, reps=("r2",)))
    assert (r2["won_deals"], r2["won_amount"], r2["lost_deals"]) == (3, Decimal("350.25"), 1)
    assert r2["win_rate"] == pytest.approx(3 / 4)  # 3 / (3 + 1)
    assert r2["avg_won_amount"] == pytest.approx(175.125)  # 350.25 / 2 (d2 has no amount)

    # region_of = "rep": the deal's owner's region; north = r1's deals d1, d6 (d4 after the period)
    north = run(con, replace(Q1, regions=("north",)), replace(CFG, region_of="rep"))
    assert (north["won_deals"], north["won_amount"], north["lost_deals"]) == (1, Decimal(1000), 1)

    both = run(con, replace(Q1, regions=("west",), reps=("r2",)))  # b's deals owned by r2: d3, d7, d10
    assert (both["won_deals"], both["won_amount"], both["lost_deals"]) == (2, Decimal("350.25"), 1)


def test_bookings_in_the_kpis_json_follow_quality(con: Any) -> None:
    out = compute_kpis(con, CFG, Q1)
    assert list(out)[:9] == ["period", "funnel", "churn", "satisfaction", "commission", "quality", "bookings",
                             "mrr_movements", "collection"]
    assert out["bookings"] == run(con, Q1)
    # the funnel's cohort (created in Q1: d2, d4, d6, d8, d9, d10, d11) is another set: won d2, d4, d10, d11
    assert out["funnel"]["won_deals"] == 4


# ---- a plain-Python reading on generated datasets (tests/datasets.py) ------------------------


def plain_bookings(data: dict[str, Any], filters: Filters, period: Any) -> dict[str, Any]:
    """CONTRACT §5 "(v2) Bookings" read in plain Python (region by the deal's account's region)."""
    accounts = {a["account_id"]: a for a in data["accounts"]}
    won = lost = with_amount = 0
    amount = Decimal(0)
    for d in data["deals"]:
        acc = accounts.get(d["account_id"])
        if filters.regions and (acc is None or acc["region"] not in filters.regions):
            continue
        if filters.segments and (acc is None or acc["segment"] not in filters.segments):
            continue
        if filters.reps and d["owner_rep_id"] not in filters.reps:
            continue
        if d["closed_at"] is None or not period.start <= d["closed_at"].date() <= period.end:
            continue
        status = d["status"] or {CFG.pipeline.won_stage: "won", CFG.pipeline.lost_stage: "lost"}.get(d["stage"], "open")
        if status == "won":
            won += 1
            if d["amount"] is not None:
                with_amount += 1
                amount += Decimal(str(d["amount"]))
        lost += status == "lost"
    return {"won_deals": won, "won_amount": amount, "lost_deals": lost,
            "win_rate": None if won + lost == 0 else won / (won + lost),
            "avg_won_amount": None if with_amount == 0 else float(amount / with_amount)}


# each example builds a database (~0.25 s): bounded, and marked slow
DB_BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@DB_BOUNDED
@given(data=datasets(), filters=st.sampled_from(GENERATED))
def test_bookings_agree_with_a_plain_reading(data: dict[str, Any], filters: Filters) -> None:
    con = make_db(data)
    out = run(con, filters)
    want = plain_bookings(data, filters, resolve_period(con, filters))
    assert list(out) == list(want)
    for key, value in want.items():  # counts and money exactly, the ratios to a float's precision
        assert out[key] == (value if not isinstance(value, float) else pytest.approx(value)), key
    assert out["win_rate"] is None or 0.0 <= out["win_rate"] <= 1.0
