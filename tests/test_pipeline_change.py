"""Pipeline change (CONTRACT §5 "(v2) Pipeline change"): golden numbers on a tiny fixture, arithmetic beside each.

The snapshots are written the way ingest writes a loaded deal_snapshots file (compact rows and
`snapshot_days`), so the metric reads the real storage format.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.ingest.snapshots import load_snapshot_rows
from b2bmetrics.metrics import pipeline_change
from tests.conftest import make_db

S0, S1, S2, S3 = dt.date(2024, 3, 25), dt.date(2024, 4, 1), dt.date(2024, 6, 24), dt.date(2024, 7, 1)
Q2 = Period(dt.date(2024, 4, 1), dt.date(2024, 6, 30), True)
IN_Q2, AUGUST, LATE = dt.datetime(2024, 5, 10), dt.datetime(2024, 8, 15), dt.datetime(2024, 12, 1)
CFG = Config()


def snap(day: dt.date, deal: str, status: str | None, amount: str | None, close: dt.datetime | None = None,
         stage: str = "proposal", owner: str | None = None) -> dict[str, Any]:
    return {"snapshot_date": day, "deal_id": deal, "stage": stage, "status": status,
            "amount": None if amount is None else Decimal(amount), "expected_close_at": close, "owner_rep_id": owner}


def db(snapshots: list[dict[str, Any]], deals: list[dict[str, Any]] | None = None,
       accounts: list[dict[str, Any]] | None = None) -> Any:
    con = make_db({"deals": deals or [], "accounts": accounts or []})
    raw = con.con
    raw.execute("CREATE TEMP TABLE staged AS SELECT * EXCLUDE (valid_until) FROM deal_snapshots LIMIT 0")
    cols = ["snapshot_date", "deal_id", "stage", "status", "amount", "expected_close_at", "owner_rep_id"]
    if snapshots:
        raw.executemany(f"INSERT INTO staged ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                        [[r[c] for c in cols] for r in snapshots])
    load_snapshot_rows(raw, "staged", append=False)
    return con


# A = the state on S1 (start_date), B = on S2 (end_date); in window = open with expected close in Q2
HISTORY = [
    snap(S0, "W", "open", "90", IN_Q2),  # S0 and S3 are not compared: their numbers must not show
    snap(S1, "W", "open", "100", IN_Q2), snap(S2, "W", None, "120", None, stage="won"),  # won (status from stage)
    snap(S1, "L", "open", "200", IN_Q2), snap(S2, "L", "lost", "200"),  # lost
    snap(S1, "X", "open", "300", IN_Q2),  # absent from B: lost
    snap(S1, "P", "open", "400", IN_Q2), snap(S2, "P", "open", "400", AUGUST),  # pushed out of Q2
    snap(S1, "P2", "open", "50", IN_Q2), snap(S2, "P2", "open", "50", None),  # close date gone: pushed out
    snap(S1, "I", "open", "500", IN_Q2, owner="R9"), snap(S2, "I", "open", "650", IN_Q2, owner="R9"),  # +150
    snap(S1, "Dd", "open", "600", IN_Q2), snap(S2, "Dd", "open", "450", IN_Q2),  # −150
    snap(S1, "Sn", "open", None, IN_Q2), snap(S2, "Sn", "open", "70", IN_Q2),  # null = 0: +70
    snap(S2, "C", "open", "800", IN_Q2),  # absent from A: created
    snap(S1, "Pi", "open", "900", dt.datetime(2024, 9, 1)), snap(S2, "Pi", "open", "900", IN_Q2),  # pulled in
    snap(S1, "R", "lost", "1000"), snap(S2, "R", "open", "1000", IN_Q2),  # reopened: pulled in
    snap(S1, "O", "open", "5", LATE), snap(S2, "O", "open", "7", LATE),  # outside the window both days
    snap(S2, "N", "open", None, IN_Q2),  # created without an amount: 0
    snap(S2, "M", "open", "40", IN_Q2),  # created, and M is in no deals row
    *[snap(S3, d, "won", "99999", IN_Q2) for d in ("W", "L", "I", "C")],
]
DEALS = [{"deal_id": d, "stage": "proposal", "account_id": acc, "owner_rep_id": rep}
         for d, acc, rep in [("W", "A1", "R2"), ("L", "A1", "R2"), ("I", "A1", "R1"), ("C", "A1", "R2"),
                             ("X", "A2", "R2"), ("P", "A2", "R2"), ("P2", "A2", "R2"), ("Dd", "A2", "R2"),
                             ("Sn", "A2", "R2"), ("Pi", "A2", "R1"), ("R", "A2", "R2"), ("O", "A2", "R2"),
                             ("N", "A2", "R2")]]
ACCOUNTS = [{"account_id": "A1", "region": "east"}, {"account_id": "A2", "region": "west"}]


@pytest.fixture(scope="module")
def con() -> Any:
    return db(HISTORY, DEALS, ACCOUNTS)


def identity(r: dict[str, Any]) -> Decimal:
    return (r["start"] + r["created"] + r["pulled_in"] + r["increased"] - r["decreased"] - r["pushed_out"]
            - r["won"] - r["lost"])


def test_every_bucket(con: Any) -> None:
    r = pipeline_change.summary(con, CFG, Filters(), Q2)
    assert list(r) == ["start_date", "end_date", "start", "created", "pulled_in", "increased", "decreased",
                       "pushed_out", "won", "lost", "end"]
    assert r["start_date"] == "2024-04-01"  # S1: the latest day on or before from (from itself)
    assert r["end_date"] == "2024-06-24"  # S2: the latest day on or before to (S3 is after it)
    assert r["start"] == Decimal("2150")  # W 100 + L 200 + X 300 + P 400 + P2 50 + I 500 + Dd 600 + Sn 0
    assert r["created"] == Decimal("840")  # C 800 + N 0 + M 40 (M is in no deals row: counts without filters)
    assert r["pulled_in"] == Decimal("1900")  # Pi 900 (closing in September at A) + R 1000 (lost at A, reopened)
    assert r["increased"] == Decimal("220")  # I 650 − 500 = 150, Sn 70 − 0 = 70
    assert r["decreased"] == Decimal("150")  # Dd 600 − 450
    assert r["pushed_out"] == Decimal("450")  # P 400 (to August) + P2 50 (no close date)
    assert r["won"] == Decimal("100")  # W at its A amount, 100 (not B's 120)
    assert r["lost"] == Decimal("500")  # L 200 + X 300 (absent from B)
    assert r["end"] == Decimal("3910")  # I 650 + Dd 450 + Sn 70 + C 800 + Pi 900 + R 1000 + N 0 + M 40
    # end = start + created + pulled_in + increased − decreased − pushed_out − won − lost
    #     = 2150 + 840 + 1900 + 220 − 150 − 450 − 100 − 500 = 3910
    assert identity(r) == r["end"]
    assert all(isinstance(r[k], Decimal) for k in pipeline_change.AMOUNTS)


def test_filters_go_through_the_deals_current_row(con: Any) -> None:
    east = pipeline_change.summary(con, CFG, Filters(regions=("east",)), Q2)
    # east = account A1 in deals: W, L, I, C (M, in no deals row, is left out under any filter)
    assert east["start"] == Decimal("800")  # W 100 + L 200 + I 500
    assert east["created"] == Decimal("800")  # C 800 (not M's 40)
    assert (east["won"], east["lost"], east["increased"]) == (Decimal("100"), Decimal("200"), Decimal("150"))
    assert east["pulled_in"] == east["decreased"] == east["pushed_out"] == Decimal("0")
    assert east["end"] == Decimal("1450")  # I 650 + C 800 = 800 + 800 + 150 − 100 − 200
    # the rep filter reads the owner in deals (I is R9's in the snapshots, R1's now)
    r1 = pipeline_change.summary(con, CFG, Filters(reps=("R1",)), Q2)
    assert r1["start"] == Decimal("500")  # I
    assert r1["pulled_in"] == Decimal("900")  # Pi
    assert r1["end"] == Decimal("1550")  # I 650 + Pi 900 = 500 + 900 + 150
    assert identity(r1) == r1["end"]


def test_start_date_is_the_earliest_day_when_none_is_on_or_before_from(con: Any) -> None:
    r = pipeline_change.summary(con, CFG, Filters(), Period(dt.date(2024, 1, 1), dt.date(2024, 6, 30), True))
    assert (r["start_date"], r["end_date"]) == ("2024-03-25", "2024-06-24")  # S0 (earliest), S2
    # at S0 only W is in window, with 90; at S2 W is won: won = 90
    assert (r["start"], r["won"]) == (Decimal("90"), Decimal("90"))
    assert identity(r) == r["end"]


def test_equal_days_or_no_day_before_to_print_null_amounts(con: Any) -> None:
    # from 2 Apr and to 10 Apr both fall back to S1: the same day, nothing to compare
    same = pipeline_change.summary(con, CFG, Filters(), Period(dt.date(2024, 4, 2), dt.date(2024, 4, 10), True))
    assert (same["start_date"], same["end_date"]) == ("2024-04-01", "2024-04-01")
    assert all(same[k] is None for k in pipeline_change.AMOUNTS)
    # no snapshot day on or before to: end_date null, start_date the earliest day as found
    early = pipeline_change.summary(con, CFG, Filters(), Period(dt.date(2024, 1, 1), dt.date(2024, 3, 1), True))
    assert (early["start_date"], early["end_date"]) == ("2024-03-25", None)
    assert all(early[k] is None for k in pipeline_change.AMOUNTS)


def test_no_snapshots_at_all() -> None:
    r = pipeline_change.summary(db([]), CFG, Filters(), Q2)
    assert r == dict.fromkeys(pipeline_change.SUMMARY_KEYS)


def test_a_database_from_before_snapshot_days_prints_nulls() -> None:
    import ibis

    from b2bmetrics.store import connect_duckdb

    raw = connect_duckdb()  # an older store, read before its next write converts it
    raw.execute("CREATE TABLE deal_snapshots (snapshot_date DATE, deal_id VARCHAR, stage VARCHAR, status VARCHAR, "
                "amount DECIMAL(18,4), expected_close_at TIMESTAMP, owner_rep_id VARCHAR, forecast_category VARCHAR)")
    r = pipeline_change.summary(ibis.duckdb.from_connection(raw), CFG, Filters(), Q2)
    assert r == dict.fromkeys(pipeline_change.SUMMARY_KEYS)


def test_a_managers_scope_equals_the_region_filter(con: Any) -> None:
    from b2bmetrics.access import Scope, ScopedBackend

    east = ScopedBackend(con, Scope("manager", regions=("east",)))
    # the snapshot days are read whole, the snapshot rows cut to the scope's deals (W, L, I, C)
    assert "snapshot_days" in east.list_tables()
    assert east.table("snapshot_days").count().execute() == 4  # S0 … S3
    assert pipeline_change.summary(east, CFG, Filters(), Q2) == \
        pipeline_change.summary(con, CFG, Filters(regions=("east",)), Q2)


def test_in_compute_kpis_last() -> None:
    from b2bmetrics.metrics import compute_kpis

    out = compute_kpis(db(HISTORY, DEALS, ACCOUNTS), CFG, Filters(date_from=Q2.start, date_to=Q2.end))
    assert list(out)[-1] == "pipeline_change"
    assert out["pipeline_change"]["end"] == Decimal("3910")


# ---- property: the identity on random histories --------------------------------------------------

deal_state = st.one_of(
    st.none(),  # absent that day
    st.tuples(st.sampled_from(("open", "won", "lost", None)), st.sampled_from((None, "1.5", "2", "10")),
              st.sampled_from((None, IN_Q2, AUGUST, dt.datetime(2024, 6, 30, 23, 59)))))


_PROPERTY_DB: list[Any] = []


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(deal_state, deal_state), min_size=1, max_size=6))
def test_the_identity_holds(pairs: list[tuple[Any, Any]]) -> None:
    rows = []
    for i, pair in enumerate(pairs):
        for day, s in zip((S1, S2), pair, strict=True):
            if s is not None:
                status, amount, close = s
                rows.append(snap(day, f"d{i}", status, amount, close, stage="lead" if status is None else "proposal"))
    rows.append(snap(S3, "z", "open", "1", IN_Q2))  # S1 and S2 stay snapshot days even with no deal on them
    rows += [snap(S1, "y", "won", "1"), snap(S2, "y", "won", "1")]
    if not _PROPERTY_DB:
        _PROPERTY_DB.append(db([]))
    con = _PROPERTY_DB[0]  # one database for every example: emptied, then loaded as a file would be
    raw = con.con
    raw.execute("DELETE FROM deal_snapshots")
    raw.execute("DELETE FROM snapshot_days")
    raw.execute("CREATE OR REPLACE TEMP TABLE staged AS SELECT * EXCLUDE (valid_until) FROM deal_snapshots LIMIT 0")
    cols = ["snapshot_date", "deal_id", "stage", "status", "amount", "expected_close_at", "owner_rep_id"]
    raw.executemany(f"INSERT INTO staged ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                    [[row[c] for c in cols] for row in rows])
    load_snapshot_rows(raw, "staged", append=False)
    r = pipeline_change.summary(con, CFG, Filters(), Q2)
    assert (r["start_date"], r["end_date"]) == ("2024-04-01", "2024-06-24")
    assert identity(r) == r["end"]
    assert all(r[k] >= 0 for k in pipeline_change.AMOUNTS)
    assert r == {"start_date": "2024-04-01", "end_date": "2024-06-24", **oracle(pairs)}


def oracle(pairs: list[tuple[Any, Any]]) -> dict[str, Decimal]:
    """§5 read literally, deal by deal, in Python."""
    out = dict.fromkeys(pipeline_change.AMOUNTS, Decimal(0))

    def window(s: Any) -> bool:  # open (None = derived from "lead": open) with a close date in Q2
        return s is not None and s[0] in ("open", None) and s[2] is not None and Q2.start <= s[2].date() <= Q2.end

    for a, b in pairs:
        amount_a = Decimal(a[1] or 0) if a else Decimal(0)
        amount_b = Decimal(b[1] or 0) if b else Decimal(0)
        if window(a):
            out["start"] += amount_a
            if b is not None and b[0] == "won":
                out["won"] += amount_a
            elif b is None or b[0] == "lost":
                out["lost"] += amount_a
            elif not window(b):
                out["pushed_out"] += amount_a
            elif amount_b > amount_a:
                out["increased"] += amount_b - amount_a
            else:
                out["decreased"] += amount_a - amount_b
        if window(b):
            out["end"] += amount_b
            if not window(a):
                out["created" if a is None else "pulled_in"] += amount_b
    return out


# ---- drill-down: the deals behind each bucket, the slipped deals ----------------------------------

def test_the_deals_behind_each_bucket_add_up_to_it(con: Any) -> None:
    rows = pipeline_change.changes(con, CFG, Filters(), Q2, S1, S2).execute()
    by = {b: sorted(zip(part["deal_id"], part["change"], strict=True)) for b, part in rows.groupby("bucket")}
    assert by == {
        "won": [("W", Decimal("100"))],  # its A amount
        "lost": [("L", Decimal("200")), ("X", Decimal("300"))],  # lost at B; absent from B
        "pushed_out": [("P", Decimal("400")), ("P2", Decimal("50"))],  # to August; close date gone
        "increased": [("I", Decimal("150")), ("Sn", Decimal("70"))],  # 650 − 500; 70 − 0 (null A)
        "decreased": [("Dd", Decimal("150"))],  # 600 − 450
        "created": [("C", Decimal("800")), ("M", Decimal("40")), ("N", Decimal("0"))],
        "pulled_in": [("Pi", Decimal("900")), ("R", Decimal("1000"))],
    }  # O is out of the window both days: in no bucket
    summary = pipeline_change.summary(con, CFG, Filters(), Q2)
    for bucket in pipeline_change.BUCKETS:
        assert sum(rows.loc[rows["bucket"] == bucket, "change"], Decimal(0)) == summary[bucket]
    x = rows[rows["deal_id"] == "X"].iloc[0]
    assert x["amount_start"] == Decimal("300") and x["amount_end"] is None and pd.isna(x["status_end"])
    m = rows[rows["deal_id"] == "M"].iloc[0]
    assert pd.isna(m["account_id"]) and m["amount_start"] is None  # M is in no deals row, absent from A
    assert list(rows["deal_id"][:2]) == ["R", "Pi"]  # largest change first: 1000, 900
    only = pipeline_change.changes(con, CFG, Filters(), Q2, S1, S2, "lost").execute()
    assert list(only["deal_id"]) == ["X", "L"]  # 300, 200


def test_the_bucket_deals_follow_the_filters(con: Any) -> None:
    east = pipeline_change.changes(con, CFG, Filters(regions=("east",)), Q2, S1, S2).execute()
    # east = A1's deals W, L, I, C: won W, lost L, increased I, created C
    assert sorted(zip(east["deal_id"], east["bucket"], strict=True)) == [
        ("C", "created"), ("I", "increased"), ("L", "lost"), ("W", "won")]


def test_compare_on_chosen_days_is_summary_on_its_days(con: Any) -> None:
    assert pipeline_change.compare(con, CFG, Filters(), Q2, S1, S2) == pipeline_change.summary(con, CFG, Filters(), Q2)
    # from S0 to S2: at S0 only W is in window (90), won by S2: start 90, won 90
    r = pipeline_change.compare(con, CFG, Filters(), Q2, S0, S2)
    assert (r["start_date"], r["start"], r["won"]) == ("2024-03-25", Decimal("90"), Decimal("90"))
    assert identity(r) == r["end"]
    assert all(v is None for k, v in pipeline_change.compare(con, CFG, Filters(), Q2, S1, S1).items()
               if k in pipeline_change.AMOUNTS)


MID = dt.date(2024, 5, 6)  # a snapshot day between S1 and S2
SLIPS = [
    # Q: pushed twice between S1 and S2 (10 May → 1 June, still in Q2, then → August)
    snap(S1, "Q", "open", "10", IN_Q2), snap(MID, "Q", "open", "10", dt.datetime(2024, 6, 1)),
    snap(S2, "Q", "open", "10", AUGUST),
    # P: once (10 May → August at S2)
    snap(S1, "P", "open", "400", IN_Q2), snap(MID, "P", "open", "400", IN_Q2), snap(S2, "P", "open", "400", AUGUST),
    # Z: pulled in from August at S0 (before start_date: not counted), then pushed once, to December
    snap(S0, "Z", "open", "5", AUGUST), snap(S1, "Z", "open", "5", IN_Q2), snap(S2, "Z", "open", "5", LATE),
    # E: its close date cleared at MID (a push), then set again in August at S2 (later than nothing: no push)
    snap(S1, "E", "open", "7", IN_Q2), snap(MID, "E", "open", "7", None), snap(S2, "E", "open", "7", AUGUST),
    # K: pushed within Q2 but won at S2: not a slipped deal
    snap(S1, "K", "open", "3", IN_Q2), snap(MID, "K", "open", "3", dt.datetime(2024, 6, 1)),
    snap(S2, "K", "won", "3", dt.datetime(2024, 6, 1)),
]


def test_slipped_deals_count_their_pushes() -> None:
    rows = pipeline_change.slipped(db(SLIPS), CFG, Filters(), Q2, S1, S2).execute()
    assert list(zip(rows["deal_id"], rows["times_pushed"], strict=True)) == [
        ("Q", 2), ("P", 1), ("E", 1), ("Z", 1)]  # most pushes first, then amount: P 400, E 7, Z 5
    assert set(rows["bucket"]) == {"pushed_out"}
    assert sum(rows["change"], Decimal(0)) == Decimal("422")  # 10 + 400 + 7 + 5 = the pushed_out bucket
    assert pipeline_change.compare(db(SLIPS), CFG, Filters(), Q2, S1, S2)["pushed_out"] == Decimal("422")


def test_push_counts_of_listed_deals_are_the_slipped_counts() -> None:
    con = db(SLIPS)
    counts = pipeline_change.push_counts(con, ["Q", "P", "E", "Z", "K"], S1, S2).execute()
    # Q 2, P 1, E 1 (cleared at MID), Z 1; K pushed once within Q2 (10 May → 1 June at MID)
    assert dict(zip(counts["deal_id"], counts["times_pushed"], strict=True)) == {"Q": 2, "P": 1, "E": 1, "Z": 1,
                                                                                "K": 1}
    slipped = pipeline_change.slipped(con, CFG, Filters(), Q2, S1, S2).execute()
    merged = pipeline_change.changes(con, CFG, Filters(), Q2, S1, S2, "pushed_out").execute().merge(
        counts, on="deal_id", how="left")
    assert pipeline_change.order_slipped(merged).to_dict("list") == slipped.to_dict("list")
