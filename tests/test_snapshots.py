"""Deal snapshots written at load, stored compactly (CONTRACT §2 v2 "Snapshots"; b2bmetrics.ingest.snapshots).

Every test reads the snapshots back two ways: the stored (compact) rows, and the state of every
snapshot day expanded through `_rules.deals_on`, which must be exactly what was loaded that day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from b2bmetrics.cli import build_parser
from b2bmetrics.config import Config
from b2bmetrics.ingest import ingest
from b2bmetrics.ingest.snapshots import load_snapshot_rows, record_deals_snapshot
from b2bmetrics.metrics import _rules
from b2bmetrics.store import Store, connect_duckdb, init_schema
from tests.conftest import query

D1, D2, D3, D4 = dt.date(2024, 1, 1), dt.date(2024, 1, 8), dt.date(2024, 1, 15), dt.date(2024, 1, 22)

State = tuple[str, Decimal | None]  # (stage, amount): what these tests vary


def deals_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A deals CSV of (deal_id, stage, amount)."""
    path.write_text("deal_id,stage,amount\n" + "".join(f"{d},{s},{a}\n" for d, s, a in rows), encoding="utf-8")
    return path


def load_deals(store: Store, tmp_path: Path, day: dt.date | None, rows: list[tuple[str, str, str]],
               append: bool = False) -> None:
    # a new file name each time: the same bytes twice would be skipped as "already loaded"
    n = len(list(tmp_path.glob("deals_*.csv")))
    ingest(store, [deals_file(tmp_path / f"deals_{n}.csv", rows)], Config(), as_of=day, append=append)


def days(store: Store) -> list[dt.date]:
    return [r[0] for r in query(store, "SELECT snapshot_date FROM snapshot_days ORDER BY 1")]


def stored(store: Store) -> list[tuple[Any, ...]]:
    """The compact rows: (snapshot_date, deal_id, stage, amount, valid_until), sorted."""
    return query(store, "SELECT snapshot_date, deal_id, stage, amount, valid_until FROM deal_snapshots ORDER BY 1, 2")


def on(store: Store, day: dt.date) -> dict[str, State]:
    """The state of every deal on `day`, expanded by the rule every metric uses."""
    df = _rules.deals_on(store.ibis(), day).execute()
    assert {pd.Timestamp(v).date() for v in df["snapshot_date"]} <= {day}
    assert df["deal_id"].is_unique
    return {r["deal_id"]: (r["stage"], None if r["amount"] is None or r["amount"] != r["amount"]
                           else Decimal(str(r["amount"]))) for r in df.to_dict("records")}


def state(rows: list[tuple[str, str, str]]) -> dict[str, State]:
    return {d: (s, Decimal(a) if a else None) for d, s, a in rows}


def test_first_load_writes_the_day_as_open_rows(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D1, [("A", "lead", "100"), ("B", "proposal", "")])
    assert days(store) == [D1]
    # one open row per deal (valid_until NULL: through the latest day)
    assert stored(store) == [(D1, "A", "lead", Decimal("100"), None), (D1, "B", "proposal", None, None)]
    assert on(store, D1) == {"A": ("lead", Decimal("100")), "B": ("proposal", None)}
    # a derived status is kept as the deal has it (ingest derives it from the stage)
    assert query(store, "SELECT DISTINCT status FROM deal_snapshots") == [("open",)]


def test_without_as_of_the_day_is_the_day_of_the_load(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    before = dt.date.today()
    load_deals(store, tmp_path, None, [("A", "lead", "1")])
    [day] = days(store)
    assert before <= day <= dt.date.today()


def test_the_next_day_merges_unchanged_changed_absent_and_new_deals(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D1, [("A", "lead", "100"), ("B", "lead", "200"), ("C", "lead", "300")])
    # A unchanged, B grows, C is gone, N is new
    load_deals(store, tmp_path, D2, [("A", "lead", "100"), ("B", "lead", "250"), ("N", "visit", "5")])
    assert days(store) == [D1, D2]
    assert stored(store) == [
        (D1, "A", "lead", Decimal("100"), None),  # unchanged: the same row, still open
        (D1, "B", "lead", Decimal("200"), D2),  # changed: closed on D2 …
        (D1, "C", "lead", Decimal("300"), D2),  # absent on D2: closed, nothing opens
        (D2, "B", "lead", Decimal("250"), None),  # … and the new state opens
        (D2, "N", "visit", Decimal("5"), None),  # new
    ]
    assert on(store, D1) == {"A": ("lead", Decimal("100")), "B": ("lead", Decimal("200")),
                             "C": ("lead", Decimal("300"))}
    assert on(store, D2) == {"A": ("lead", Decimal("100")), "B": ("lead", Decimal("250")), "N": ("visit", Decimal("5"))}


def test_a_second_load_the_same_day_replaces_that_day(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D1, [("A", "lead", "100"), ("B", "lead", "200")])
    load_deals(store, tmp_path, D2, [("A", "lead", "150"), ("B", "lead", "200")])
    load_deals(store, tmp_path, D2, [("A", "lead", "100"), ("C", "won", "9")])  # D2 again: A back, B gone, C new
    assert days(store) == [D1, D2]
    assert stored(store) == [
        (D1, "A", "lead", Decimal("100"), None),  # A equals D1 again: one row, the 150 is gone
        (D1, "B", "lead", Decimal("200"), D2),
        (D2, "C", "won", Decimal("9"), None),
    ]
    assert on(store, D2) == {"A": ("lead", Decimal("100")), "C": ("won", Decimal("9"))}
    # the first day, loaded again, replaced too (a day in the middle, via the general path)
    load_deals(store, tmp_path, D1, [("B", "lead", "200")])
    assert on(store, D1) == {"B": ("lead", Decimal("200"))}
    assert on(store, D2) == {"A": ("lead", Decimal("100")), "C": ("won", Decimal("9"))}
    assert stored(store) == [(D1, "B", "lead", Decimal("200"), D2), (D2, "A", "lead", Decimal("100"), None),
                             (D2, "C", "won", Decimal("9"), None)]


def test_as_of_an_earlier_day_goes_in_the_middle(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    first = [("A", "lead", "100"), ("B", "lead", "200"), ("C", "lead", "300")]
    third = [("A", "lead", "100"), ("B", "won", "200"), ("C", "lead", "300")]
    load_deals(store, tmp_path, D1, first)
    load_deals(store, tmp_path, D3, third)
    # last month's export loaded after this month's: D2 between D1 and D3
    second = [("A", "lead", "100"), ("B", "won", "200"), ("D", "visit", "7")]
    load_deals(store, tmp_path, D2, second)
    assert days(store) == [D1, D2, D3]
    assert (on(store, D1), on(store, D2), on(store, D3)) == (state(first), state(second), state(third))
    assert stored(store) == [
        (D1, "A", "lead", Decimal("100"), None),  # the same on all three days: one row
        (D1, "B", "lead", Decimal("200"), D2),  # won from D2 on (was: from D3)
        (D1, "C", "lead", Decimal("300"), D2),  # absent on D2 …
        (D2, "B", "won", Decimal("200"), None),
        (D2, "D", "visit", Decimal("7"), D3),  # only on D2
        (D3, "C", "lead", Decimal("300"), None),  # … back on D3
    ]
    # the deals table is the loaded file, whatever the day
    assert query(store, "SELECT deal_id FROM deals ORDER BY 1") == [("A",), ("B",), ("D",)]


def test_the_same_export_as_of_another_day_is_a_new_snapshot_day(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    path = deals_file(tmp_path / "deals.csv", [("A", "lead", "1")])
    ingest(store, [path], Config(), as_of=D1)
    # the same bytes again: skipped as already loaded, unless --as-of names a day not yet snapshotted
    [again] = ingest(store, [path], Config(), as_of=D1)
    assert again.skipped
    [other_day] = ingest(store, [path], Config(), as_of=D2)
    assert not other_day.skipped
    assert days(store) == [D1, D2]
    assert stored(store) == [(D1, "A", "lead", Decimal("1"), None)]  # the same state: still one row
    assert ingest(store, [path], Config(), as_of=D2)[0].skipped


def test_as_of_before_the_first_day(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D2, [("A", "lead", "1")])
    load_deals(store, tmp_path, D1, [("A", "lead", "1"), ("B", "lead", "2")])
    assert days(store) == [D1, D2]
    assert stored(store) == [(D1, "A", "lead", Decimal("1"), None), (D1, "B", "lead", Decimal("2"), D2)]


def test_append_snapshots_the_deals_table_after_the_load(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D1, [("A", "lead", "100"), ("B", "lead", "200")])
    load_deals(store, tmp_path, D2, [("B", "won", "210"), ("C", "lead", "5")], append=True)
    # the deals table after the upsert: A kept, B updated, C added
    assert on(store, D2) == {"A": ("lead", Decimal("100")), "B": ("won", Decimal("210")), "C": ("lead", Decimal("5"))}
    assert on(store, D1) == {"A": ("lead", Decimal("100")), "B": ("lead", Decimal("200"))}


def snapshot_file(path: Path, rows: list[tuple[dt.date, str, str, str]]) -> Path:
    path.write_text("snapshot_date,deal_id,stage,amount\n" + "".join(
        f"{d.isoformat()},{i},{s},{a}\n" for d, i, s, a in rows), encoding="utf-8")
    return path


def test_a_snapshot_file_replaces_its_days_and_keeps_the_others(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D1, [("A", "lead", "100"), ("B", "lead", "200")])
    load_deals(store, tmp_path, D2, [("A", "visit", "100"), ("B", "lead", "200")])
    load_deals(store, tmp_path, D3, [("A", "visit", "100")])
    # the file holds D2 (replaced: only B, changed) and D4 (new)
    ingest(store, [snapshot_file(tmp_path / "deal_snapshots.csv",
                                 [(D2, "B", "lead", "222"), (D4, "A", "won", "100"), (D4, "B", "lost", "")])],
           Config())
    assert days(store) == [D1, D2, D3, D4]
    assert on(store, D1) == {"A": ("lead", Decimal("100")), "B": ("lead", Decimal("200"))}  # kept
    assert on(store, D2) == {"B": ("lead", Decimal("222"))}  # replaced whole: A is absent
    assert on(store, D3) == {"A": ("visit", Decimal("100"))}  # kept
    assert on(store, D4) == {"A": ("won", Decimal("100")), "B": ("lost", None)}
    # `loads` records the rows of the file
    assert query(store, "SELECT rows FROM loads WHERE table_name = 'deal_snapshots'") == [(3,)]
    # --append upserts into its days by deal: D2 keeps B, gains A
    ingest(store, [snapshot_file(tmp_path / "deal_snapshots_fix.csv", [(D2, "A", "visit", "100")])], Config(),
           append=True)
    assert on(store, D2) == {"A": ("visit", Decimal("100")), "B": ("lead", Decimal("222"))}
    # A on D2 equals A on D3: one row now spans both
    assert (D2, "A", "visit", Decimal("100"), D4) in stored(store)


def test_the_canonical_sample_round_trips(tmp_path: Path, samples: Path) -> None:
    """Every day of the sample file expands back to exactly its rows."""
    store = Store.at(tmp_path / "db.duckdb")
    src = samples / "canonical" / "deal_snapshots.csv"
    ingest(store, [src], Config())
    raw = duckdb.sql(f"SELECT snapshot_date, deal_id, stage, amount FROM read_csv('{src}', all_varchar = true)")
    want: dict[dt.date, dict[str, State]] = {}
    for day, deal, stage, amount in raw.fetchall():
        want.setdefault(dt.date.fromisoformat(day), {})[deal] = (stage, Decimal(amount) if amount else None)
    assert days(store) == sorted(want)
    for day, deals in want.items():
        assert on(store, day) == deals, day
    # compact: 906 full rows in the file (59 … 120 deals on 9 days), far fewer stored
    assert sum(len(d) for d in want.values()) == 906
    [(n,)] = query(store, "SELECT count(*) FROM deal_snapshots")
    assert n < 906


def test_an_older_database_gets_the_compact_format_at_its_next_write() -> None:
    con = connect_duckdb()
    con.execute("CREATE TABLE deal_snapshots (snapshot_date DATE, deal_id VARCHAR, stage VARCHAR, status VARCHAR, "
                "amount DECIMAL(18,4), expected_close_at TIMESTAMP, owner_rep_id VARCHAR, forecast_category VARCHAR)")
    con.execute("INSERT INTO deal_snapshots (snapshot_date, deal_id, stage) VALUES "
                "('2024-01-01', 'A', 'lead'), ('2024-01-08', 'A', 'lead'), ('2024-01-08', 'B', 'lead')")
    init_schema(con)
    # every old full row covers its own day only, up to the next day
    assert con.execute("SELECT snapshot_date, deal_id, valid_until FROM deal_snapshots ORDER BY 1, 2").fetchall() == [
        (D1, "A", D2), (D2, "A", None), (D2, "B", None)]
    assert con.execute("SELECT snapshot_date FROM snapshot_days ORDER BY 1").fetchall() == [(D1,), (D2,)]
    init_schema(con)  # idempotent
    assert con.execute("SELECT count(*) FROM snapshot_days").fetchall() == [(2,)]


def test_the_cli_takes_as_of() -> None:
    args = build_parser().parse_args(["ingest", "--db", "x.duckdb", "--as-of", "2024-03-31", "deals.csv"])
    assert args.as_of == dt.date(2024, 3, 31)


# ---- property: any history of loads expands back to what each day was loaded as ------------------

DEALS = ("a", "b", "c")
states = st.fixed_dictionaries({}, optional={d: st.tuples(st.sampled_from(("lead", "won")),
                                                            st.sampled_from((None, "1", "2"))) for d in DEALS})
ops = st.lists(st.tuples(st.sampled_from(("deals", "file", "append")), st.integers(0, 6),
                         st.lists(st.tuples(st.integers(0, 6), states), min_size=1, max_size=3), states),
               min_size=1, max_size=6)


def _expanded(con: duckdb.DuckDBPyConnection) -> dict[dt.date, dict[str, tuple[str, str | None]]]:
    out: dict[dt.date, dict[str, tuple[str, str | None]]] = {}
    for (day,) in con.execute("SELECT snapshot_date FROM snapshot_days ORDER BY 1").fetchall():
        rows = con.execute("SELECT deal_id, stage, amount FROM deal_snapshots WHERE snapshot_date <= ? "
                           "AND (valid_until IS NULL OR valid_until > ?)", [day, day]).fetchall()
        assert len({r[0] for r in rows}) == len(rows), "two rows cover one deal on one day"
        out[day] = {d: (s, None if a is None else str(int(a))) for d, s, a in rows}
    return out


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_any_history_expands_back_to_what_was_loaded(history: list[Any]) -> None:
    con = connect_duckdb()
    init_schema(con)
    want: dict[dt.date, dict[str, tuple[str, str | None]]] = {}
    for kind, offset, file_days, deals in history:
        if kind == "deals":
            day = D1 + dt.timedelta(days=offset)
            con.execute("DELETE FROM deals")
            for d, (s, a) in deals.items():
                con.execute("INSERT INTO deals (deal_id, stage, status, amount) VALUES (?, ?, 'open', ?)", [d, s, a])
            record_deals_snapshot(con, day)
            want[day] = dict(deals)
            continue
        con.execute("CREATE OR REPLACE TEMP TABLE staged AS SELECT * EXCLUDE (valid_until) FROM deal_snapshots "
                    "LIMIT 0")
        seen: set[dt.date] = set()
        for off, rows in file_days:
            day = D1 + dt.timedelta(days=off)
            if day in seen or not rows:  # a file names a day by its rows; one set of rows per day here
                continue
            seen.add(day)
            want[day] = {**want[day], **rows} if kind == "append" and day in want else dict(rows)
            for d, (s, a) in rows.items():
                con.execute("INSERT INTO staged (snapshot_date, deal_id, stage, status, amount) "
                            "VALUES (?, ?, ?, 'open', ?)", [day, d, s, a])
        load_snapshot_rows(con, "staged", append=kind == "append")
        assert _expanded(con) == want
    assert _expanded(con) == want
    # compact: no row continues the previous row of its deal with the same state
    [(mergeable,)] = con.execute(
        "SELECT count(*) FROM deal_snapshots x JOIN deal_snapshots y ON x.deal_id = y.deal_id "
        "AND x.valid_until = y.snapshot_date AND x.stage = y.stage AND x.amount IS NOT DISTINCT FROM y.amount").fetchall()
    assert mergeable == 0


def test_the_parquet_export_keeps_the_compact_format(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from b2bmetrics.engines import export_parquet

    store = Store.at(tmp_path / "db.duckdb")
    load_deals(store, tmp_path, D1, [("A", "lead", "1"), ("B", "lead", "2")])
    load_deals(store, tmp_path, D2, [("A", "lead", "1")])
    written = export_parquet(store, tmp_path / "pq")
    assert (written["deal_snapshots"], written["snapshot_days"]) == (2, 2)  # A open since D1; B until D2
    snaps = pq.read_table(tmp_path / "pq" / "deal_snapshots.parquet")
    assert snaps.column_names[-1] == "valid_until"
    assert sorted(snaps.column("valid_until").to_pylist(), key=str) == [D2, None]
    assert pq.read_table(tmp_path / "pq" / "snapshot_days.parquet").column("snapshot_date").to_pylist() in (
        [D1, D2], [D2, D1])
