"""The faults a server meets (issue 17): a damaged database file, a full disk, two writers, the
readers' snapshot folder removed; and `doctor`, `backup`, `restore`.

Each fault is made for real: bytes overwritten in the file, a tmpfs too small for the write's copy
(mounted by the test; CI runs as root, so it can), a second process holding the write lock.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from b2bmetrics.demo import write_demo
from b2bmetrics.errors import StoreBusy
from b2bmetrics.store import Store
from b2bmetrics.store.backup import backup, restore
from tests.conftest import SAMPLES

CLI = [sys.executable, "-m", "b2bmetrics.cli"]
REPS = SAMPLES / "canonical" / "reps.csv"


def run(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ops") / "demo.duckdb"
    write_demo(Store.at(path), seed=3, accounts=40)
    return path


@pytest.fixture
def db(demo: Path, tmp_path: Path) -> Path:
    """A private copy of the demo, free to damage."""
    path = tmp_path / "work.duckdb"
    shutil.copyfile(demo, path)
    return path


def kpis_bytes(db: Path) -> bytes:
    out = subprocess.run([*CLI, "kpis", "--db", str(db), "--format", "json"], capture_output=True, timeout=240)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---- a damaged database file -------------------------------------------------------------------

def _truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 3)


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64_000))


def _damage_a_block(path: Path, table: str = "deals") -> None:
    """Bytes overwritten inside the first data block of `table` (DuckDB: three 4 KiB headers, then
    256 KiB blocks; `pragma_storage_info` says which blocks hold a table): the file opens, reading
    that table fails its checksum."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    block = con.execute(f"SELECT min(block_id) FROM pragma_storage_info('{table}') "
                        "WHERE persistent AND block_id >= 0").fetchall()[0][0]
    con.close()
    with open(path, "r+b") as fh:
        fh.seek(3 * 4096 + block * 256 * 1024 + 64)
        fh.write(b"\x00garbage" * 1024)


@pytest.mark.parametrize("damage", [_truncate, _garbage, _damage_a_block], ids=["truncated", "garbage", "block"])
def test_a_damaged_file_gets_the_recovery_steps_never_a_traceback(db: Path, damage: object) -> None:
    damage(db)  # type: ignore[operator]
    before = digest(db)
    commands: list[tuple[str | Path, ...]] = [("kpis", "--db", db, "--format", "json")]
    if damage is _damage_a_block:  # the file opens: the load's copy is what fails
        commands.append(("ingest", "--db", db, REPS))
    for args in commands:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr and "bug" not in out.stderr
        assert f"the database file {db.resolve()} is damaged" in out.stderr
        assert "b2bmetrics restore --db" in out.stderr and "b2bmetrics doctor --db" in out.stderr
        assert digest(db) == before  # a load into a damaged file changes nothing
    assert not list(db.parent.glob("work.duckdb.tmp-*"))
    doctor = run("doctor", "--db", db)
    assert doctor.returncode == 2 and "PROBLEM" in doctor.stdout and "Traceback" not in doctor.stderr


def test_doctor_names_the_table_whose_block_is_damaged(db: Path) -> None:
    healthy = run("doctor", "--db", db)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "the database is whole" in healthy.stdout and "PROBLEM" not in healthy.stdout
    assert "ok      table deals: " in healthy.stdout  # every table read, by name
    _damage_a_block(db, "deals")
    sick = run("doctor", "--db", db)
    problems = [line for line in sick.stdout.splitlines() if line.startswith("PROBLEM")]
    assert sick.returncode == 2 and problems[0].startswith("PROBLEM table deals cannot be read: IO Error: Corrupt"), problems
    assert "ok      table accounts: " in sick.stdout  # the other tables still read
    assert "b2bmetrics restore --db" in sick.stderr


def test_doctor_on_a_missing_file_and_on_another_tools_database(tmp_path: Path) -> None:
    missing = run("doctor", "--db", tmp_path / "none.duckdb")
    assert missing.returncode == 2 and "does not exist" in missing.stdout
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    out = run("doctor", "--db", other)
    assert out.returncode == 2 and "table deals is missing" in out.stdout


# ---- a full disk ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path, demo: Path) -> Iterator[Path]:
    """A tmpfs with room for the database and a little, not for the second copy a write makes."""
    mount = tmp_path / "disk"
    mount.mkdir()
    size_kb = demo.stat().st_size // 1024 + 2048
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"CI must be able to mount a tmpfs: {made.stderr}")
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_load_that_fills_the_disk_leaves_the_data_and_says_so(small_disk: Path, demo: Path) -> None:
    db = small_disk / "demo.duckdb"
    shutil.copyfile(demo, db)
    before = digest(db)
    out = run("ingest", "--db", db, REPS)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "no space left on the disk" in out.stderr and "the database is exactly as before" in out.stderr
    assert "free space there" in out.stderr and "Traceback" not in out.stderr
    assert digest(db) == before
    assert not list(small_disk.glob("demo.duckdb.tmp-*"))  # the partial copy is gone: the space is back
    assert run("doctor", "--db", db).returncode == 0
    assert run("kpis", "--db", db, "--format", "json").returncode == 0


def test_a_backup_to_a_full_disk_is_refused_and_leaves_no_partial_file(db: Path, small_disk: Path) -> None:
    free = shutil.disk_usage(small_disk).free  # leave room for half the copy
    (small_disk / "filler").write_bytes(b"\0" * max(0, free - db.stat().st_size // 2))
    out = run("backup", "--db", db, "--to", small_disk / "backups")
    assert out.returncode == 2 and "no space left on the disk" in out.stderr, out.stderr
    assert not list((small_disk / "backups").glob("*"))


# ---- two writers ----------------------------------------------------------------------------------

def _hold_lock(store: Store, seconds: float, held: threading.Event) -> None:
    with store._write_lock(5):
        held.set()
        time.sleep(seconds)


def test_a_second_writer_waits_says_so_and_then_loads(db: Path) -> None:
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(Store.at(db), 3.0, held))
    holder.start()
    assert held.wait(10)
    out = run("ingest", "--db", db, REPS)
    holder.join()
    assert out.returncode == 0, out.stderr
    assert f"waiting for another load of {db.name} to finish (pid {os.getpid()}" in out.stderr
    assert "reps" in out.stdout and "rows loaded" in out.stdout


def test_a_writer_that_waits_too_long_is_told_who_holds_the_database(db: Path) -> None:
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(Store.at(db), 2.0, held))
    holder.start()
    assert held.wait(10)
    heard: list[str] = []
    try:
        with pytest.raises(StoreBusy, match=f"another load is writing .* right now \\(pid {os.getpid()}, since "):
            with Store.at(db).write(relations=(), wait_s=0.5, on_wait=heard.append):
                pass
    finally:
        holder.join()
    assert len(heard) == 1 and heard[0].startswith(f"waiting for another load of {db.name}")


# ---- readers --------------------------------------------------------------------------------------

def test_removing_the_snapshot_folder_under_a_reader_breaks_nothing(db: Path) -> None:
    store = Store.at(db)
    con = store.read_connection()
    shutil.rmtree(db.parent / f".{db.name}.snapshots")
    assert con.execute("SELECT count(*) FROM deals").fetchall()[0][0] > 0  # the reader keeps its file
    con.close()
    again = store.read_connection()  # a new reader makes the folder again
    assert again.execute("SELECT count(*) FROM deals").fetchall()[0][0] > 0
    again.close()
    assert (db.parent / f".{db.name}.snapshots").is_dir()


# ---- backup and restore ---------------------------------------------------------------------------

def test_backup_while_reading_then_restore_after_a_load(db: Path, tmp_path: Path) -> None:
    store = Store.at(db)
    original = kpis_bytes(db)
    reader = store.read_connection()  # the dashboard reading meanwhile
    copy = backup(store, tmp_path / "backups")
    assert reader.execute("SELECT count(*) FROM accounts").fetchall()[0][0] > 0
    reader.close()
    assert copy.parent == tmp_path / "backups" and copy.name.startswith("work-") and copy.suffix == ".duckdb"
    assert kpis_bytes(copy) == original
    assert run("doctor", "--db", copy).returncode == 0

    loaded = run("ingest", "--db", db, SAMPLES / "canonical" / "deals.csv")  # the data moves on
    assert loaded.returncode == 0, loaded.stderr
    assert kpis_bytes(db) != original
    out = run("restore", "--db", db, "--from", copy)
    assert out.returncode == 0, out.stderr
    assert kpis_bytes(db) == original
    kept = list(db.parent.glob("work.duckdb.before-restore-*"))
    assert len(kept) == 1 and f"kept as {kept[0]}" in out.stdout
    assert kpis_bytes(kept[0]) != original  # the replaced data is not lost


def test_restore_refuses_a_damaged_backup_and_changes_nothing(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    shutil.copyfile(db, bad)
    _damage_a_block(bad)
    before = digest(db)
    with pytest.raises(Exception, match="is not a whole b2bmetrics database"):
        restore(Store.at(db), bad)
    out = run("restore", "--db", db, "--from", bad)
    assert out.returncode == 2 and "restore from another backup" in out.stderr
    assert digest(db) == before and not list(db.parent.glob("*.before-restore-*"))


def test_backup_of_a_damaged_database_is_refused(db: Path, tmp_path: Path) -> None:
    _damage_a_block(db)
    out = run("backup", "--db", db, "--to", tmp_path / "b")
    assert out.returncode == 2 and "is damaged, so it is not backed up" in out.stderr
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


# ---- upload limits --------------------------------------------------------------------------------

def test_a_file_over_the_row_limit_is_refused_and_nothing_is_lost(db: Path) -> None:
    from b2bmetrics.config import Config
    from b2bmetrics.errors import B2BError
    from b2bmetrics.ingest import ingest

    rows = len(REPS.read_text(encoding="utf-8").splitlines()) - 1
    before = digest(db)
    with pytest.raises(B2BError, match=f"reps.csv: {rows:,} rows is over the upload limit of {rows - 1:,} rows"):
        ingest(Store.at(db), [REPS], Config(), max_rows=rows - 1)
    assert digest(db) == before
    assert ingest(Store.at(db), [REPS], Config(), max_rows=rows)[0].rows == rows  # at the limit: loaded


def test_an_upload_over_the_size_limit_is_refused_before_it_is_written() -> None:
    from ui import uploads

    class Big:  # what Streamlit's uploader hands over, 1 byte over the limit; its bytes are never read
        name = "deals.csv"
        size = uploads.MAX_UPLOAD_MB * 1024 * 1024 + 1

        def getvalue(self) -> bytes:
            raise AssertionError("a refused upload must not be read")

    stored = uploads.store([Big()])
    assert stored.paths == [] and [f.name for f in stored.too_large] == ["deals.csv"]
