"""Golden tests for metrics/quality.py: rows, completeness, orphans, column profile, load log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from b2bmetrics.config import Config
from b2bmetrics.metrics import quality
from b2bmetrics.schema import TABLES
from tests.conftest import make_db

ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [
        {"rep_id": "R1", "rep_name": "Wang", "region": "north", "team": "A", "role": "sales",
         "hire_date": dt.date(2020, 1, 1)},
        {"rep_id": "R2", "rep_name": "Li", "region": "", "manager_id": "R1"},  # "" is empty
        {"rep_id": "R3", "manager_id": "NOBODY"},  # orphan manager
    ],
    "accounts": [
        {"account_id": "A", "owner_rep_id": "R1"},
        {"account_id": "B", "owner_rep_id": "GHOST"},  # orphan owner
    ],
    "deals": [
        # two orphan keys in one row: counts once
        {"deal_id": "D1", "stage": "won", "account_id": "Z", "owner_rep_id": "Y", "amount": 5.0},
        {"deal_id": "D2", "stage": "lead", "account_id": "A", "referrer_id": "R2"},
        {"deal_id": "D3", "stage": "lead", "referrer_id": "NOPE"},  # orphan referrer
        {"deal_id": "D4", "stage": "lead", "account_id": ""},  # empty key: not an orphan
    ],
    "deal_splits": [{"deal_id": "D9", "rep_id": "R1", "share": 1.0},  # orphan deal
                    {"deal_id": "D1", "rep_id": "R2", "share": 1.0}],
    "surveys": [{"response_id": "S1", "account_id": "A", "submitted_at": dt.datetime(2024, 1, 1), "kind": "csat",
                 "score": 5.0, "ticket_id": "T404"}],  # no tickets at all: orphan
}

# the load log as ingest writes it (its `unmapped` column left empty)
LOADS_INSERT = ("INSERT INTO loads (load_id, table_name, file_name, sha256, rows, rejected, mode, loaded_at, mapping) "
                "VALUES ")


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def test_summary_golden(con: Any) -> None:
    got = quality.summary(con, Config())["tables"]
    assert list(got) == list(TABLES)
    # reps: 7 columns × 3 rows = 21 cells; non-empty: R1 6 (no manager), R2 3 (id, name, manager;
    # the "" region is empty), R3 2 -> 11 / 21
    assert got["reps"] == {"rows": 3, "completeness": pytest.approx(11 / 21), "orphans": 1}
    # accounts: 7 × 2 = 14 cells, 4 filled; B's owner is nobody
    assert got["accounts"] == {"rows": 2, "completeness": pytest.approx(4 / 14), "orphans": 1}
    # deals: 13 columns (v2 adds expected_close_at, probability, forecast_category) × 4 = 52 cells;
    # D1 5, D2 4, D3 3, D4 2 ("" is empty) = 14; orphans D1 (account Z and owner Y, once) and D3 (referrer) -> 2
    assert got["deals"] == {"rows": 4, "completeness": pytest.approx(14 / 52), "orphans": 2}
    assert got["deal_splits"] == {"rows": 2, "completeness": 1.0, "orphans": 1}
    # surveys: 8 columns, 6 filled; ticket T404 names no ticket
    assert got["surveys"] == {"rows": 1, "completeness": pytest.approx(6 / 8), "orphans": 1}
    # an empty table: completeness undefined
    assert got["tickets"] == {"rows": 0, "completeness": None, "orphans": 0}


def test_summary_is_two_queries(con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ibis.expr.types as ir

    calls: list[int] = []
    original = ir.Table.execute

    def counting(self: Any, *a: Any, **k: Any) -> Any:
        calls.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(ir.Table, "execute", counting)
    quality.summary(con, Config())
    assert len(calls) <= 2


def test_present_columns_come_from_the_load_log() -> None:
    con = make_db({"deals": [{"deal_id": "D1", "stage": "won", "amount": 1.0, "status": "won"},
                             {"deal_id": "D2", "stage": "lead", "status": "open"}]})
    raw = con.con
    # a HubSpot-like file had deal_id, stage and amount; status was derived by ingest
    raw.execute(LOADS_INSERT + "(1, 'deals', 'hubspot.csv', 'x', 2, 0, 'replace', ?, ?)",
                [dt.datetime(2024, 1, 1), json.dumps({"deal_id": "Record ID", "stage": "Deal Stage",
                                                      "amount": "Amount"})])
    got = quality.summary(con, Config())["tables"]["deals"]
    # 3 present columns × 2 rows = 6 cells: ids 2, stages 2, amount 1
    assert got["completeness"] == pytest.approx(5 / 6)


def test_without_a_load_log_every_canonical_column_counts() -> None:
    con = make_db({"deals": [{"deal_id": "D1", "stage": "won"}]})
    # 2 of 13 canonical cells filled (10 columns of v1, and v2's expected_close_at, probability, forecast_category)
    assert quality.summary(con, Config())["tables"]["deals"]["completeness"] == pytest.approx(2 / 13)


def test_columns_profile(con: Any) -> None:
    df = quality.columns(con, "deals").set_index("column")
    assert list(df.index) == list(TABLES["deals"].column_names)
    assert df.loc["account_id", "non_null"] == 2  # "Z", "A"; D3 null, D4 ""
    assert df.loc["account_id", "completeness"] == pytest.approx(0.5)
    assert df.loc["stage", "distinct"] == 2
    assert df.loc["owner_rep_id", "references"] == "reps"
    with pytest.raises(ValueError):
        quality.columns(con, "nope")


def test_last_rejects_and_history() -> None:
    con = make_db({})
    raw = con.con
    t0 = dt.datetime(2024, 1, 1)
    for lid, table, when in ((1, "deals", t0), (2, "deals", t0 + dt.timedelta(hours=1)), (3, "surveys", t0)):
        raw.execute(LOADS_INSERT + "(?, ?, ?, 'sha', 10, 1, 'replace', ?, NULL)",
                    [lid, table, f"f{lid}.csv", when])
    for lid, table in ((1, "deals"), (2, "deals"), (3, "surveys")):
        raw.execute("INSERT INTO load_rejects VALUES (?, ?, ?, 3, 'amount', '-5', 'negative')",
                    [lid, table, f"f{lid}.csv"])
    rej = quality.last_rejects(con)
    # the deals rejects of load 1 are superseded by load 2
    assert sorted(zip(rej["table_name"], rej["load_id"], strict=True)) == [("deals", 2), ("surveys", 3)]
    assert set(rej.columns) >= {"row", "column", "value", "reason", "file_name", "loaded_at"}
    hist = quality.load_history(con)
    assert list(hist["load_id"]) == [3, 2, 1]


def test_present_columns_follow_replace_and_append_loads() -> None:
    con = make_db({"deals": [{"deal_id": "D1", "stage": "won", "amount": 1.0, "source": "web"},
                             {"deal_id": "D2", "stage": "lead", "source": "web"}]})
    raw = con.con
    t0, t1 = dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)
    loads = [
        (1, "replace", t0, {"deal_id": "id", "stage": "s", "created_at": "c"}),  # replaced by load 2
        (2, "replace", t1, {"deal_id": "id", "stage": "s", "amount": "a"}),
        (3, "replace", t1, {"deal_id": "id", "stage": "s"}),  # second file of the same ingest
        (4, "append", t1 + dt.timedelta(days=1), {"deal_id": "id", "stage": "s", "source": "src"}),
    ]
    for lid, mode, when, mapping in loads:
        raw.execute(LOADS_INSERT + "(?, 'deals', 'f.csv', 'x', 1, 0, ?, ?, ?)",
                    [lid, mode, when, json.dumps(mapping)])
    # present: deal_id, stage, amount, source -> (2 + 2 + 1 + 2) / (2 × 4)
    assert quality.summary(con, Config())["tables"]["deals"]["completeness"] == pytest.approx(7 / 8)


# ---- deal_snapshots: the rows a user loaded (one per day and deal), not the compact storage rows ------

SNAP_DAYS = (dt.date(2024, 1, 1), dt.date(2024, 1, 8), dt.date(2024, 1, 15))


def _snapshot_db(path: Any = None) -> Any:
    """Full rows: day 1 D1, D9; day 2 D1, D2; day 3 D1, D2 (won, 5), D9. D9 is in no deals row."""
    from b2bmetrics.ingest.snapshots import load_snapshot_rows

    s1, s2, s3 = SNAP_DAYS
    full = [(s1, "D1", "open", 10, "R1"), (s1, "D9", "open", None, None),
            (s2, "D1", "open", 10, "R1"), (s2, "D2", "open", None, None),
            (s3, "D1", "open", 10, "R1"), (s3, "D2", "won", 5, None), (s3, "D9", "open", None, None)]
    tables = {"reps": [{"rep_id": "R1"}], "deals": [{"deal_id": "D1", "stage": "lead"},
                                                    {"deal_id": "D2", "stage": "won"}]}

    def fill(raw: Any) -> None:
        raw.execute("CREATE TEMP TABLE staged AS SELECT * EXCLUDE (valid_until) FROM deal_snapshots LIMIT 0")
        raw.executemany("INSERT INTO staged (snapshot_date, deal_id, stage, status, amount, owner_rep_id) "
                        "VALUES (?, ?, 'lead', ?, ?, ?)", [list(r) for r in full])
        load_snapshot_rows(raw, "staged", append=False)
        raw.execute("DROP TABLE staged")

    if path is None:
        con = make_db(tables)
        fill(con.con)
        return con
    from b2bmetrics.metrics.materialized import RELATIONS
    from b2bmetrics.store import Store
    from tests.conftest import _insert

    store = Store.at(path)
    with store.write(relations=RELATIONS) as raw:
        _insert(raw, tables)
        fill(raw)
    return store


def test_snapshot_rows_are_counted_as_loaded() -> None:
    con = _snapshot_db()
    # stored compactly: D1 once for all three days, D2 twice, D9 twice (absent on day 2)
    assert con.con.execute("SELECT count(*) FROM deal_snapshots").fetchone() == (5,)
    got = quality.summary(con, Config())["tables"]["deal_snapshots"]
    # 7 loaded rows (2 + 2 + 3); orphans: D9's two rows (days 1 and 3); 8 canonical columns × 7 = 56 cells:
    # D1 3 × 6 (date, id, stage, status, amount, owner) + D9 2 × 4 + D2 4 (day 2) + 5 (day 3, amount 5) = 35
    assert got == {"rows": 7, "completeness": pytest.approx(35 / 56), "orphans": 2}


def test_snapshot_counts_kept_by_the_store_equal_the_live_ones(tmp_path: Any) -> None:
    store = _snapshot_db(tmp_path / "db.duckdb")
    live = quality.summary(_snapshot_db(), Config())["tables"]["deal_snapshots"]
    backend = store.ibis()
    from b2bmetrics.store.materialize import lookup

    assert lookup(backend, quality.QUALITY_COUNTS) is not None  # read from the store, not derived
    assert quality.summary(backend, Config())["tables"]["deal_snapshots"] == live == \
        {"rows": 7, "completeness": pytest.approx(35 / 56), "orphans": 2}


def test_snapshot_columns_profile() -> None:
    df = quality.columns(_snapshot_db(), "deal_snapshots").set_index("column")
    assert list(df.index) == list(TABLES["deal_snapshots"].column_names)  # no valid_until
    assert df.loc["snapshot_date", "non_null"] == 7  # every loaded row has its day
    assert df.loc["snapshot_date", "distinct"] == 3  # three days with a deal on them
    assert df.loc["amount", "non_null"] == 4  # D1 on three days, D2 on day 3
    assert df.loc["amount", "completeness"] == pytest.approx(4 / 7)
    assert df.loc["deal_id", "distinct"] == 3
