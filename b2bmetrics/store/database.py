"""The database: one DuckDB file, written by copy-and-rename, read through per-version snapshots.

Why this shape (see STACK-NOTES: DuckDB's file lock): a process that holds the file read-write
makes every other open fail, so a dashboard that keeps the file open would block `b2bmetrics
ingest`, and the reverse. Instead:

* A write copies the file to `<db>.tmp-<pid>`, loads into the copy in one transaction,
  checkpoints, closes and `os.replace`s it over the original. Readers keep reading the old file
  until they look again; a crash or SIGKILL at any point leaves the original untouched; a failed
  load simply deletes the copy. Writers take an exclusive `flock` on `<db>.lock` so two loads
  never race.
* A read opens the current file read-only through a hard link named after its version
  (`.<db>.snapshots/<inode>-<mtime>.duckdb`). DuckDB caches database instances by path; the
  versioned name makes every new load a new instance, so a reader sees a load at once while
  readers of the previous version finish undisturbed.

The dataset version is the file's identity (inode, mtime, size): it changes with every load,
and the dashboard caches on it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError, StoreBusy
from b2bmetrics.schema import (
    LOAD_REJECTS_DDL,
    LOADS_DDL,
    SNAPSHOT_DAYS_DDL,
    SNAPSHOTS_MIGRATION,
    TABLES,
    create_table_sql,
)
from b2bmetrics.store import materialize
from b2bmetrics.store.materialize import Relation

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend as DuckDBBackend

# Nothing is ever downloaded at run time: extensions not in the wheel stay unavailable.
DUCKDB_CONFIG: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
SNAPSHOT_MAX_AGE_S = 600.0
WRITE_LOCK_WAIT_S = 30.0


def connect_duckdb(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with extension auto-install and auto-load off."""
    return duckdb.connect(str(path), read_only=read_only, config=dict(DUCKDB_CONFIG))


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every canonical table and the audit tables when missing; a database written before money
    was exact (DOUBLE money and share columns) gets them converted to their DECIMAL types, and one written
    before compact deal snapshots gets `valid_until` and `snapshot_days` (schema.SNAPSHOTS_MIGRATION)."""
    had = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'main' AND table_name = 'deal_snapshots'").fetchall()}
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    con.execute(LOADS_DDL)
    con.execute(LOAD_REJECTS_DDL)
    con.execute(SNAPSHOT_DAYS_DDL)
    if had and "valid_until" not in had:  # deal_snapshots from before the compact format
        for sql in SNAPSHOTS_MIGRATION:
            con.execute(sql)
    exact = {(t.name, c.name): c.sql_type for t in TABLES.values() for c in t.columns if c.kind in ("money", "share")}
    floats = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                         "WHERE table_schema = 'main' AND data_type IN ('DOUBLE', 'FLOAT')").fetchall()
    for name, column in floats:
        if (name, column) in exact:
            try:
                con.execute(f'ALTER TABLE "{name}" ALTER COLUMN "{column}" TYPE {exact[name, column]}')
            except duckdb.Error as exc:
                raise B2BError(f"{name}.{column} holds a value that is not an exact amount "
                               f"({exact[name, column]}): {str(exc).splitlines()[0]}",
                               fix="load the table again from its files (ingest --replace)") from exc


@dataclass(frozen=True)
class Store:
    """A DuckDB database file and the rules for reading and writing it."""

    path: Path

    @classmethod
    def at(cls, path: str | Path) -> Store:
        return cls(Path(path).expanduser().resolve())

    # ---- versions -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def version(self) -> str:
        """Changes with every load; '' when the database does not exist yet."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return ""
        return f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"

    # ---- reading --------------------------------------------------------------------------
    @property
    def _snapshot_dir(self) -> Path:
        return self.path.parent / f".{self.path.name}.snapshots"

    def _snapshot_path(self) -> Path:
        """A hard link to the current file, named after its version (made when missing)."""
        for _attempt in range(5):
            version = self.version()
            if not version:
                raise B2BError(f"database {self.path} does not exist",
                               fix="create it with `b2bmetrics demo --db FILE` or load files with `b2bmetrics ingest`")
            link = self._snapshot_dir / f"{version}.duckdb"
            if link.exists():
                return link
            self._snapshot_dir.mkdir(exist_ok=True)
            tmp = self._snapshot_dir / f".{version}.{os.getpid()}.{threading.get_ident()}"
            try:
                os.link(self.path, tmp)
            except FileNotFoundError:  # replaced between stat and link: look again
                continue
            # the link must point at the version it is named after
            if f"{tmp.stat().st_ino}" != version.split("-")[0]:
                tmp.unlink()
                continue
            os.replace(tmp, link)
            self._prune_snapshots(keep=link)
            return link
        raise StoreBusy(f"database {self.path} keeps changing under the reader", fix="retry in a moment")

    def _prune_snapshots(self, keep: Path) -> None:
        now = time.time()
        for old in self._snapshot_dir.glob("*.duckdb"):
            if old == keep:
                continue
            with contextlib.suppress(OSError):
                if now - old.stat().st_mtime > SNAPSHOT_MAX_AGE_S or old.stat().st_nlink == 1:
                    # nlink 1: the database moved on; open readers keep their file descriptors
                    old.unlink()

    def read_connection(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the current version; never blocks or is blocked by a load."""
        for _attempt in range(3):
            link = self._snapshot_path()
            try:
                return connect_duckdb(link, read_only=True)
            except duckdb.IOException:
                if link.exists():  # not the pruning race: a real problem with the file
                    raise
        raise StoreBusy(f"database {self.path} keeps changing under the reader", fix="retry in a moment")

    def ibis(self) -> DuckDBBackend:
        """An ibis DuckDB backend on a fresh read-only connection (one per thread; never share it)."""
        import ibis

        return ibis.duckdb.from_connection(self.read_connection())

    # ---- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write_lock(self, wait_s: float) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.parent / f".{self.path.name}.lock"
        with open(lock_path, "a+") as fh:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusy(f"another load is writing {self.path} right now",
                                        fix="wait for it to finish and run the command again") from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _clean_stale_temps(self) -> None:
        # a SIGKILLed writer leaves its copy behind; we hold the write lock, so none is live
        for stale in self.path.parent.glob(f"{self.path.name}.tmp-*"):
            with contextlib.suppress(OSError):
                stale.unlink()

    @contextlib.contextmanager
    def write(self, *, relations: Sequence[Relation], cfg: Config | None = None,
              changed: Iterable[str] | None = None,
              wait_s: float = WRITE_LOCK_WAIT_S) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to a private copy; committed by rename when the block exits cleanly.

        Before the commit the stored relations are brought up to date with what the block wrote
        (`materialize.refresh`: exactly `relations` are kept, for `cfg`; `changed` names the tables
        the block may have changed, None = any). Any exception inside the block discards the copy:
        the database stays exactly as it was.
        """
        with self._write_lock(wait_s):
            self._clean_stale_temps()
            tmp = self.path.parent / f"{self.path.name}.tmp-{os.getpid()}"
            if self.path.exists():
                shutil.copyfile(self.path, tmp)
            con = connect_duckdb(tmp)
            try:
                init_schema(con)
                con.execute("BEGIN TRANSACTION")
                yield con
                materialize.refresh(con, relations, cfg or Config(), changed)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
                con.close()
                with open(tmp, "rb") as fh:  # durable before it becomes the database
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
                _fsync_dir(self.path.parent)
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.close()
                with contextlib.suppress(OSError):
                    tmp.unlink()
                with contextlib.suppress(OSError):
                    Path(f"{tmp}.wal").unlink()
                raise

    def ensure(self) -> None:
        """Create an empty database with every table when the file does not exist (keeping no
        relation: there is nothing to derive yet, and the first load builds what it keeps)."""
        if not self.path.exists():
            with self.write(relations=()):
                pass


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
