"""`compute_kpis` against an independent plain-Python oracle of CONTRACT §5 (tests/contract_oracle.py).

On the shared canonical sample exports (through ingest), on the demo dataset and on small
hypothesis-made datasets with nulls, ties, skipped stages, back-moves, splits, quota 0 and
clawbacks, each under several filter sets. Floats agree to a relative 1e-9; nulls must be nulls.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics.store import Store
from tests import contract_oracle as oracle
from tests.conftest import SAMPLES, make_db
from tests.datasets import CFG, GENERATED_FILTERS, check, datasets, edge_cases


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
                oracle.OFilters(date_from=mid)]
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
