"""Ingest end to end: the shared sample exports, load semantics (replace, append, skip, rejects)
and atomicity, including a loader killed with SIGKILL in the middle of a load (CONTRACT §2)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

import b2bmetrics.ingest.load as load_mod
from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import LoadResult, Reject, ingest
from b2bmetrics.schema import EVENT_DATES, LOAD_ORDER, TABLES, Table
from b2bmetrics.store import Store
from tests.conftest import SAMPLES, query

ROOT = Path(__file__).resolve().parents[1]

# the README of the samples, as data: file, sheet, table, rows
SAMPLE_FILES = [
    ("canonical/accounts.csv", None, "accounts", 40),
    ("canonical/reps.csv", None, "reps", 10),
    ("canonical/quotas.csv", None, "quotas", 32),
    ("canonical/deals.csv", None, "deals", 120),
    ("canonical/deal_stage_history.csv", None, "deal_stage_history", 543),
    ("canonical/deal_splits.csv", None, "deal_splits", 12),
    ("canonical/contracts.csv", None, "contracts", 28),
    ("canonical/tickets.csv", None, "tickets", 150),
    ("canonical/surveys.csv", None, "surveys", 200),
    ("canonical/activities.csv", None, "activities", 300),
    ("canonical/payments.csv", None, "payments", 66),
    ("canonical/targets.csv", None, "targets", 98),
    ("canonical/deal_snapshots.csv", None, "deal_snapshots", 906),
    ("salesforce_opportunities.csv", None, "deals", 120),
    ("hubspot_deals.csv", None, "deals", 120),
    ("客户_gbk.csv", None, "accounts", 40),
    ("商机与回访.xlsx", "deals", "deals", 120),
    ("商机与回访.xlsx", "surveys", "surveys", 200),
    ("surveys_utf16.tsv", None, "surveys", 200),
    ("回款计划_gbk.csv", None, "payments", 66),
]
# bad file -> what the message must say (README: "row 3: amount -500 is negative", ...)
BAD_FILES = {
    "deals_negative_amount.csv": ["row 3", "column amount", "amount -500.0 is negative"],
    "deals_duplicate_id.csv": ["row 4", "column deal_id", "deal_id 'D0002' repeats row 2"],
    "surveys_nps_out_of_scale.csv": ["row 2", "column score", "nps score 11 is outside 0–10"],
    "deals_missing_stage.csv": ["required column stage of table deals is missing"],
    "deals_empty.csv": ["deals_empty.csv", "the file is empty"],
    "deals_bad_date.csv": ["row 5", "column created_at", "created_at 'next Tuesday' is not a date"],
    "deals_unknown_stage.csv": ["row 1", "column stage", "stage 'signed_maybe' is not a pipeline stage or alias"],
    "payments_overpaid.csv": ["payments_overpaid.csv (table payments, from its file name)", "row 3",
                              "column amount_paid", "amount_paid 11298.51 is more than amount_due 11198.51"],
    "tickets_answered_before_opened.csv": ["row 2", "column first_response_at",
                                           "first_response_at 2024-09-19 05:00:00 is before opened_at "
                                           "2024-09-19 08:00:00"],
    "ids_only.csv": ["ids_only.csv", "which table is ambiguous", "fit 2 tables",
                     "accounts (required columns found: account_id; missing: none)",
                     "reps (required columns found: rep_id; missing: none)", "--table", "mapping", "name the file"],
}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every canonical and audit table, sorted (NULLs compare as '')."""
    con = store.read_connection()
    try:
        out = {}
        for name in [*TABLES, "loads", "load_rejects"]:
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            out[name] = sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))
        return out
    finally:
        con.close()


def deals_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """deal_id, stage, amount rows."""
    return write(path, "deal_id,stage,amount\n" + "".join(f"{d},{s},{a}\n" for d, s, a in rows))


@pytest.fixture(scope="module")
def canonical_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = Store.at(tmp_path_factory.mktemp("canonical") / "db.duckdb")
    ingest(store, [SAMPLES / "canonical"], Config())
    return store.path


@pytest.fixture
def loaded(tmp_path: Path, canonical_db: Path) -> Store:
    """A store holding every canonical sample table (a copy of one loaded once per module)."""
    shutil.copyfile(canonical_db, tmp_path / "db.duckdb")
    return Store.at(tmp_path / "db.duckdb")


# ---- the shared samples ----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "sheet", "table", "rows"), SAMPLE_FILES,
                         ids=[f"{n}[{s}]" if s else n for n, s, _t, _r in SAMPLE_FILES])
def test_every_sample_loads_with_its_row_count(tmp_path: Path, samples: Path, name: str, sheet: str | None,
                                               table: str, rows: int) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    results = ingest(store, [samples / name], Config())
    source = Path(name).name + (f"[{sheet}]" if sheet else "")
    [res] = [r for r in results if r.source == source]
    assert (res.table, res.rows, res.rejected, res.skipped) == (table, rows, 0, False)
    # deal_snapshots is stored compactly (a row covers the days its deal kept its state): count the day rows
    counted = ("SELECT count(*) FROM deal_snapshots s JOIN snapshot_days d ON d.snapshot_date >= s.snapshot_date "
               "AND (s.valid_until IS NULL OR d.snapshot_date < s.valid_until)" if table == "deal_snapshots"
               else f'SELECT count(*) FROM "{table}"')
    assert query(store, counted) == [(rows,)]
    assert query(store, f"SELECT rows, rejected, mode FROM loads WHERE file_name = '{source}'") == [(rows, 0, "replace")]


def test_the_sample_lists_cover_every_sample_file(samples: Path) -> None:
    on_disk = {str(p.relative_to(samples)) for p in samples.rglob("*") if p.is_file() and p.name != "README.md"}
    listed = {name for name, _s, _t, _r in SAMPLE_FILES} | {f"bad/{name}" for name in BAD_FILES}
    assert on_disk == listed


# what each export carries besides the columns all of them have (README): Salesforce its Probability (%)
# and Forecast Category; its probability of a closed deal (0 or 100 %) is compared apart, below
CRM_EXPORT_COLUMNS = {
    "salesforce_opportunities.csv": ["forecast_category", "CASE WHEN status = 'open' THEN probability END"],
    "hubspot_deals.csv": [],
    "商机与回访.xlsx": [],
}


def test_crm_exports_load_the_same_deals_as_the_canonical_file(tmp_path: Path, samples: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [samples / "canonical" / "deals.csv"], Config())
    # every export gives an open deal's expected close ("Close Date", 预计成交日期)
    base = "deal_id, stage, status, account_id, owner_rep_id, amount, created_at, closed_at, expected_close_at"
    for name, extra in CRM_EXPORT_COLUMNS.items():
        cols = ", ".join([base, *extra])
        canonical = query(store, f"SELECT {cols} FROM deals ORDER BY deal_id")
        ingest(store, [samples / name], Config())
        got = query(store, f"SELECT {cols} FROM deals ORDER BY deal_id")
        assert got == canonical, name
        if name == "salesforce_opportunities.csv":
            # Salesforce gives closed deals 0 % (lost) and 100 % (won); the canonical file leaves them empty
            assert query(store, "SELECT status, probability, count(*) FROM deals WHERE status <> 'open' "
                                "GROUP BY ALL ORDER BY 1") == [("lost", 0.0, 61), ("won", 1.0, 28)]
        ingest(store, [samples / "canonical" / "deals.csv"], Config())
    # the 31 open deals of the canonical file (counted in the CSV): no close date, 29 expected closes,
    # 19 probabilities (README: about half), 22 forecast categories (about 70 %)
    assert query(store, "SELECT count(*), count(closed_at), count(expected_close_at), count(probability), "
                        "count(forecast_category) FROM deals WHERE status = 'open'") == [(31, 0, 29, 19, 22)]


def test_all_samples_in_one_call(tmp_path: Path, samples: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    files = [samples / "canonical"] + sorted(p for p in samples.iterdir() if p.is_file() and p.suffix != ".md")
    results = ingest(store, files, Config())
    assert [r.table for r in results] == sorted((r.table for r in results), key=LOAD_ORDER.index)
    # several files of one table in one call: the first replaces, the others upsert by key
    assert query(store, "SELECT count(*) FROM deals") == [(120,)]
    assert query(store, "SELECT count(*) FROM surveys") == [(200,)]
    assert query(store, "SELECT count(*), count(DISTINCT loaded_at) FROM loads") == [(len(results), 1)]


def test_planned_dates_never_move_the_default_period(tmp_path: Path, samples: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Expected closes, due dates and every date of targets and snapshots are left out of the default
    period (CONTRACT §5 v2: `--to` is the latest day something happened; planned and future dates
    never move it): loading them changes no number."""
    from b2bmetrics.cli import main

    db = tmp_path / "db.duckdb"
    v1 = [p for p in sorted((samples / "canonical").glob("*.csv")) if p.stem not in ("targets", "deal_snapshots")]
    assert main(["ingest", "--db", str(db), *map(str, v1)]) == 0
    assert main(["kpis", "--db", str(db), "--format", "json"]) == 0
    before = json.loads(capsys.readouterr().out.splitlines()[-1])
    future = write(tmp_path / "deals_future.csv", "deal_id,stage,expected_close_at\nF1,lead,2031-01-01\n")
    plan = write(tmp_path / "payments_plan.csv", "payment_id,account_id,due_date,amount_due\nPF,A1,2030-06-30,5\n")
    assert main(["ingest", "--db", str(db), "--append", str(future), str(plan),
                 str(samples / "canonical" / "targets.csv"), str(samples / "canonical" / "deal_snapshots.csv")]) == 0
    assert main(["kpis", "--db", str(db), "--format", "json"]) == 0
    after = json.loads(capsys.readouterr().out.splitlines()[-1])
    # --to: the latest day of the event columns (schema.EVENT_DATES), not the 2031 expected close, the
    # 2030 due date, the targets or the snapshots; --from: the 12 months ending on it
    events = " UNION ALL ".join(f'SELECT max(CAST("{c}" AS DATE)) AS d FROM "{t}"' for t, c in EVENT_DATES)
    [(latest,)] = query(Store.at(db), f"SELECT max(d) FROM ({events})")
    assert after["period"] == before["period"]
    assert after["period"]["to"] == latest.isoformat()
    year_before = latest.replace(year=latest.year - 1, day=min(latest.day, 28) if latest.month == 2 else latest.day)
    assert after["period"]["from"] == (year_before + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_bad_sample_is_refused_and_nothing_changes(loaded: Store, samples: Path, name: str) -> None:
    before, version = snapshot(loaded), loaded.version()
    with pytest.raises(B2BError) as info:
        ingest(loaded, [samples / "bad" / name], Config())
    msg = str(info.value)
    for needle in BAD_FILES[name]:
        assert needle in msg, msg
    assert "fix:" in msg
    assert snapshot(loaded) == before
    assert loaded.version() == version


def test_a_bad_file_fails_the_whole_call(loaded: Store, samples: Path, tmp_path: Path) -> None:
    before = snapshot(loaded)
    good = deals_csv(tmp_path / "deals_good.csv", [("D1", "lead", "1")])
    reps = write(tmp_path / "reps.csv", "rep_id,rep_name\nR99,新人\n")
    with pytest.raises(B2BError, match="deals_negative_amount.csv row 3"):
        ingest(loaded, [reps, good, samples / "bad" / "deals_negative_amount.csv"], Config())
    assert snapshot(loaded) == before


# ---- load semantics -----------------------------------------------------------------------------------

def test_loading_the_same_file_again_changes_nothing(tmp_path: Path, samples: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    [first] = ingest(store, [samples / "salesforce_opportunities.csv"], Config())
    before, version = snapshot(store), store.version()
    [again] = ingest(store, [samples / "salesforce_opportunities.csv"], Config())
    assert again == LoadResult("salesforce_opportunities.csv", "deals", 120, 0, True, (), first.load_id)
    assert snapshot(store) == before
    assert store.version() == version  # the database file was not even rewritten
    # another deals file, then the first again: that is a new load
    ingest(store, [samples / "hubspot_deals.csv"], Config())
    [third] = ingest(store, [samples / "salesforce_opportunities.csv"], Config())
    assert not third.skipped and third.load_id == 3
    # the same file in append mode is a different load; then it is skipped too
    assert not ingest(store, [samples / "salesforce_opportunities.csv"], Config(), append=True)[0].skipped
    assert ingest(store, [samples / "salesforce_opportunities.csv"], Config(), append=True)[0].skipped
    assert query(store, "SELECT load_id, file_name, mode FROM loads ORDER BY 1") == [
        (1, "salesforce_opportunities.csv", "replace"), (2, "hubspot_deals.csv", "replace"),
        (3, "salesforce_opportunities.csv", "replace"), (4, "salesforce_opportunities.csv", "append")]


def test_several_files_of_a_table_skip_only_together(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    q1 = deals_csv(tmp_path / "deals_q1.csv", [("D1", "lead", "1"), ("D2", "lead", "2")])
    q2 = deals_csv(tmp_path / "deals_q2.csv", [("D2", "won", "20"), ("D3", "lead", "3")])
    ingest(store, [q1, q2], Config())
    # the later file of the call upserts: D2 comes from q2
    assert query(store, "SELECT deal_id, stage, amount FROM deals ORDER BY 1") == [
        ("D1", "lead", 1.0), ("D2", "won", 20.0), ("D3", "lead", 3.0)]
    assert all(r.skipped for r in ingest(store, [q1, q2], Config()))
    [only_q1] = ingest(store, [q1], Config())
    assert not only_q1.skipped
    assert query(store, "SELECT deal_id FROM deals ORDER BY 1") == [("D1",), ("D2",)]
    # the same file twice in one call loads once
    first, second = ingest(store, [q2, q2], Config())
    assert (first.skipped, second.skipped) == (False, True)
    assert query(store, "SELECT count(*) FROM loads WHERE file_name = 'deals_q2.csv'") == [(2,)]


def test_a_load_replaces_the_table_and_append_upserts_by_key(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [deals_csv(tmp_path / "deals.csv", [("D1", "lead", "1"), ("D2", "lead", "2")])], Config())
    [res] = ingest(store, [deals_csv(tmp_path / "deals_new.csv", [("D2", "won", "20"), ("D3", "lead", "")])],
                   Config(), append=True)
    assert (res.rows, res.rejected) == (2, 0)
    assert query(store, "SELECT deal_id, stage, status, amount FROM deals ORDER BY 1") == [
        ("D1", "lead", "open", 1.0), ("D2", "won", "won", 20.0), ("D3", "lead", "open", None)]
    ingest(store, [deals_csv(tmp_path / "deals_snapshot.csv", [("D9", "lead", "9")])], Config())
    assert query(store, "SELECT deal_id FROM deals") == [("D9",)]
    assert query(store, "SELECT mode FROM loads ORDER BY load_id") == [("replace",), ("append",), ("replace",)]


def test_append_replaces_a_deals_split_set_whole(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [write(tmp_path / "deal_splits.csv", "deal_id,rep_id,share\nD1,R1,0.5\nD1,R2,0.5\nD2,R1,1\n")],
           Config())
    ingest(store, [write(tmp_path / "deal_splits_fix.csv", "deal_id,rep_id,share\nD1,R3,1\n")], Config(), append=True)
    assert query(store, "SELECT deal_id, rep_id, share FROM deal_splits ORDER BY 1, 2") == [
        ("D1", "R3", 1.0), ("D2", "R1", 1.0)]


def test_allow_rejects_loads_valid_rows_and_keeps_the_rejects(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    path = deals_csv(tmp_path / "deals.csv", [("D1", "lead", "1"), ("D2", "nowhere", "2"), ("D3", "lead", "-3"),
                                              ("D1", "won", "4"), ("D5", "won", "5")])
    with pytest.raises(B2BError) as info:
        ingest(store, [path], Config())
    assert "3 rows rejected in 1 file; nothing was loaded" in str(info.value)
    assert "--allow-rejects" in str(info.value)
    [res] = ingest(store, [path], Config(), allow_rejects=True)
    assert (res.rows, res.rejected) == (2, 3)
    assert res.rejects == (
        Reject(2, "stage", "nowhere", "stage 'nowhere' is not a pipeline stage or alias"),
        Reject(3, "amount", "-3", "amount -3 is negative"),
        Reject(4, "deal_id", "D1", "deal_id 'D1' repeats row 1"))
    assert query(store, "SELECT deal_id, amount FROM deals ORDER BY 1") == [("D1", 1.0), ("D5", 5.0)]
    assert query(store, 'SELECT load_id, table_name, file_name, "row", "column", "value", reason FROM load_rejects '
                        'ORDER BY "row"') == [
        (res.load_id, "deals", "deals.csv", 2, "stage", "nowhere", "stage 'nowhere' is not a pipeline stage or alias"),
        (res.load_id, "deals", "deals.csv", 3, "amount", "-3", "amount -3 is negative"),
        (res.load_id, "deals", "deals.csv", 4, "deal_id", "D1", "deal_id 'D1' repeats row 1")]
    assert query(store, "SELECT rows, rejected FROM loads") == [(2, 3)]


def test_reject_report_shows_twenty_and_counts_the_rest(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    path = deals_csv(tmp_path / "deals.csv", [(f"D{i}", "lead", "-1") for i in range(25)])
    with pytest.raises(B2BError) as info:
        ingest(store, [path], Config())
    msg = str(info.value)
    assert msg.count("is negative") == 20 and "… and 5 more" in msg
    assert "deals.csv row 1, column amount" in msg and "deals.csv row 21," not in msg


def test_progress_is_reported_per_file(tmp_path: Path, samples: Path) -> None:
    calls: list[tuple[str, float]] = []
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [samples / "canonical" / "reps.csv", samples / "canonical" / "deals.csv"], Config(),
           progress=lambda label, f: calls.append((label, f)))
    assert calls[-1] == ("done", 1.0)
    assert all(0.0 <= f <= 1.0 for _l, f in calls)
    assert [f for _l, f in calls] == sorted(f for _l, f in calls)
    assert any("reps.csv" in label for label, _f in calls) and any("deals.csv" in label for label, _f in calls)


# ---- atomicity ------------------------------------------------------------------------------------------

def test_a_failure_half_way_through_a_file_leaves_everything_as_it_was(loaded: Store, samples: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    before, version = snapshot(loaded), loaded.version()
    real_move = load_mod._move

    def half_then_fail(con: duckdb.DuckDBPyConnection, staged: Any, table: Table, replace_table: bool) -> int:
        if table.name != "deals":
            return real_move(con, staged, table, replace_table)  # reps load completely first
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        con.execute('DELETE FROM deals WHERE deal_id < \'D0050\'')
        con.execute(f"INSERT INTO deals SELECT {cols} FROM _b2b_stage LIMIT {staged.total // 2}")
        assert con.execute("SELECT count(*) FROM deals").fetchone() == (131,)  # 120 - 49 + 60: really written
        raise RuntimeError("the disk caught fire half way through")

    monkeypatch.setattr(load_mod, "_move", half_then_fail)
    reps = write(loaded.path.parent / "reps.csv", "rep_id,rep_name\nR99,新人\n")
    with pytest.raises(RuntimeError, match="caught fire"):
        ingest(loaded, [reps, samples / "hubspot_deals.csv"], Config())
    assert snapshot(loaded) == before
    assert loaded.version() == version
    assert not list(loaded.path.parent.glob("*.tmp-*"))
    monkeypatch.undo()
    assert ingest(loaded, [samples / "hubspot_deals.csv"], Config())[0].rows == 120


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from b2bmetrics.config import Config
    from b2bmetrics.ingest import ingest
    from b2bmetrics.store import Store
    ingest(Store.at(sys.argv[1]), [Path(sys.argv[2])], Config())
    print("finished")
""")


def test_a_loader_killed_mid_load_leaves_the_database_as_it_was(loaded: Store, tmp_path: Path) -> None:
    big = tmp_path / "deals_big.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT 'X' || lpad(i::VARCHAR, 8, '0') AS deal_id, 'lead' AS stage,
                                 'A' || (i % 997) AS account_id, (i % 100000) / 100.0 AS amount,
                                 DATE '2024-01-01' + (i % 300)::INTEGER AS created_at
                          FROM range(800000) t(i)) TO '{big}' (HEADER)""")
    con.close()
    before = snapshot(loaded)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(loaded.path), str(big)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tmp_copy = loaded.path.parent / f"{loaded.path.name}.tmp-{proc.pid}"
    deadline = time.monotonic() + 60
    while not tmp_copy.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert tmp_copy.exists(), proc.communicate()
    time.sleep(0.15)  # well inside the load: the copy is being written
    os.kill(proc.pid, signal.SIGKILL)
    out, _err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL and b"finished" not in out
    assert snapshot(loaded) == before
    # the next load cleans the dead loader's copy up and works
    [res] = ingest(loaded, [big], Config())
    assert res.rows == 800_000
    assert query(loaded, "SELECT count(*) FROM deals") == [(800_000,)]
    assert not list(loaded.path.parent.glob("*.tmp-*"))


# ---- the store's refresh plans (a load replays the derived tables' refresh without ibis) -------------

_PLAN_RUN = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from b2bmetrics.config import Config
    from b2bmetrics.ingest import ingest
    from b2bmetrics.store import Store
    ingest(Store.at(sys.argv[1]), [Path(p) for p in sys.argv[2:]], Config())
    print(json.dumps(sorted(m for m in ("ibis", "pandas") if m in sys.modules)))
""")


def _derived(store: Store) -> dict[str, list[str]]:
    con = store.read_connection()
    try:
        names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                           "WHERE starts_with(table_name, '_derived_') ORDER BY 1").fetchall()]
        return {n: sorted(map(repr, con.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names}
    finally:
        con.close()


def test_a_load_replays_the_recorded_refresh_without_ibis(tmp_path: Path) -> None:
    """The first load of these files records the refresh's statements; a load of the same files into
    another new database (another process) replays them without importing ibis, and keeps exactly the
    same derived tables, byte for byte."""
    env = {**os.environ, "B2BMETRICS_CACHE_DIR": str(tmp_path / "cache")}
    files = [str(SAMPLES / "canonical" / f) for f in ("reps.csv", "accounts.csv", "deals.csv")]
    imported = []
    for name in ("first", "second"):
        out = subprocess.run([sys.executable, "-c", _PLAN_RUN, str(tmp_path / f"{name}.duckdb"), *files], cwd=ROOT,
                             env=env, capture_output=True, text=True, check=True)
        imported.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "ibis" in imported[0] and "ibis" not in imported[1]
    plans = list((tmp_path / "cache" / "plans").rglob("*.json"))
    assert len(plans) == 1  # one new database, the same files: one plan
    first, second = _derived(Store.at(tmp_path / "first.duckdb")), _derived(Store.at(tmp_path / "second.duckdb"))
    assert {n.rsplit("_", 1)[0] for n in first} >= {"_derived_quality_counts", "_derived_date_range", "_derived_row"}
    assert first == second


def test_a_spoilt_plan_is_not_replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan file that is not one (cut short, edited) is ignored and recorded again; a plan whose SQL
    fails fails that load (nothing changes) and is deleted, so the next load records it afresh."""
    monkeypatch.setenv("B2BMETRICS_CACHE_DIR", str(tmp_path / "cache"))
    deals = SAMPLES / "canonical" / "deals.csv"
    ingest(Store.at(tmp_path / "a.duckdb"), [deals], Config())
    [plan] = (tmp_path / "cache" / "plans").rglob("*.json")
    want = _derived(Store.at(tmp_path / "a.duckdb"))
    plan.write_text('{"format": 1, "steps": [1, 2', encoding="utf-8")
    ingest(Store.at(tmp_path / "b.duckdb"), [deals], Config())
    assert _derived(Store.at(tmp_path / "b.duckdb")) == want
    assert json.loads(plan.read_text(encoding="utf-8"))["format"] == 1  # recorded again
    plan.write_text(json.dumps({"format": 1, "steps": ["SELECT * FROM no_such_table"]}), encoding="utf-8")
    with pytest.raises(duckdb.Error):
        ingest(Store.at(tmp_path / "c.duckdb"), [deals], Config())
    assert not (tmp_path / "c.duckdb").exists() and not plan.exists()
    ingest(Store.at(tmp_path / "c.duckdb"), [deals], Config())
    assert _derived(Store.at(tmp_path / "c.duckdb")) == want


def test_the_plan_key_names_materialize_records() -> None:
    """The plan key reads materialize's own records by name: the names must be materialize's."""
    from b2bmetrics.store import database, materialize

    assert (database._ROW_COUNTS, database._SQL_RECORD) == (materialize.ROW_COUNTS, materialize.SQL_RECORD)


def test_inlined_parameters_are_literals_and_leave_quoted_question_marks() -> None:
    from b2bmetrics.store.database import inline_parameters, sql_literal

    sql = inline_parameters("SELECT ? AS \"a?\", '?' AS q, ?, ?, ?, ?, ?",
                            ["it's", 3, None, True, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 13, 5, 0, 7)])
    assert sql == ("SELECT 'it''s' AS \"a?\", '?' AS q, 3, NULL, TRUE, DATE '2024-02-29', "
                   "TIMESTAMP '2024-02-29 13:05:00.000007'")
    assert duckdb.connect().execute(sql).fetchone() == (
        "it's", "?", 3, None, True, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 13, 5, 0, 7))
    assert sql_literal(0.1) == "CAST(0.1 AS DOUBLE)"
    with pytest.raises(ValueError):
        inline_parameters("SELECT ?, ?", [1])
    with pytest.raises(ValueError):
        inline_parameters("SELECT ?", [1, 2])
    with pytest.raises(TypeError):
        sql_literal(object())


def test_columns_that_map_to_nothing_are_reported_and_kept_in_loads(tmp_path: Path) -> None:
    """CONTRACT §2 (v2): a SaaS accounts export's country, plan_tier and signup_date are not dropped silently."""
    csv = tmp_path / "accounts.csv"
    csv.write_text("account_id,account_name,country,plan_tier,signup_date\nA1,Acme,DE,pro,2024-01-05\n",
                   encoding="utf-8")
    store = Store.at(tmp_path / "db.duckdb")
    [result] = ingest(store, [csv], Config())
    assert result.unmapped == ("country", "plan_tier", "signup_date")
    [(mapping, unmapped)] = query(store, "SELECT mapping, unmapped FROM loads")
    assert json.loads(unmapped) == ["country", "plan_tier", "signup_date"]
    assert json.loads(mapping) == {"account_id": "account_id", "account_name": "account_name"}
    out = subprocess.run([sys.executable, "-m", "b2bmetrics.cli", "ingest", "--db", str(tmp_path / "cli.duckdb"),
                          str(csv)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "not loaded, mapping to no column of accounts: country, plan_tier, signup_date" in out.stdout
