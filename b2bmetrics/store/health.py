"""Is the database whole? What `b2bmetrics doctor` checks, and the words for a damaged file.

DuckDB keeps a checksum on every block and verifies it on every read, so damage shows where the
damaged part is read: at open (a truncated file, or one overwritten by another tool, has no valid
header), or in the middle of a query (a data block). Either way the user must hear "the database
file is damaged" and how to recover — never a traceback. `damage_of` turns DuckDB's error into
that message wherever it surfaces (the CLI, the dashboard); `check` reads every block of every
table, which is the only way to be sure a file is whole.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from b2bmetrics.errors import B2BError
from b2bmetrics.schema import TABLES

# DuckDB's words for a database file it cannot trust
DAMAGE_SIGNS = ("Corrupt database file", "not a valid DuckDB database file", "database file is truncated")
# … and for a short or garbled read, which only counts when it names the database's own file (a
# snapshot link or a writer's copy has its name in its path), not a user's file being loaded
READ_SIGNS = ("Could not read enough bytes", "Failed to deserialize")
DISK_FULL_SIGNS = ("No space left on device", "Disk quota exceeded")
MAGIC = b"DUCK"  # bytes 8–11 of every DuckDB file


class DamagedDatabase(B2BError):
    """The database file cannot be read: truncated, overwritten, or a damaged block."""


class DiskFull(B2BError):
    """A write ran out of space; the database was left as it was."""


def recovery_steps(path: Path) -> str:
    return (f"recover with `b2bmetrics restore --db {path} --from BACKUP` from your "
            f"latest `b2bmetrics backup`, or move {path.name} aside and load your exports again with "
            f"`b2bmetrics ingest --db {path} FILES`; `b2bmetrics doctor --db {path}` says what is damaged")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def damage_of(exc: BaseException, path: Path) -> DamagedDatabase | None:
    """The user's message when `exc` (or what caused it) is DuckDB failing to read a damaged `path`."""
    for e in _chain(exc):
        text = str(e)
        if isinstance(e, duckdb.Error) and (any(sign in text for sign in DAMAGE_SIGNS) or (
                path.name in text and any(sign in text for sign in READ_SIGNS))):
            first_line = text.splitlines()[0]
            return DamagedDatabase(f"the database file {path} is damaged ({first_line}); nothing was changed",
                                   fix=recovery_steps(path))
    return None


def disk_full_of(exc: BaseException, path: Path) -> DiskFull | None:
    """The user's message when `exc` is the disk filling up while `path` was being written."""
    for e in _chain(exc):
        full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)) or (
            isinstance(e, duckdb.Error) and any(sign in str(e) for sign in DISK_FULL_SIGNS))
        if full:
            return DiskFull(f"no space left on the disk of {path.parent} while writing {path.name}; the load "
                            "was undone and the database is exactly as before",
                            fix=f"free space there (a write needs room for a second copy of {path.name}, "
                                f"{_size_text(path)}), or move the database to a larger disk, and load again")
    return None


def _size_text(path: Path) -> str:
    try:
        return f"{path.stat().st_size / 1e6:,.0f} MB"
    except OSError:
        return "its size"


# ---- doctor ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str


def check(path: Path) -> list[Finding]:
    """Every check of `doctor`, in order; a damaged file stops the checks that need to open it."""
    findings: list[Finding] = []
    if not path.exists():
        return [Finding(False, f"{path} does not exist")]
    if not path.is_file():
        return [Finding(False, f"{path} is not a file")]
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[8:12] != MAGIC:
        return [Finding(False, f"{path} is not a DuckDB database file ({size:,} bytes, no DuckDB header): "
                               "overwritten or truncated")]
    findings.append(Finding(True, f"{path}: a DuckDB file of {size:,} bytes"))
    try:
        con = duckdb.connect(str(path), read_only=True, config={"autoinstall_known_extensions": False,
                                                                "autoload_known_extensions": False})
    except duckdb.Error as exc:
        return [*findings, Finding(False, f"DuckDB cannot open it: {str(exc).splitlines()[0]}")]
    try:
        findings += _check_tables(con)
    finally:
        con.close()
    findings += _check_beside(path)
    return findings


def _check_tables(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    findings: list[Finding] = []
    stored = {name: cols for name, cols in con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal AND database_name = current_database() "
        "GROUP BY table_name").fetchall()}
    for name, table in TABLES.items():
        columns = stored.get(name)
        if columns is None:
            findings.append(Finding(False, f"table {name} is missing (not a b2bmetrics database, or written by "
                                           "another tool)"))
            continue
        missing = [c for c in table.stored_names if c not in columns]
        if missing:
            findings.append(Finding(False, f"table {name} lacks columns {', '.join(missing)}"))
    for name in sorted(stored):
        # every block is read (hash of every row), so DuckDB verifies every checksum
        try:
            rows, _digest = con.execute(f'SELECT count(*), bit_xor(hash(t)) FROM "{name}" AS t').fetchone() or (0, 0)
        except duckdb.Error as exc:
            findings.append(Finding(False, f"table {name} cannot be read: {str(exc).splitlines()[0]}"))
            continue
        findings.append(Finding(True, f"table {name}: {rows:,} rows read"))
    return findings


def _check_beside(path: Path) -> list[Finding]:
    """What lives beside the file: the readers' snapshots, copies left by killed writers, the lock."""
    findings: list[Finding] = []
    snapshots = path.parent / f".{path.name}.snapshots"
    links = sorted(snapshots.glob("*.duckdb")) if snapshots.is_dir() else []
    current = path.stat().st_ino
    stale = [p for p in links if p.stat().st_ino != current and p.stat().st_nlink == 1]
    findings.append(Finding(True, f"reader snapshots: {len(links)} in {snapshots.name}"
                                  + (f" ({len(stale)} of earlier versions, removed by the next reader)"
                                     if stale else "")))
    temps = sorted(path.parent.glob(f"{path.name}.tmp-*"))
    dead = [p for p in temps if not _alive(p.name.rsplit("-", 1)[-1].split(".")[0])]
    if dead:
        findings.append(Finding(True, f"{len(dead)} copies left by an interrupted load "
                                      f"({', '.join(p.name for p in dead)}): removed by the next load"))
    lock = path.parent / f".{path.name}.lock"
    if lock.exists() and _locked(lock):
        findings.append(Finding(True, "a load is writing the database right now"))
    return findings


def _alive(pid_text: str) -> bool:
    if not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked(lock: Path) -> bool:
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
    return False
