"""`compute_kpis` against an independent plain-Python oracle of CONTRACT §5 (tests/contract_oracle.py).

On the shared canonical sample exports (through ingest), on the demo dataset and on small
hypothesis-made datasets with nulls, ties, skipped stages, back-moves, splits, quota 0 and
clawbacks, each under several filter sets. Contract v2: money the oracle computes as a Decimal
(every sum §4 calls exact, and the commission figures rounded to cents) must be a Decimal equal to
it exactly; floats (means, ratios) agree to a relative 1e-9; nulls must be nulls. Where the oracle
refuses a period (a --from after the default --to) the project must raise B2BError (exit 2).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.errors import B2BError
from b2bmetrics.filters import Filters
from b2bmetrics.metrics import compute_kpis
from b2bmetrics.store import Store
from tests import contract_oracle as oracle
from tests.conftest import SAMPLES, make_db
from tests.datasets import CFG, GENERATED_FILTERS, REL, datasets, edge_cases

# ---- the comparison --------------------------------------------------------------------------


def same(a: Any, b: Any, path: str) -> None:
    """Project value `a` equals oracle value `b`: a Decimal exactly (and a Decimal), floats to REL,
    None only equals None."""
    if b is None or a is None:
        assert a is None and b is None, f"{path}: project {a!r} != oracle {b!r}"
    elif isinstance(b, dict):
        assert isinstance(a, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in b:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(b, list | tuple):
        assert isinstance(a, list | tuple) and len(a) == len(b), f"{path}: project {a!r} != oracle {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(b, bool | str):
        assert a == b, f"{path}: project {a!r} != oracle {b!r}"
    elif isinstance(b, Decimal):
        assert isinstance(a, Decimal), f"{path}: project {a!r} is not an exact Decimal (oracle {b})"
        assert a == b, f"{path}: project {a} != oracle {b} (exact)"
    elif isinstance(b, int) and not isinstance(a, float):
        assert a == b, f"{path}: project {a!r} != oracle {b!r}"
    else:
        assert isinstance(a, int | float) and not isinstance(a, bool), \
            f"{path}: project {a!r} is not a plain number (oracle {b!r})"
        assert math.isclose(a, b, rel_tol=REL, abs_tol=1e-9), f"{path}: project {a!r} != oracle {b!r}"


COMMISSION_FIGURES = ("credited_revenue", "commission", "referral_commission", "clawback", "payout")


def _zero_row(row: dict[str, Any]) -> bool:
    return all(row[k] == 0 for k in COMMISSION_FIGURES)


def compare(project: dict[str, Any], expected: dict[str, Any], label: str) -> None:
    for part in ("period", "funnel", "churn", "satisfaction", "quality"):
        same(project[part], expected[part], f"{label}:{part}")
    got = {(r["rep_id"], r["period_start"]): r for r in project["commission"]["rows"]}
    want = {(r["rep_id"], r["period_start"]): r for r in expected["commission"]["rows"]}
    # a person with nothing credited, referred or clawed back in a period may be left out (§5)
    for key in set(got) | set(want):
        where = f"{label}:commission.rows{key}"
        if key not in want:
            assert _zero_row(got[key]), f"{where}: project has a row the oracle has not: {got[key]}"
        elif key not in got:
            assert _zero_row(want[key]), f"{where}: project lacks the oracle's row {want[key]}"
        else:
            same(got[key], want[key], where)
    same(project["commission"]["total_payout"], expected["commission"]["total_payout"],
         f"{label}:commission.total_payout")


def check(con: Any, filters: list[oracle.OFilters], label: str, tables: oracle.Tables | None = None,
          present: dict[str, tuple[str, ...]] | None = None) -> None:
    tables = tables if tables is not None else oracle.read_tables(con)
    for f in filters:
        asked = Filters(f.date_from, f.date_to, f.regions, f.segments, f.reps)
        try:
            expected = oracle.kpis(tables, CFG, f, present)
        except oracle.PeriodRefused as refused:
            with pytest.raises(B2BError):
                compute_kpis(con, CFG, asked)
            print(f"{label} {f}: refused as the oracle ({refused})")
            continue
        compare(compute_kpis(con, CFG, asked), expected, f"{label} {f}")


def filter_sets(tables: oracle.Tables) -> list[oracle.OFilters]:
    """No filters, a period, an open-ended period, a region, a segment, a rep, and a mix."""
    regions = sorted({a["region"] for a in tables["accounts"] if a["region"] is not None})
    segments = sorted({a["segment"] for a in tables["accounts"] if a["segment"] is not None})
    reps = sorted({r["rep_id"] for r in tables["reps"]})
    lo, hi = oracle.resolve_period(tables, oracle.OFilters())
    out = [oracle.OFilters()]
    if lo is not None and hi is not None:
        mid = lo + (hi - lo) / 2
        out += [oracle.OFilters(mid - dt.timedelta(days=100), mid + dt.timedelta(days=80)),
                oracle.OFilters(date_from=mid), oracle.OFilters(date_to=mid),
                oracle.OFilters(date_from=lo - dt.timedelta(days=800))]  # a --from before the default
    if regions:
        out.append(oracle.OFilters(regions=(regions[0],)))
    if segments:
        out.append(oracle.OFilters(segments=(segments[-1],)))
    if reps:
        out.append(oracle.OFilters(reps=(reps[0],)))
    if regions and reps and lo is not None and hi is not None:
        out.append(oracle.OFilters(date_to=lo + (hi - lo) / 2, regions=tuple(regions[:2]), reps=tuple(reps[:3])))
    return out


# ---- the canonical samples and the demo ------------------------------------------------------


def test_canonical_samples_match_the_oracle(tmp_path: Path) -> None:
    from b2bmetrics.ingest import ingest

    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [SAMPLES / "canonical"], CFG)
    con = store.ibis()
    tables = oracle.read_tables(con)
    sets = filter_sets(tables) + [oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 12, 31)),
                                  oracle.OFilters(dt.date(2024, 7, 1), dt.date(2024, 9, 30), segments=("大型企业",))]
    check(con, sets, "canonical", tables)


def test_exports_missing_columns_match_the_oracle(tmp_path: Path) -> None:
    """Completeness counts only the canonical columns the files had (§5 "columns that are present")."""
    import csv

    from b2bmetrics.ingest import ingest

    drop = {"deals": {"referrer_id", "source"}, "surveys": {"comment", "ticket_id"}, "reps": {"team"}}
    src, out = SAMPLES / "canonical", tmp_path / "exports"
    out.mkdir()
    present: dict[str, tuple[str, ...]] = {}
    for path in sorted(src.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        cols = [c for c in rows[0] if c not in drop.get(path.stem, set())]
        present[path.stem] = tuple(cols)
        with (out / path.name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [out], CFG)
    con = store.ibis()
    check(con, [oracle.OFilters(dt.date(2024, 1, 1), dt.date(2024, 12, 31))], "missing columns",
          present=present)


def test_demo_matches_the_oracle(tmp_path: Path) -> None:
    from b2bmetrics.demo import write_demo

    store = Store.at(tmp_path / "db.duckdb")
    write_demo(store, seed=5, accounts=300)
    con = store.ibis()
    tables = oracle.read_tables(con)
    check(con, filter_sets(tables), "demo", tables)


# ---- small generated datasets ----------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(datasets(), st.lists(st.sampled_from(GENERATED_FILTERS), min_size=2, max_size=2, unique=True))
def test_generated_datasets_match_the_oracle(tables: oracle.Tables, filters: list[oracle.OFilters]) -> None:
    con = make_db(tables)
    check(con, filters, "generated", oracle.read_tables(con))


def test_edge_cases_match_the_oracle() -> None:
    con = make_db(edge_cases())
    check(con, [oracle.OFilters(), oracle.OFilters(date_to=dt.date(2024, 9, 30)),
                oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 6, 30)), oracle.OFilters(regions=("N",)),
                oracle.OFilters(reps=("R2",))], "edge")


@pytest.mark.parametrize("f", GENERATED_FILTERS[:2])
def test_empty_database_matches_the_oracle(f: oracle.OFilters) -> None:
    con = make_db({})
    check(con, [f], "empty")


# ---- v2: the default period, exact money and cents, hand-computed --------------------------


def test_the_oracles_default_period_is_the_contracts() -> None:
    """The oracle itself against CONTRACT §5 v2's words (hand-computed), then the project against it."""
    t = oracle.complete({
        "reps": [{"rep_id": "R1", "hire_date": dt.date(2010, 1, 1)}],  # the earliest date: moves nothing
        "contracts": [{"contract_id": "C1", "account_id": "A1", "start_date": dt.date(2023, 5, 1),
                       "end_date": dt.date(2031, 1, 1), "mrr": 10}],  # a future end: moves nothing
        "surveys": [{"response_id": "S1", "account_id": "A1", "submitted_at": dt.datetime(2024, 2, 29, 18),
                     "kind": "csat", "score": 5.0}],
        "accounts": [{"account_id": "A1"}],
    })
    assert oracle.resolve_period(t, oracle.OFilters()) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))
    assert oracle.resolve_period(t, oracle.OFilters(date_to=dt.date(2025, 6, 30))) == \
        (dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    assert oracle.resolve_period(t, oracle.OFilters(date_from=dt.date(2024, 1, 1))) == \
        (dt.date(2024, 1, 1), dt.date(2024, 2, 29))
    with pytest.raises(oracle.PeriodRefused):
        oracle.resolve_period(t, oracle.OFilters(date_from=dt.date(2024, 3, 1)))
    assert oracle.churn(t, CFG, oracle.OFilters(), dt.date(2023, 3, 1), dt.date(2024, 2, 29))[
        "active_accounts_start"] == 0  # C1 starts 2023-05-01, after the period's first day
    con = make_db(t)
    check(con, [oracle.OFilters(), oracle.OFilters(date_to=dt.date(2025, 6, 30)),
                oracle.OFilters(date_from=dt.date(2024, 1, 1)), oracle.OFilters(date_from=dt.date(2024, 3, 1))],
          "period")


def _half_cents() -> oracle.Tables:
    """One won deal of 1006.25, split 0.5 / 0.5 between R1 and R2, referred by R3; its account's only
    contract ends 17 days after the close, so 90 days later everything is clawed back (in Q2)."""
    return {
        "reps": [{"rep_id": r, "region": "N"} for r in ("R1", "R2", "R3")],
        "accounts": [{"account_id": "A1", "region": "N", "owner_rep_id": "R1"}],
        "deals": [{"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
                   "referrer_id": "R3", "amount": 1006.25, "created_at": dt.datetime(2024, 1, 2),
                   "closed_at": dt.datetime(2024, 1, 15)}],
        "deal_splits": [{"deal_id": "D1", "rep_id": "R1", "share": 0.5}, {"deal_id": "D1", "rep_id": "R2", "share": 0.5}],
        "contracts": [{"contract_id": "C1", "account_id": "A1", "start_date": dt.date(2024, 1, 1),
                       "end_date": dt.date(2024, 2, 1), "mrr": 0.1},
                      {"contract_id": "C2", "account_id": "A1", "start_date": dt.date(2024, 1, 1),
                       "end_date": dt.date(2024, 2, 1), "mrr": 0.2}],
    }


def test_commission_rounds_each_part_half_away_from_zero() -> None:
    """Default plan: quota 0 pays everything at the last band's 12 %; referral 2 %; clawback 90 days.
    R1, R2: credited 1006.25 x 0.5 = 503.125, commission 503.125 x 0.12 = 60.375 -> 60.38 (a binary
    float rounds 60.375 to 60.38 too, but 20.125 to 20.12); R3: referral 0.02 x 1006.25 = 20.125 -> 20.13.
    Q2 (the close + 90 days = 2024-04-14): each reversed, clawback 60.375 -> 60.38 and 20.125 -> 20.13,
    payouts -60.38, -60.38, -20.13. total_payout: 60.38 + 60.38 + 20.13 - 60.38 - 60.38 - 20.13 = 0."""
    con = make_db(_half_cents())
    tables = oracle.read_tables(con)
    f = oracle.OFilters(dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    got = oracle.kpis(tables, CFG, f)["commission"]
    rows = {(r["rep_id"], r["period_start"]): r for r in got["rows"]}
    q1, q2 = "2024-01-01", "2024-04-01"
    assert rows[("R1", q1)]["credited_revenue"] == Decimal("503.125")
    assert rows[("R1", q1)]["quota"] == 0 and rows[("R1", q1)]["attainment"] is None
    assert [rows[(r, q1)]["payout"] for r in ("R1", "R2", "R3")] == [Decimal("60.38"), Decimal("60.38"),
                                                                      Decimal("20.13")]
    assert rows[("R3", q1)]["referral_commission"] == Decimal("20.13")
    assert [rows[(r, q2)]["clawback"] for r in ("R1", "R2", "R3")] == [Decimal("60.38"), Decimal("60.38"),
                                                                       Decimal("20.13")]
    assert [rows[(r, q2)]["payout"] for r in ("R1", "R2", "R3")] == [Decimal("-60.38"), Decimal("-60.38"),
                                                                     Decimal("-20.13")]
    assert got["total_payout"] == 0
    check(con, [f, oracle.OFilters(dt.date(2024, 4, 1), dt.date(2024, 6, 30)), oracle.OFilters(reps=("R3",))],
          "half cents", tables)


def test_money_sums_that_floats_get_wrong_are_exact() -> None:
    """Ten won deals of 0.1 and MRR 0.1 + 0.2: in binary floats 0.1 x 10 sums to 0.9999999999999999
    and 0.1 + 0.2 to 0.30000000000000004; exactly they are 1.0 and 0.3."""
    t = _half_cents()
    t["deal_splits"] = []
    t["deals"] = [{"deal_id": f"D{i}", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
                   "amount": 0.1, "created_at": dt.datetime(2024, 1, 2), "closed_at": dt.datetime(2024, 1, 3)}
                  for i in range(10)]
    con = make_db(t)
    tables = oracle.read_tables(con)
    f = oracle.OFilters(dt.date(2024, 1, 1), dt.date(2024, 1, 10))
    got = oracle.kpis(tables, CFG, f)
    assert got["funnel"]["won_amount"] == Decimal("1.0")
    assert got["churn"]["mrr_start"] == got["churn"]["mrr_end"] == Decimal("0.3")
    assert got["commission"]["rows"][0]["credited_revenue"] == Decimal("1.0")
    assert got["commission"]["rows"][0]["commission"] == Decimal("0.12")  # 1.0 x 0.12
    check(con, [f], "0.1 sums", tables)
