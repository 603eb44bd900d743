"""Golden tests for metrics/targets.py (CONTRACT §5 "(v2) Targets") on a fixture small enough to
compute by hand.

The period is 2024-01-01 … 2024-02-15, so every target of Q1 or February spans its end. Day counts:
Q1 2024 has n = 31 + 29 + 31 = 91 days and e = 31 + 15 = 46 of them by 15 Feb; February 2024 has
n = 29, e = 15; the year from 2023-07-01 has n = 366 (29 Feb 2024 inside), e = 184 + 31 + 15 = 230
(Jul–Dec 2023 = 31 + 31 + 30 + 31 + 30 + 31 = 184); the year from 2023-02-01 ends on 2024-01-31
before `to`, so e = n = 365.

People: r1 north/alpha, r2 north/beta, r3 south/beta, r5 north with no team; r9 owns a deal but is
not in `reps`.
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
from b2bmetrics.metrics import targets
from b2bmetrics.metrics.targets import BASES, LEVELS, PERIODS, period_last_day
from b2bmetrics.schema import TABLES
from tests.conftest import make_db

D = dt.date
T = dt.datetime
CFG = Config()
PERIOD = Filters(date_from=D(2024, 1, 1), date_to=D(2024, 2, 15))


def deal(did: str, owner: str | None, amount: float | None, closed: dt.datetime | None, stage: str = "won",
         **kw: Any) -> dict[str, Any]:
    return {"deal_id": did, "stage": stage, "account_id": "a1", "owner_rep_id": owner, "amount": amount,
            "created_at": T(2023, 6, 1), "closed_at": closed, **kw}


def paid(pid: str, did: str | None, day: dt.datetime | None, amount: float | None, **kw: Any) -> dict[str, Any]:
    return {"payment_id": pid, "account_id": "a1", "deal_id": did, "paid_at": day, "amount_paid": amount, **kw}


def target(level: str, key: str | None, period: str, start: dt.date, basis: str, amount: str) -> dict[str, Any]:
    return {"level": level, "key": key, "period": period, "period_start": start, "basis": basis, "amount": amount}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "region": "north", "team": "alpha"},
             {"rep_id": "r2", "region": "north", "team": "beta"},
             {"rep_id": "r3", "region": "south", "team": "beta"},
             {"rep_id": "r5", "region": "north", "team": None}],
    "accounts": [{"account_id": "a1", "region": "east", "segment": "smb", "owner_rep_id": "r3"}],
    "deals": [
        deal("d1", "r1", 1000, T(2024, 1, 10)),  # wholly to its owner r1
        deal("d2", "r2", 600, T(2024, 2, 5, 18)),  # split r2 0.5 / r3 0.5 -> 300 each
        deal("d3", "r1", 400, T(2024, 2, 16)),  # the day after `to`: outside every span
        deal("d4", "r1", 999, T(2024, 1, 15), stage="lost"),  # lost: credits nothing
        deal("d5", "r3", None, T(2024, 1, 20)),  # no amount: credits nothing
        deal("d6", "r1", 200, T(2023, 12, 20)),  # before `from`: only the year from 2023-07-01 spans it
        deal("d7", "r2", 5000, None, stage="proposal", status="open"),  # open: never booked
        deal("d8", None, 50, T(2024, 1, 5)),  # no owner, no split: the company's only
        deal("d9", "r9", 70, T(2024, 1, 3)),  # an owner missing from reps: their rep target and the company
        deal("d10", "r3", 100, T(2024, 1, 31, 23, 59)),  # split r1 0.3333333333 / r3 0.6666666667
    ],
    "deal_splits": [{"deal_id": "d2", "rep_id": "r2", "share": "0.5"},
                    {"deal_id": "d2", "rep_id": "r3", "share": "0.5"},
                    {"deal_id": "d10", "rep_id": "r1", "share": "0.3333333333"},
                    {"deal_id": "d10", "rep_id": "r3", "share": "0.6666666667"}],
    "payments": [
        paid("p0", "d6", T(2023, 2, 1), 30),  # the first day of the year from 2023-02-01
        paid("p1", "d1", T(2024, 1, 20), 500),  # r1 (d1's owner)
        paid("p2", "d2", T(2024, 2, 10), 200),  # d2's split: r2 100, r3 100
        paid("p3", None, T(2024, 1, 25), 70),  # no deal: the company's only
        paid("p4", "d7", T(2024, 2, 1), 300),  # an open deal's deposit: r2 all the same
        paid("p5", "d1", T(2024, 2, 16), 999),  # the day after `to`
        paid("p6", "d1", None, None, due_date=D(2024, 2, 1), amount_due=100),  # planned, not received
        paid("p7", "dX", T(2024, 1, 30), 40),  # a deal missing from deals: the company's only
    ],
    "targets": [
        target("company", None, "quarter", D(2024, 1, 1), "booked", "3000"),
        target("company", None, "year", D(2023, 7, 1), "booked", "10000"),
        target("company", None, "month", D(2024, 2, 1), "collected", "1000"),
        target("company", None, "year", D(2023, 2, 1), "collected", "12000"),
        target("company", None, "quarter", D(2023, 10, 1), "booked", "9000"),  # ends before `from`
        target("region", "north", "quarter", D(2024, 1, 1), "booked", "4000"),
        target("region", "south", "quarter", D(2024, 1, 1), "collected", "500"),
        target("team", "beta", "quarter", D(2024, 1, 1), "booked", "2000"),
        target("team", "alpha", "quarter", D(2024, 1, 1), "collected", "1000"),
        target("rep", "r1", "month", D(2024, 1, 1), "booked", "0"),
        target("rep", "r1", "month", D(2024, 3, 1), "booked", "500"),  # starts after `to`
        target("rep", "r1", "month", D(2023, 12, 1), "booked", "500"),  # ends before `from`
        target("rep", "r2", "quarter", D(2024, 1, 1), "booked", "1000"),
        target("rep", "r2", "quarter", D(2024, 1, 1), "collected", "800"),
        target("rep", "r3", "quarter", D(2024, 1, 1), "collected", "400"),
        target("rep", "r9", "month", D(2024, 1, 1), "booked", "100.5"),
    ],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def run(con: Any, filters: Filters = PERIOD, cfg: Config = CFG) -> list[dict[str, Any]]:
    out = targets.summary(con, cfg, filters, resolve_period(con, filters))
    assert list(out) == ["rows"]
    return out["rows"]


def by_id(rows: list[dict[str, Any]]) -> dict[tuple[str, str | None, str, str], dict[str, Any]]:
    return {(r["level"], r["key"], r["period_start"].isoformat(), r["basis"]): r for r in rows}


def test_rows_golden(con: Any) -> None:
    rows = by_id(run(con))
    # company Q1 booked: d1 1000 + d2 600 + d8 50 + d9 70 + d10 100 = 1820 (d3 after `to`, d4 lost,
    # d5 no amount, d6 in December)
    r = rows[("company", None, "2024-01-01", "booked")]
    assert (r["target"], r["actual"]) == (Decimal(3000), Decimal(1820))
    assert r["attainment"] == pytest.approx(1820 / 3000)
    assert r["expected_to_date"] == pytest.approx(3000 * 46 / 91)  # 1516.48…
    assert r["pace"] == pytest.approx(1820 * 91 / (3000 * 46))  # 1.2001…
    # the fiscal year from 2023-07-01: 1820 + d6 200 = 2020; e = 230 of n = 366
    r = rows[("company", None, "2023-07-01", "booked")]
    assert r["actual"] == Decimal(2020)
    assert r["expected_to_date"] == pytest.approx(10000 * 230 / 366)
    assert r["pace"] == pytest.approx(2020 / (10000 * 230 / 366))
    # company February collected: p2 200 + p4 300 = 500 (p5 is the 16th); e = 15 of n = 29
    r = rows[("company", None, "2024-02-01", "collected")]
    assert r["actual"] == Decimal(500)
    assert r["attainment"] == pytest.approx(0.5)
    assert r["expected_to_date"] == pytest.approx(1000 * 15 / 29)
    # the year from 2023-02-01 (ends 2024-01-31, before `to`): p0 30 + p1 500 + p3 70 + p7 40 = 640;
    # e = n = 365, so the pace is the attainment
    r = rows[("company", None, "2023-02-01", "collected")]
    assert r["actual"] == Decimal(640)
    assert r["expected_to_date"] == pytest.approx(12000.0)
    assert r["pace"] == pytest.approx(640 / 12000) == r["attainment"]
    # region north (r1, r2, r5) booked: d1 1000 + d2's half 300 + d10's third 33.3333333300 = 1333.33333333
    r = rows[("region", "north", "2024-01-01", "booked")]
    assert r["actual"] == Decimal("1333.33333333")
    assert r["pace"] == pytest.approx(1333.33333333 * 91 / (4000 * 46))
    # region south (r3) collected: p2's half = 100
    assert rows[("region", "south", "2024-01-01", "collected")]["actual"] == Decimal(100)
    # team beta (r2, r3) booked: d2 300 + 300, d10 66.66666667 (d5 has no amount) = 666.66666667
    assert rows[("team", "beta", "2024-01-01", "booked")]["actual"] == Decimal("666.66666667")
    # team alpha (r1) collected: p1 500 (p5 after `to`, p6 not received)
    assert rows[("team", "alpha", "2024-01-01", "collected")]["actual"] == Decimal(500)
    # a target of 0: attainment and pace undefined, expected 0
    r = rows[("rep", "r1", "2024-01-01", "booked")]
    assert r["actual"] == Decimal("1033.33333333")  # d1 1000 + d10's third 33.33333333
    assert (r["target"], r["attainment"], r["expected_to_date"], r["pace"]) == (Decimal(0), None, 0.0, None)
    # r2 booked: d2's half 300; collected: p2's half 100 + p4 300 (an open deal's payment) = 400
    assert rows[("rep", "r2", "2024-01-01", "booked")]["actual"] == Decimal(300)
    assert rows[("rep", "r2", "2024-01-01", "collected")]["actual"] == Decimal(400)
    assert rows[("rep", "r3", "2024-01-01", "collected")]["actual"] == Decimal(100)
    # r9 is in no team or region but owns d9: 70 of 100.5; January is over (e = n = 31)
    r = rows[("rep", "r9", "2024-01-01", "booked")]
    assert (r["target"], r["actual"]) == (Decimal("100.5"), Decimal(70))
    assert r["expected_to_date"] == pytest.approx(100.5)
    assert r["pace"] == pytest.approx(70 / 100.5)


def test_rows_are_the_overlapping_targets_in_order(con: Any) -> None:
    rows = run(con)
    # not listed: company Q4 2023 and r1's December (end before `from`), r1's March (starts after `to`)
    assert [(r["level"], r["key"], r["period"], r["period_start"].isoformat(), r["basis"]) for r in rows] == [
        ("company", None, "year", "2023-02-01", "collected"),
        ("company", None, "year", "2023-07-01", "booked"),
        ("company", None, "quarter", "2024-01-01", "booked"),
        ("company", None, "month", "2024-02-01", "collected"),
        ("region", "north", "quarter", "2024-01-01", "booked"),
        ("region", "south", "quarter", "2024-01-01", "collected"),
        ("team", "alpha", "quarter", "2024-01-01", "collected"),
        ("team", "beta", "quarter", "2024-01-01", "booked"),
        ("rep", "r1", "month", "2024-01-01", "booked"),
        ("rep", "r2", "quarter", "2024-01-01", "booked"),
        ("rep", "r2", "quarter", "2024-01-01", "collected"),
        ("rep", "r3", "quarter", "2024-01-01", "collected"),
        ("rep", "r9", "month", "2024-01-01", "booked"),
    ]
    assert list(rows[0]) == ["level", "key", "period", "period_start", "basis", "target", "actual", "attainment",
                             "expected_to_date", "pace"]
    for r in rows:
        assert isinstance(r["target"], Decimal) and isinstance(r["actual"], Decimal)
        assert all(r[k] is None or isinstance(r[k], float) for k in ("attainment", "expected_to_date", "pace"))


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(r["level"], r["key"], r["basis"]) for r in rows]


def test_region_filter_keeps_its_regions_people_and_teams(con: Any) -> None:
    rows = run(con, Filters(date_from=PERIOD.date_from, date_to=PERIOD.date_to, regions=("north",)))
    # north: region north; teams with a north rep: alpha (r1), beta (r2); reps r1, r2 (r5 has no row);
    # not south, not r3, not r9 (in no region), no company row
    assert keys(rows) == [("region", "north", "booked"), ("team", "alpha", "collected"), ("team", "beta", "booked"),
                          ("rep", "r1", "booked"), ("rep", "r2", "booked"), ("rep", "r2", "collected")]
    # the filter chooses rows, not what they count: beta still counts r3's credit
    assert rows[2]["actual"] == Decimal("666.66666667")


def test_rep_filter_keeps_only_that_reps_rows(con: Any) -> None:
    rows = run(con, Filters(date_from=PERIOD.date_from, date_to=PERIOD.date_to, reps=("r2", "r9")))
    assert keys(rows) == [("rep", "r2", "booked"), ("rep", "r2", "collected"), ("rep", "r9", "booked")]


def test_both_filters_keep_what_each_keeps(con: Any) -> None:
    both = Filters(date_from=PERIOD.date_from, date_to=PERIOD.date_to, regions=("south",), reps=("r2", "r3"))
    # rep rows of r2 or r3 whose region is south: r3 only
    assert keys(run(con, both)) == [("rep", "r3", "collected")]


def test_segment_does_not_apply_and_region_of_does_not_matter(con: Any) -> None:
    every = run(con)
    assert run(con, Filters(date_from=PERIOD.date_from, date_to=PERIOD.date_to, segments=("ent",))) == every
    north = Filters(date_from=PERIOD.date_from, date_to=PERIOD.date_to, regions=("north",))
    assert run(con, north, replace(CFG, region_of="rep")) == run(con, north)


def test_no_targets_and_no_data() -> None:
    assert run(make_db({})) == []  # no date anywhere: no period, no rows
    con = make_db({"deals": [deal("d1", "r1", 10, T(2024, 1, 10))]})
    assert run(con) == []


# ---- property: a plain-Python reading of CONTRACT §5 on generated data --------------------------

PEOPLE = ("r1", "r2", "r3", "r9")  # r9 is not in reps
REPS = [{"rep_id": "r1", "region": "north", "team": "alpha"}, {"rep_id": "r2", "region": "north", "team": "beta"},
        {"rep_id": "r3", "region": "south", "team": "beta"}]
DAY = st.integers(min_value=-200, max_value=200).map(lambda d: T(2024, 1, 1, 12) + dt.timedelta(days=d))
AMOUNT = st.decimals(min_value=0, max_value=1000, places=2)
GEN_DEAL = st.fixed_dictionaries({
    "stage": st.sampled_from(["won", "won", "lost", "proposal"]), "owner": st.sampled_from([None, *PEOPLE]),
    "amount": st.one_of(st.none(), AMOUNT), "closed": st.one_of(st.none(), DAY),
    "split": st.sampled_from([None, ("r1", "r2", "0.5"), ("r2", "r3", "0.3333333333")])})
GEN_PAYMENT = st.fixed_dictionaries({"deal": st.integers(min_value=-1, max_value=7), "day": DAY, "amount": AMOUNT})
GEN_TARGET = st.fixed_dictionaries({
    "level": st.sampled_from(LEVELS), "key": st.sampled_from(["north", "south", "alpha", "beta", *PEOPLE]),
    "period": st.sampled_from(list(PERIODS)), "month": st.integers(min_value=-14, max_value=4),
    "basis": st.sampled_from(BASES), "amount": st.sampled_from(["0", "500", "1234.5"])})
GEN_FILTERS = st.sampled_from([Filters(), Filters(regions=("north",)), Filters(reps=("r2", "r9")),
                               Filters(regions=("south",), reps=("r3", "r1"))])


def counts(reps: dict[str, dict[str, Any]], level: str, key: str, person: str) -> bool:
    """`person` is one of the people of a target of `level` and `key`."""
    rep = reps.get(person)
    return {"rep": person == key, "team": rep is not None and rep["team"] == key,
            "region": rep is not None and rep["region"] == key}[level]


def oracle(rows: dict[str, list[dict[str, Any]]], f: Filters, start: dt.date, end: dt.date) -> list[tuple[Any, ...]]:
    """CONTRACT §5 "Targets" read literally: (level, key, period, period_start, basis, actual) per row."""
    reps = {r["rep_id"]: r for r in rows["reps"]}
    deals = {d["deal_id"]: d for d in rows["deals"]}
    splits: dict[str, list[tuple[str, Decimal]]] = {}
    for s in rows["deal_splits"]:
        splits.setdefault(s["deal_id"], []).append((s["rep_id"], Decimal(s["share"])))

    def credit(deal_id: str | None, amount: Decimal) -> list[tuple[str, Decimal]]:
        if deal_id is None:
            return []
        if deal_id in splits:
            return [(p, amount * share) for p, share in splits[deal_id]]
        owner = deals[deal_id]["owner_rep_id"] if deal_id in deals else None
        return [(owner, amount)] if owner else []

    in_region = {p for p, r in reps.items() if r["region"] in f.regions}
    out = []
    for t in rows["targets"]:
        ps, level, key = t["period_start"], t["level"], t["key"]
        last = period_last_day(ps, t["period"])
        if ps > end or last < start:
            continue
        keep = {"company": not (f.regions or f.reps), "region": not f.reps and (not f.regions or key in f.regions),
                "team": not f.reps and (not f.regions or any(reps[p]["team"] == key for p in in_region)),
                "rep": (not f.reps or key in f.reps) and (not f.regions or key in in_region)}
        if not keep[level]:
            continue
        span = (dt.datetime.combine(ps, dt.time()), dt.datetime.combine(min(end, last) + dt.timedelta(days=1), dt.time()))
        if t["basis"] == "booked":
            items = [(d["deal_id"], Decimal(d["amount"])) for d in rows["deals"] if d["stage"] == "won"
                     and d["amount"] is not None and d["closed_at"] is not None and span[0] <= d["closed_at"] < span[1]]
        else:
            items = [(p["deal_id"], Decimal(p["amount_paid"])) for p in rows["payments"]
                     if span[0] <= p["paid_at"] < span[1]]
        if level == "company":
            actual = sum((a for _, a in items), Decimal(0))
        else:
            actual = sum((c for deal_id, a in items for p, c in credit(deal_id, a) if counts(reps, level, key, p)),
                         Decimal(0))
        out.append((level, None if level == "company" else key, t["period"], ps, t["basis"], actual))
    return sorted(out, key=lambda r: (LEVELS.index(r[0]), r[1] or "", r[3], list(PERIODS).index(r[2]),
                                      BASES.index(r[4])))


@pytest.fixture(scope="module")
def scratch() -> Any:
    return make_db({})


@pytest.mark.slow  # about 0.5 s an example
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(deals=st.lists(GEN_DEAL, max_size=8), payments=st.lists(GEN_PAYMENT, max_size=8),
       targets_=st.lists(GEN_TARGET, max_size=10), f=GEN_FILTERS)
def test_rows_match_a_plain_reading_of_the_contract(scratch: Any, deals: list[dict[str, Any]],
                                                     payments: list[dict[str, Any]],
                                                     targets_: list[dict[str, Any]], f: Filters) -> None:
    rows: dict[str, list[dict[str, Any]]] = {
        "reps": REPS,
        "deals": [deal(f"d{i}", d["owner"], d["amount"], d["closed"], d["stage"]) for i, d in enumerate(deals)],
        "deal_splits": [{"deal_id": f"d{i}", "rep_id": p, "share": s} for i, d in enumerate(deals) if d["split"]
                        for p, s in ((d["split"][0], d["split"][2]),
                                     (d["split"][1], str(1 - Decimal(d["split"][2]))))],
        "payments": [paid(f"p{i}", None if p["deal"] < 0 else f"d{p['deal']}", p["day"], p["amount"])
                     for i, p in enumerate(payments)],
        "targets": list({(t["level"], t["key"], t["period"], t["month"], t["basis"]): target(
            t["level"], None if t["level"] == "company" else t["key"], t["period"],
            D(2024 + (t["month"] - 1) // 12, (t["month"] - 1) % 12 + 1, 1), t["basis"], t["amount"])
            for t in targets_}.values()),
    }
    for name in TABLES:
        scratch.con.execute(f'DELETE FROM "{name}"')
    for name, table_rows in rows.items():
        cols = TABLES[name].column_names
        if table_rows:
            scratch.con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" for _ in cols)})',
                                    [[r.get(c) for c in cols] for r in table_rows])
    window = replace(f, date_from=D(2024, 1, 1), date_to=D(2024, 2, 15))
    got = [(r["level"], r["key"], r["period"], r["period_start"], r["basis"], r["actual"]) for r in run(scratch, window)]
    assert got == oracle(rows, window, D(2024, 1, 1), D(2024, 2, 15))
