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
import datetime as dt
import fcntl
import functools
import hashlib
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError, StoreBusy
from b2bmetrics.schema import (
    LOAD_REJECTS_DDL,
    LOADS_DDL,
    LOADS_MIGRATION,
    SNAPSHOT_DAYS_DDL,
    SNAPSHOTS_MIGRATION,
    TABLES,
    create_table_sql,
)
from b2bmetrics.store import health

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend as DuckDBBackend

    from b2bmetrics.store.materialize import Relation

    # the relations a write keeps: given, or a function giving them (see Store.write)
    Relations = Sequence[Relation] | Callable[[], Sequence[Relation]]

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
    con.execute(LOADS_MIGRATION)
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
            except duckdb.Error as exc:
                if link.exists():  # not the pruning race: a real problem with the file
                    raise (health.damage_of(exc, self.path) or exc) from exc
        raise StoreBusy(f"database {self.path} keeps changing under the reader", fix="retry in a moment")

    def ibis(self) -> DuckDBBackend:
        """An ibis DuckDB backend on a fresh read-only connection (one per thread; never share it)."""
        import ibis

        return ibis.duckdb.from_connection(self.read_connection())

    # ---- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write_lock(self, wait_s: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.parent / f".{self.path.name}.lock"
        with open(lock_path, "a+") as fh:
            deadline = time.monotonic() + wait_s
            told = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusy(f"another load is writing {self.path} right now ({_holder(lock_path)})",
                                        fix="wait for it to finish and run the command again") from None
                    if on_wait is not None and not told:
                        on_wait(f"waiting for another load of {self.path.name} to finish ({_holder(lock_path)}; "
                                f"up to {wait_s:.0f} s)…")
                        told = True
                    time.sleep(0.1)
            # who holds the lock, for the message of the next writer that has to wait
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()} {dt.datetime.now().isoformat(timespec='seconds')}\n")
                fh.flush()
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
    def write(self, *, relations: Relations, cfg: Config | None = None,
              changed: Iterable[str] | None = None, wait_s: float = WRITE_LOCK_WAIT_S,
              on_wait: Callable[[str], None] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to a private copy; committed by rename when the block exits cleanly.

        Before the commit the stored relations are brought up to date with what the block wrote
        (`materialize.refresh`: exactly `relations` are kept, for `cfg`; `changed` names the tables
        the block may have changed, None = any). Any exception inside the block discards the copy:
        the database stays exactly as it was.

        `relations` may be a function returning them: then the refresh is replayed from a recorded
        plan when one fits (`_refresh_by_plan`), and the function (with whatever it imports: the
        metrics, ibis, pandas) is only called when none does.

        Another write in progress is waited for (`on_wait` hears it once) up to `wait_s`. A full
        disk or a damaged file raises `DiskFull` / `DamagedDatabase`, the database untouched.
        """
        with self._write_lock(wait_s, on_wait):
            self._clean_stale_temps()
            tmp = self.path.parent / f"{self.path.name}.tmp-{os.getpid()}"
            con: duckdb.DuckDBPyConnection | None = None
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, tmp)
                con = connect_duckdb(tmp)
                init_schema(con)
                con.execute("BEGIN TRANSACTION")
                yield con
                if callable(relations):
                    _refresh_by_plan(con, relations, cfg or Config(), changed)
                else:
                    from b2bmetrics.store import materialize

                    materialize.refresh(con, relations, cfg or Config(), changed)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
                con.close()
                with open(tmp, "rb") as fh:  # durable before it becomes the database
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
                _fsync_dir(self.path.parent)
            except BaseException as exc:
                if con is not None:
                    with contextlib.suppress(duckdb.Error):
                        con.close()
                with contextlib.suppress(OSError):
                    tmp.unlink()
                with contextlib.suppress(OSError):
                    Path(f"{tmp}.wal").unlink()
                if isinstance(exc, Exception) and not isinstance(exc, B2BError):
                    said = health.disk_full_of(exc, self.path) or health.damage_of(exc, self.path)
                    if said is not None:
                        raise said from exc
                raise

    def ensure(self) -> None:
        """Create an empty database with every table when the file does not exist (keeping no
        relation: there is nothing to derive yet, and the first load builds what it keeps)."""
        if not self.path.exists():
            with self.write(relations=()):
                pass


def _holder(lock_path: Path) -> str:
    """The lock's holder as it wrote itself into the file: "pid N, since HH:MM:SS"."""
    try:
        pid, since = lock_path.read_text().split()[:2]
    except (OSError, ValueError):
        return "another process"
    return f"pid {pid}, since {since[11:] or since}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- refresh plans --------------------------------------------------------------------------------
#
# `materialize.refresh` is a deterministic function of the code, the configuration, the tables the
# write changed and a few facts about the database (its tables and columns, which tables are empty,
# whether the untouched tables still have the row counts the last write recorded, the SQL the last
# write recorded). What it does is a list of SQL statements. A write whose relations are given as a
# function records that list once under a hash of all of those inputs (`_plan_key`), in a cache
# directory beside the user's other caches; a later write with the same inputs (the next daily load,
# a load into a new database) replays the statements without importing ibis or the metrics, or
# compiling an expression: about a second of every `ingest` process. Any change of the package's
# source or of the DuckDB, ibis or sqlglot version is another key, so a plan is never replayed by
# code other than the code that recorded it. The cache is an optimisation only: without it
# (`B2BMETRICS_CACHE_DIR=""`, an unwritable directory, a plan that fails) the refresh runs as always.

CACHE_ENV = "B2BMETRICS_CACHE_DIR"
PLAN_CODES_KEPT = 4  # code versions whose plans are kept (the others are pruned when one is written)
# materialize's own records (tests/test_store_plans.py checks these match materialize.ROW_COUNTS / SQL_RECORD)
_ROW_COUNTS = "_derived_row_counts"
_SQL_RECORD = "_derived_sql"



def sql_literal(value: Any) -> str:
    """`value` (None, bool, int, float, str, date, datetime) as a SQL literal. Statements on the ingest
    path inline their values rather than bind them: DuckDB's Python client imports pandas, numpy and
    pyarrow (0.5 s or more) the first time it binds a parameter."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)" if math.isfinite(value) else f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'" if value.tzinfo is None else \
            f"TIMESTAMPTZ '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def inline_parameters(query: str, parameters: Sequence[Any]) -> str:
    """`query` with each `?` placeholder (outside quotes) replaced by the next value as a literal."""
    out: list[str] = []
    values = iter(parameters)
    quote = ""
    for ch in query:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            try:
                out.append(sql_literal(next(values)))
            except StopIteration:
                raise ValueError(f"more placeholders than parameters in {query[:80]!r}") from None
            continue
        out.append(ch)
    if next(values, _END) is not _END:
        raise ValueError(f"more parameters than placeholders in {query[:80]!r}")
    return "".join(out)


_END = object()


@functools.cache
def plan_code_version() -> str:
    """A hash of the package's source and of the versions of the libraries that compile its SQL."""
    from importlib import metadata

    root = Path(__file__).resolve().parents[1]  # the b2bmetrics package
    versions = []
    for dist in ("ibis-framework", "sqlglot"):
        try:
            versions.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            versions.append("-")
    h = hashlib.sha1(f"{duckdb.__version__} {' '.join(versions)}".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "b2bmetrics"


def _plan_key(con: duckdb.DuckDBPyConnection, label: str, cfg: Config, changed: Iterable[str] | None) -> str:
    """A hash of everything `materialize.refresh` reads (see above) except the rows themselves."""
    touched = set(TABLES) if changed is None else set(changed) & set(TABLES)
    layout = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                         "WHERE NOT internal ORDER BY ALL").fetchall()
    names = {str(r[0]) for r in layout}
    counts = " UNION ALL ".join(f"SELECT {sql_literal(t)} AS t, count(*) AS n FROM \"{t}\"" for t in TABLES)
    actual = {str(t): int(n) for t, n in con.execute(counts).fetchall()}
    recorded: dict[str, int] = {}
    if _ROW_COUNTS in names:
        recorded = {str(t): int(n) for t, n in con.execute(f'SELECT table_name, rows FROM "{_ROW_COUNTS}"').fetchall()}
    # per table: has rows; and, for a table the write did not touch, still the recorded count
    state = [(t, actual[t] > 0, t in touched or recorded.get(t) == actual[t]) for t in TABLES]
    record = con.execute(f'SELECT * FROM "{_SQL_RECORD}" ORDER BY ALL').fetchall() if _SQL_RECORD in names else []
    h = hashlib.sha256()
    for part in (label, plan_code_version(), repr(cfg), sorted(touched), changed is None, layout, state, record):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _read_plan(path: Path) -> list[str] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("format") != 1 or not isinstance(raw.get("steps"), list) \
            or not all(isinstance(q, str) for q in raw["steps"]):
        return None
    return list(raw["steps"])


def _write_plan(path: Path, steps: list[str]) -> None:
    text = json.dumps({"format": 1, "steps": steps}, ensure_ascii=False)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        codes = sorted((d for d in path.parent.parent.iterdir() if d.is_dir()),
                       key=lambda d: d.stat().st_mtime, reverse=True)
        for old in codes[PLAN_CODES_KEPT:]:
            shutil.rmtree(old, ignore_errors=True)


class _Recorder:
    """A connection that notes every statement run through it, its parameters inlined (for
    `_refresh_by_plan`); `steps` is None once a statement could not be noted."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.steps: list[str] | None = []

    def _note(self, query: str, parameters: Any) -> None:
        if self.steps is None:
            return
        try:
            self.steps.append(query if parameters is None else inline_parameters(query, parameters))
        except (TypeError, ValueError):  # a value with no literal form: record no plan
            self.steps = None

    def execute(self, query: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        self._note(query, parameters)
        return self._con.execute(query) if parameters is None else self._con.execute(query, parameters)

    def executemany(self, query: str, parameters: Any) -> duckdb.DuckDBPyConnection:
        for row in parameters:
            self._note(query, row)
        return self._con.executemany(query, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _refresh_by_plan(con: duckdb.DuckDBPyConnection, relations: Callable[[], Sequence[Relation]], cfg: Config,
                     changed: Iterable[str] | None) -> None:
    """`materialize.refresh(con, relations(), cfg, changed)`, replayed from a recorded plan when one fits."""
    changed = None if changed is None else set(changed)
    directory = _cache_dir()
    path = None
    if directory is not None:
        label = f"{getattr(relations, '__module__', '')}.{getattr(relations, '__qualname__', repr(relations))}"
        path = directory / "plans" / plan_code_version() / f"{_plan_key(con, label, cfg, changed)}.json"
        steps = _read_plan(path)
        if steps is not None:
            try:
                for query in steps:
                    con.execute(query)
            except duckdb.Error:
                with contextlib.suppress(OSError):
                    path.unlink()  # the next write records it again; this one fails (its transaction is spoilt)
                raise
            return
    from b2bmetrics.store import materialize

    recorder = _Recorder(con)
    materialize.refresh(recorder, relations(), cfg, changed)  # type: ignore[arg-type]
    if path is not None and recorder.steps is not None:
        _write_plan(path, recorder.steps)
