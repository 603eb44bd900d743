"""SIGKILL at random points: a loader killed mid-ingest and a reader killed mid-query leave a database
that opens, holds exactly the previous data (row counts, a checksum, `loads`), and takes the next load."""

from __future__ import annotations

import os
import random
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

from b2bmetrics.config import Config
from b2bmetrics.ingest import ingest
from b2bmetrics.schema import TABLES
from b2bmetrics.store import Store

ROOT = Path(__file__).resolve().parents[1]
CANONICAL = ROOT / "tests" / "data" / "samples" / "canonical"
TRIALS = 20
BUDGET_S = 60.0

LOADER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from b2bmetrics.config import Config
    from b2bmetrics.ingest import ingest
    from b2bmetrics.store import Store
    print("started", flush=True)
    ingest(Store.at(sys.argv[1]), [Path(sys.argv[2])], Config())
    print("finished", flush=True)
""")

READER = textwrap.dedent("""
    import sys
    from b2bmetrics.store import Store
    store = Store.at(sys.argv[1])
    con = store.read_connection()
    backend = store.ibis()
    print("reading", flush=True)
    while True:
        con.execute("SELECT count(*), sum(hash(deal_id)) FROM deals").fetchall()
        backend.table("deals").count().execute()
""")


@pytest.fixture(scope="module")
def big_deals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "deals_big.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT 'X' || lpad(i::VARCHAR, 7, '0') AS deal_id, 'lead' AS stage,
                                 'A' || (i % 997) AS account_id, (i % 100000) / 100.0 AS amount,
                                 DATE '2024-01-01' + (i % 300)::INTEGER AS created_at
                          FROM range(300000) t(i)) TO '{path}' (HEADER)""")
    con.close()
    return path


@pytest.fixture(scope="module")
def canonical_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = Store.at(tmp_path_factory.mktemp("crash_db") / "db.duckdb")
    ingest(store, [CANONICAL], Config())
    return store.path


@pytest.fixture
def loaded(tmp_path: Path, canonical_db: Path) -> Store:
    shutil.copyfile(canonical_db, tmp_path / "db.duckdb")
    return Store.at(tmp_path / "db.duckdb")


def state(store: Store) -> dict[str, Any]:
    """Row counts and an order-independent checksum of every table, and the `loads` rows."""
    con = store.read_connection()
    try:
        out: dict[str, Any] = {}
        for name in TABLES:
            out[name] = con.execute(f'SELECT count(*), coalesce(sum(hash(t)), 0) FROM "{name}" t').fetchone()
        out["loads"] = con.execute("SELECT * FROM loads ORDER BY load_id").fetchall()
        return out
    finally:
        con.close()


def loads_consistent(store: Store) -> None:
    con = store.read_connection()
    try:
        for (table,) in con.execute("SELECT DISTINCT table_name FROM loads").fetchall():
            [(logged,)] = con.execute("SELECT sum(rows) FROM loads WHERE table_name = ? AND loaded_at = "
                                      "(SELECT max(loaded_at) FROM loads WHERE table_name = ?)",
                                      [table, table]).fetchall()
            if table == "deal_snapshots":
                continue  # compact, and every deals load adds its day: not the rows of its own files
            [(rows,)] = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()
            assert rows == logged, table
    finally:
        con.close()


def restore(store: Store, canonical_db: Path) -> None:
    """Put the canonical database back the way a load does (copy, then rename: a new version)."""
    tmp = store.path.with_name(store.path.name + ".restore")
    shutil.copyfile(canonical_db, tmp)
    os.replace(tmp, store.path)


def assert_all_or_nothing(before: dict[str, Any], after: dict[str, Any], trial: int) -> bool:
    """After a kill the database holds either the previous data or the whole new load; True if the latter.
    The loader can be killed after its rename but before it prints "finished", so both are legitimate."""
    if after == before:
        return False
    assert after["deals"][0] == 300_000, f"trial {trial}: a partial load is visible"
    assert {k: v for k, v in after.items() if k not in ("deals", "loads")} == \
        {k: v for k, v in before.items() if k not in ("deals", "loads")}, f"trial {trial}"
    assert after["loads"][:len(before["loads"])] == before["loads"], f"trial {trial}"
    assert [row[1] for row in after["loads"][len(before["loads"]):]] == ["deals"], f"trial {trial}"
    return True


def test_loader_killed_at_random_points(loaded: Store, canonical_db: Path, big_deals: Path) -> None:
    rng = random.Random(20261127)
    before = state(loaded)
    started = time.monotonic()
    killed_running = 0
    for trial in range(TRIALS):
        if time.monotonic() - started > BUDGET_S:
            break
        proc = subprocess.Popen([sys.executable, "-c", LOADER, str(loaded.path), str(big_deals)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"
        time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        assert b"Traceback" not in err, err.decode()
        loads_consistent(loaded)
        completed = assert_all_or_nothing(before, state(loaded), trial)
        if b"finished" in out:
            assert completed, f"trial {trial}: the loader finished but its load is not visible"
        if completed:  # start the next trial from the previous data again, so every trial can be cut short
            restore(loaded, canonical_db)
            assert state(loaded) == before
        else:
            killed_running += 1
    assert killed_running >= 10
    [res] = ingest(loaded, [big_deals], Config())
    assert res.rows == 300_000
    con = loaded.read_connection()
    try:
        assert con.execute("SELECT count(*) FROM deals").fetchone() == (300_000,)
    finally:
        con.close()
    loads_consistent(loaded)
    assert not list(loaded.path.parent.glob("*.tmp-*"))


def test_reader_killed_mid_query(loaded: Store, tmp_path: Path) -> None:
    before = state(loaded)
    for delay in (0.05, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", READER, str(loaded.path)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"reading\n"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert state(loaded) == before
    snapshots = loaded.path.parent / f".{loaded.path.name}.snapshots"
    assert list(snapshots.glob("*.duckdb"))  # the dead reader's link is still there
    # a write, then a read, work; the stale links are pruned once the database moved on
    deals = tmp_path / "deals.csv"
    deals.write_text("deal_id,stage,amount\nK1,lead,5\nK2,won,7\n", encoding="utf-8")
    [res] = ingest(loaded, [deals], Config())
    assert res.rows == 2
    con = loaded.read_connection()
    try:
        assert con.execute("SELECT count(*), sum(amount) FROM deals").fetchone() == (2, 12.0)
        assert con.execute("SELECT count(*) FROM accounts").fetchone() == before["accounts"][:1]
    finally:
        con.close()
    assert len(list(snapshots.glob("*.duckdb"))) == 1
