"""Golden and property tests for metrics/mrr_movements.py (CONTRACT §5 "(v2) MRR movements").

p = MRR(a, from), c = MRR(a, to) for every account (active on d ⇔ a contract with start ≤ d and
(no end or end > d)). new: p = 0 < c, no non-empty contract starting before `from`; reactivation:
p = 0 < c with one; expansion: 0 < p < c (c − p); contraction: 0 < c < p (p − c); churn: c = 0 < p (p).
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
from b2bmetrics.metrics import churn, mrr_movements
from tests.conftest import make_db
from tests.datasets import datasets

D = dt.date
CFG = Config()
Q1 = Filters(date_from=D(2024, 1, 1), date_to=D(2024, 3, 31))


def k(cid: str, acc: str, start: dt.date, end: dt.date | None, mrr: str) -> dict[str, Any]:
    return {"contract_id": cid, "account_id": acc, "start_date": start, "end_date": end, "mrr": mrr}


EAST, WEST = "abcde", "fghijkm"
OWNED_BY_R1 = "adef"

ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "region": "north"}, {"rep_id": "r2", "region": "south"}],
    "accounts": [{"account_id": a, "region": "east" if a in EAST else "west",
                  "segment": "smb" if a in "abc" else "ent", "owner_rep_id": "r1" if a in OWNED_BY_R1 else "r2"}
                 for a in EAST + WEST],
    "contracts": [
        k("a1", "a", D(2023, 6, 1), None, "100"),  # steady 100 -> 100: no movement
        k("b1", "b", D(2023, 6, 1), D(2024, 2, 15), "50"),  # 50 -> 0: churn 50
        k("c1", "c", D(2023, 6, 1), D(2024, 2, 15), "80"),  # 80 -> 40: contraction 40
        k("c2", "c", D(2024, 2, 15), None, "40"),
        k("d1", "d", D(2024, 2, 10), None, "70"),  # 0 -> 70, never a customer before: new 70
        # replaced on the same day by a larger contract: 60 -> 90, expansion 30 (not churn 60 + new 90)
        k("e1", "e", D(2023, 1, 1), D(2024, 3, 1), "60"),
        k("e2", "e", D(2024, 3, 1), None, "90"),
        # a customer until September, back in March: 0 -> 45, reactivation 45
        k("f1", "f", D(2023, 3, 1), D(2023, 9, 1), "30"),
        k("f2", "f", D(2024, 3, 1), None, "45"),
        # an empty contract (end = start) before `from` does not make a customer: 0 -> 20, new 20
        k("g1", "g", D(2023, 5, 1), D(2023, 5, 1), "25"),
        k("g2", "g", D(2024, 2, 1), None, "20"),
        # gone on Jan 20, back on Mar 1 at the same MRR: 10 -> 10, no movement (two days compared)
        k("h1", "h", D(2023, 6, 1), D(2024, 1, 20), "10"),
        k("h2", "h", D(2024, 3, 1), None, "10"),
        k("i1", "i", D(2023, 1, 1), D(2024, 3, 31), "15"),  # ends on `to`: over then, 15 -> 0: churn 15
        k("j1", "j", D(2024, 1, 1), None, "5"),  # starts on `from`: active then, 5 -> 5, not new
        # a contract of Dec 31 only (started the day before `from`, over on it): 0 -> 12, reactivation 12
        k("k1", "k", D(2023, 12, 31), D(2024, 1, 1), "8"),
        k("k2", "k", D(2024, 2, 1), None, "12"),
        k("m1", "m", D(2024, 2, 1), None, "0"),  # MRR 0 throughout: no movement, not a paying account
    ],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def run(con: Any, filters: Filters, cfg: Config = CFG) -> dict[str, Any]:
    return mrr_movements.summary(con, cfg, filters, resolve_period(con, filters))


def test_movements_golden(con: Any) -> None:
    out = run(con, Q1)
    assert list(out) == ["mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end",
                         "net_new_mrr", "quick_ratio", "arpa"]
    assert out["mrr_start"] == Decimal(320)  # a 100 + b 50 + c 80 + e 60 + h 10 + i 15 + j 5
    assert out["new"] == Decimal(90)  # d 70 + g 20
    assert out["reactivation"] == Decimal(57)  # f 45 + k 12
    assert out["expansion"] == Decimal(30)  # e 90 − 60
    assert out["contraction"] == Decimal(40)  # c 80 − 40
    assert out["churn"] == Decimal(65)  # b 50 + i 15
    assert out["mrr_end"] == Decimal(392)  # a 100 + c 40 + d 70 + e 90 + f 45 + g 20 + h 10 + j 5 + k 12
    assert out["net_new_mrr"] == Decimal(72)  # 392 − 320 = 90 + 57 + 30 − 40 − 65
    assert out["quick_ratio"] == pytest.approx(177 / 105)  # (90 + 57 + 30) / (40 + 65)
    assert out["arpa"] == pytest.approx(392 / 9)  # 9 accounts with c > 0 (m's MRR is 0, b and i churned)
    for key in ("mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end", "net_new_mrr"):
        assert isinstance(out[key], Decimal), key
    assert isinstance(out["quick_ratio"], float) and isinstance(out["arpa"], float)


def test_start_is_churns_start_and_end_is_every_account(con: Any) -> None:
    c = churn.summary(con, CFG, Q1, resolve_period(con, Q1))
    # Σ p over all accounts = churn's mrr_start (only accounts active on `from` have p > 0) ...
    assert c["mrr_start"] == Decimal(320)
    # ... but churn's mrr_end keeps only those: a 100 + b 0 + c 40 + e 90 + h 10 + i 0 + j 5 = 245
    assert c["mrr_end"] == Decimal(245)


def test_filters_are_the_churn_sections(con: Any) -> None:
    west = run(con, replace(Q1, regions=("west",)))  # f, g, h, i, j, k, m
    assert west["mrr_start"] == Decimal(30)  # h 10 + i 15 + j 5
    assert (west["new"], west["reactivation"], west["expansion"]) == (Decimal(20), Decimal(57), Decimal(0))
    assert (west["contraction"], west["churn"]) == (Decimal(0), Decimal(15))  # i
    assert west["mrr_end"] == Decimal(92)  # f 45 + g 20 + h 10 + j 5 + k 12
    assert west["net_new_mrr"] == Decimal(62)  # 92 − 30 = 20 + 57 − 15
    assert west["quick_ratio"] == pytest.approx(77 / 15)  # (20 + 57) / 15
    assert west["arpa"] == pytest.approx(92 / 5)

    # rep = accounts whose owner is the rep: r1 owns a, d, e, f, and none of them lost MRR
    r1 = run(con, replace(Q1, reps=("r1",)))
    assert r1["mrr_start"] == Decimal(160)  # a 100 + e 60
    assert (r1["new"], r1["reactivation"], r1["expansion"]) == (Decimal(70), Decimal(45), Decimal(30))
    assert r1["mrr_end"] == Decimal(305)  # a 100 + d 70 + e 90 + f 45
    assert r1["net_new_mrr"] == Decimal(145)  # 70 + 45 + 30
    assert r1["quick_ratio"] is None  # contraction + churn = 0
    assert r1["arpa"] == pytest.approx(305 / 4)  # 76.25

    smb = run(con, replace(Q1, segments=("smb",)))  # a, b, c: only losses
    assert (smb["mrr_start"], smb["mrr_end"]) == (Decimal(230), Decimal(140))  # 100 + 50 + 80; 100 + 40
    assert smb["quick_ratio"] == 0.0  # 0 / (40 + 50)

    # region_of = "rep": the owner's region; north = r1's accounts, as the rep filter above
    north = run(con, replace(Q1, regions=("north",)), replace(CFG, region_of="rep"))
    assert north == r1


def test_nothing_active(con: Any) -> None:
    out = run(con, Filters(D(2020, 1, 1), D(2020, 12, 31)))  # before every contract
    assert out == {"mrr_start": 0, "new": 0, "reactivation": 0, "expansion": 0, "contraction": 0, "churn": 0,
                   "mrr_end": 0, "net_new_mrr": 0, "quick_ratio": None, "arpa": None}
    assert all(isinstance(out[key], Decimal) for key in ("mrr_start", "new", "churn", "net_new_mrr"))


def test_new_or_reactivation_depends_on_what_started_before_from(con: Any) -> None:
    out = run(con, Filters(D(2023, 9, 2), D(2024, 3, 31)))
    # on Sep 2, 2023 f1 is over (ended Sep 1) and j1, k1 have not started:
    # f: 0 -> 45 and f1 started before Sep 2: reactivation; k: 0 -> 12, but k1 starts Dec 31, after
    # `from`: new, like j (0 -> 5), d (70) and g (20; g1 is empty)
    assert out["reactivation"] == Decimal(45)  # f
    assert out["new"] == Decimal(107)  # d 70 + g 20 + j 5 + k 12
    assert out["mrr_start"] == Decimal(315)  # a 100 + b 50 + c 80 + e 60 + h 10 + i 15
    assert out["net_new_mrr"] == Decimal(77)  # 392 − 315 = 107 + 45 + 30 − 40 − 65


# ---- properties on generated datasets (tests/datasets.py) ------------------------------------


def plain_movements(data: dict[str, Any], filters: Filters, period: Any) -> dict[str, Any]:
    """CONTRACT §5 "(v2) MRR movements" read in plain Python (region by `accounts.region`)."""
    start, end = period.start, period.end
    accounts = {a["account_id"]: a for a in data["accounts"]}

    def in_scope(acc: str) -> bool:
        if not (filters.regions or filters.segments or filters.reps):
            return True
        a = accounts.get(acc)
        return a is not None and all((
            not filters.regions or a["region"] in filters.regions,
            not filters.segments or a["segment"] in filters.segments,
            not filters.reps or a["owner_rep_id"] in filters.reps))

    def active(kk: dict[str, Any], day: dt.date) -> bool:
        return kk["start_date"] <= day and (kk["end_date"] is None or kk["end_date"] > day)

    per: dict[str, list[Any]] = {}
    for kk in data["contracts"]:
        if in_scope(kk["account_id"]):
            row = per.setdefault(kk["account_id"], [Decimal(0), Decimal(0), False])
            mrr = Decimal(str(kk["mrr"]))
            row[0] += mrr if active(kk, start) else 0
            row[1] += mrr if active(kk, end) else 0
            row[2] |= kk["start_date"] < start and (kk["end_date"] is None or kk["end_date"] > kk["start_date"])
    sums = dict.fromkeys(("new", "reactivation", "expansion", "contraction", "churn"), Decimal(0))
    for p, c, before in per.values():
        if p == 0 < c:
            sums["reactivation" if before else "new"] += c
        elif 0 < p < c:
            sums["expansion"] += c - p
        elif 0 < c < p:
            sums["contraction"] += p - c
        elif c == 0 < p:
            sums["churn"] += p
    mrr_start, mrr_end = sum((r[0] for r in per.values()), Decimal(0)), sum((r[1] for r in per.values()), Decimal(0))
    lost = sums["contraction"] + sums["churn"]
    paying = sum(1 for r in per.values() if r[1] > 0)
    return {"mrr_start": mrr_start, **sums, "mrr_end": mrr_end, "net_new_mrr": mrr_end - mrr_start,
            "quick_ratio": None if lost == 0 else float((sums["new"] + sums["reactivation"] + sums["expansion"]) / lost),
            "arpa": None if paying == 0 else float(mrr_end / paying)}


# each example builds a database (~0.25 s): bounded, and marked slow
DB_BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PERIODS = [Filters(), Filters(D(2024, 2, 10), D(2024, 8, 20)), Filters(D(2024, 4, 1), D(2024, 4, 1)),
           Filters(D(2024, 1, 1), D(2025, 6, 30), regions=("N",)), Filters(D(2024, 3, 1), D(2024, 9, 30),
                                                                            segments=("big",), reps=("R1",))]


@pytest.mark.slow
@DB_BOUNDED
@given(data=datasets(), filters=st.sampled_from(PERIODS))
def test_the_bridge_adds_up(data: dict[str, Any], filters: Filters) -> None:
    con = make_db(data)
    out = run(con, filters)
    want = plain_movements(data, filters, resolve_period(con, filters))
    assert list(out) == list(want)
    for key, value in want.items():  # money exactly, the two ratios to a float's precision
        assert out[key] == (value if value is None or isinstance(value, Decimal) else pytest.approx(value)), key
    moves = [out[key] for key in ("new", "reactivation", "expansion", "contraction", "churn")]
    assert all(isinstance(m, Decimal) and m >= 0 for m in moves)
    new, reactivation, expansion, contraction, churned = moves
    # the identity, exactly (Decimals): net_new_mrr = mrr_end − mrr_start = Σ movements
    assert out["net_new_mrr"] == out["mrr_end"] - out["mrr_start"]
    assert out["net_new_mrr"] == new + reactivation + expansion - contraction - churned
    assert out["churn"] + out["contraction"] <= out["mrr_start"]
    lost = contraction + churned
    assert out["quick_ratio"] == (None if lost == 0 else pytest.approx(float((new + reactivation + expansion) / lost)))
    assert (out["arpa"] is None) == (out["mrr_end"] == 0)


# ---- the page's views: by month, the accounts behind a movement, revenue cohorts --------------


def test_month_windows_chain() -> None:
    period = resolve_period(make_db({}), Q1)
    assert mrr_movements.month_windows(period) == [
        (D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 31)),
        (D(2024, 2, 1), D(2024, 1, 31), D(2024, 2, 29)),  # from the previous month's last day
        (D(2024, 3, 1), D(2024, 2, 29), D(2024, 3, 31)),
    ]


def test_by_month_golden(con: Any) -> None:
    months = mrr_movements.by_month(con, CFG, Q1, resolve_period(con, Q1))
    assert list(months.columns) == list(mrr_movements.MONTH_COLUMNS)
    rows = {r["month"].month: r for r in months.to_dict("records")}
    jan, feb, mar = rows[1], rows[2], rows[3]
    # January (Jan 1 → Jan 31): h1 ends Jan 20: churn 10; every other account unchanged
    assert jan["mrr_start"] == Decimal(320)  # a 100 + b 50 + c 80 + e 60 + h 10 + i 15 + j 5
    assert (jan["churn"], jan["new"], jan["reactivation"]) == (Decimal(10), Decimal(0), Decimal(0))
    assert jan["mrr_end"] == Decimal(310) and jan["net_new_mrr"] == Decimal(-10)  # 320 − 10
    # February (Jan 31 → Feb 29): new d 70 + g 20 (g1 is empty); reactivation k 12 (k1 ran on Dec 31);
    # contraction c 80 − 40; churn b 50
    assert (feb["new"], feb["reactivation"], feb["expansion"]) == (Decimal(90), Decimal(12), Decimal(0))
    assert (feb["contraction"], feb["churn"]) == (Decimal(40), Decimal(50))
    assert feb["mrr_start"] == Decimal(310)  # January's end
    assert feb["mrr_end"] == Decimal(322)  # 310 + 90 + 12 − 40 − 50
    # March (Feb 29 → Mar 31): reactivation f 45 + h 10; expansion e 90 − 60; churn i 15 (ends on Mar 31)
    assert (mar["reactivation"], mar["expansion"], mar["churn"]) == (Decimal(55), Decimal(30), Decimal(15))
    assert mar["mrr_end"] == Decimal(392)  # 322 + 55 + 30 − 15: the period's mrr_end
    # the months' net new MRR adds up to the period's: −10 + 12 + 70 = 72 ...
    period = run(con, Q1)
    assert sum(months["net_new_mrr"], Decimal(0)) == period["net_new_mrr"] == Decimal(72)
    # ... but h churned in January and came back in March: 12 + 55 = 67 reactivation by month, 57 over the period
    assert sum(months["reactivation"], Decimal(0)) == Decimal(67) and period["reactivation"] == Decimal(57)
    assert all(isinstance(v, Decimal) for v in months["churn"])


def test_the_accounts_behind_a_movement(con: Any) -> None:
    period = resolve_period(con, Q1)

    def listed(movement: str | None, month: dt.date | None = None, filters: Filters = Q1) -> list[tuple[Any, ...]]:
        frame = mrr_movements.accounts(con, CFG, filters, period, movement, month).execute()
        assert list(frame.columns) == list(mrr_movements.ACCOUNT_COLUMNS)
        return [(r.account_id, r.movement, r.mrr_from, r.mrr_to, r.mrr_change) for r in frame.itertuples()]

    assert listed("churn") == [("b", "churn", 50, 0, -50), ("i", "churn", 15, 0, -15)]  # 50 + 15 = churn 65
    assert listed("expansion") == [("e", "expansion", 60, 90, 30)]
    # every account that moved, largest change first: d 70, b 50, f 45, c 40, e 30, g 20, i 15, k 12
    assert [r[0] for r in listed(None)] == ["d", "b", "f", "c", "e", "g", "i", "k"]
    assert [r[0] for r in listed("reactivation", D(2024, 3, 1))] == ["f", "h"]  # 45, 10: March's 55
    assert listed("churn", D(2024, 1, 1)) == [("h", "churn", 10, 0, -10)]
    assert listed("churn", filters=replace(Q1, regions=("west",))) == [("i", "churn", 15, 0, -15)]
    for movement in mrr_movements.MOVEMENTS:  # each list adds up to its figure of the summary
        assert sum((abs(r[4]) for r in listed(movement)), Decimal(0)) == run(con, Q1)[movement], movement
    with pytest.raises(ValueError, match="not the first day"):
        mrr_movements.accounts(con, CFG, Q1, period, "churn", D(2024, 5, 1))


COHORT_ROWS: dict[str, list[dict[str, Any]]] = {
    "accounts": [{"account_id": a, "region": "east"} for a in "xyzw"],
    "contracts": [
        k("x1", "x", D(2024, 1, 10), D(2024, 2, 20), "100"),  # January cohort, replaced by 150 on Feb 20
        k("x2", "x", D(2024, 2, 20), None, "150"),
        k("y1", "y", D(2024, 1, 15), D(2024, 3, 10), "50"),  # January cohort, gone on Mar 10
        k("z1", "z", D(2024, 2, 5), None, "40"),  # February cohort, an add-on of 20 on Feb 25
        k("z2", "z", D(2024, 2, 25), None, "20"),
        k("w1", "w", D(2023, 11, 1), None, "30"),  # first contract before the period: no cohort
    ],
}


def test_revenue_retention_by_cohort() -> None:
    con = make_db(COHORT_ROWS)
    out = mrr_movements.cohort_revenue(con, CFG, Q1, resolve_period(con, Q1))
    assert list(out.columns) == list(mrr_movements.COHORT_COLUMNS)
    got = [(r.cohort.month, r.month_offset, str(r.observed_on), r.size, r.mrr_initial, r.mrr) for r in out.itertuples()]
    assert got == [
        (1, 0, "2024-01-31", 2, 150, 150),  # initial: x 100 on Jan 10 + y 50 on Jan 15; Jan 31: 100 + 50
        (1, 1, "2024-02-29", 2, 150, 200),  # x2 150 + y 50
        (1, 2, "2024-03-31", 2, 150, 150),  # x2 150 (y ended Mar 10)
        (2, 0, "2024-02-29", 1, 40, 60),  # initial: z1 40 on Feb 5 (z2 starts later); Feb 29: 40 + 20
        (2, 1, "2024-03-31", 1, 40, 60),
    ]
    assert out["nrr"].tolist() == pytest.approx([1.0, 200 / 150, 1.0, 1.5, 1.5])
    # the logo matrix beside it has the same cohorts and sizes
    logos = churn.cohort_matrix(con, CFG, Q1, resolve_period(con, Q1))
    assert logos[["month_offset", "size"]].values.tolist() == out[["month_offset", "size"]].values.tolist()
    assert logos["retention"].tolist() == pytest.approx([1.0, 1.0, 0.5, 1.0, 1.0])  # y gone by Mar 31
    empty = mrr_movements.cohort_revenue(con, CFG, Filters(D(2020, 1, 1), D(2020, 3, 31)),
                                         resolve_period(con, Filters(D(2020, 1, 1), D(2020, 3, 31))))
    assert empty.empty and list(empty.columns) == list(mrr_movements.COHORT_COLUMNS)


@pytest.mark.slow
@DB_BOUNDED
@given(data=datasets(), filters=st.sampled_from(PERIODS))
def test_the_months_chain_and_add_up_to_the_bridge(data: dict[str, Any], filters: Filters) -> None:
    con = make_db(data)
    period = resolve_period(con, filters)
    out = run(con, filters)
    months = mrr_movements.by_month(con, CFG, filters, period)
    if period.empty_data:
        assert months.empty
        return
    assert months["mrr_start"].iloc[0] == out["mrr_start"] and months["mrr_end"].iloc[-1] == out["mrr_end"]
    assert months["mrr_end"].iloc[:-1].tolist() == months["mrr_start"].iloc[1:].tolist()  # each month ends where the next starts
    assert sum(months["net_new_mrr"], Decimal(0)) == out["net_new_mrr"]  # exactly
    for r in months.to_dict("records"):  # each month's own identity
        assert r["net_new_mrr"] == r["new"] + r["reactivation"] + r["expansion"] - r["contraction"] - r["churn"]
