"""`b2bmetrics backup` and `restore`: a consistent copy of the database, and putting one back.

A backup copies the version readers see (`Store.read_connection`'s snapshot link): a load
replaces the file by rename and never writes into a version in place, so the copy is consistent
while the dashboard reads and a load runs. It is written beside its final name, made durable,
checked block by block (`health.check`) and only then renamed into place.

A restore checks the backup the same way, then replaces the database under the write lock, as a
load does: readers keep the version they have, the next read sees the restored one. The replaced
file is kept beside the database as `<db>.before-restore-<time>` (a hard link: no extra space)
until the user removes it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from b2bmetrics.errors import B2BError
from b2bmetrics.store import health
from b2bmetrics.store.database import WRITE_LOCK_WAIT_S, Store, _fsync_dir


def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _problems(path: Path) -> list[str]:
    return [f.what for f in health.check(path) if not f.ok]


def _durable_copy(source: Path, tmp: Path) -> None:
    try:
        with open(source, "rb") as src, open(tmp, "wb") as out:  # an open file is pinned: a load may
            shutil.copyfileobj(src, out, 1 << 20)                 # replace the database meanwhile
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise health.disk_full_of(exc, tmp) or B2BError(
            f"cannot write {tmp.parent}: {exc.strerror}", fix="choose a folder you may write to") from exc


def backup(store: Store, folder: Path) -> Path:
    """Copy the current version of `store` into `folder` as `<name>-<time>.duckdb`; returns the copy."""
    if not store.exists():
        raise B2BError(f"database {store.path} does not exist", fix="check --db")
    problems = _problems(store.path)
    if problems:
        raise health.DamagedDatabase(f"the database file {store.path} is damaged, so it is not backed up: "
                                     + "; ".join(problems), fix=health.recovery_steps(store.path))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{store.path.stem}-{_stamp()}.duckdb"
    tmp = folder / f".{target.name}.partial"
    _durable_copy(store._snapshot_path(), tmp)  # the version readers see: never written in place
    problems = _problems(tmp)
    if problems:
        tmp.unlink(missing_ok=True)
        raise B2BError(f"the copy in {folder} does not read back whole: {'; '.join(problems)}",
                       fix="check the disk of the backup folder and run the backup again")
    os.replace(tmp, target)
    _fsync_dir(folder)
    return target


def restore(store: Store, source: Path, *, wait_s: float = WRITE_LOCK_WAIT_S) -> Path | None:
    """Replace `store`'s database with the backup `source`; returns where the replaced file was kept."""
    if not source.is_file():
        raise B2BError(f"backup {source} does not exist", fix="give the file `b2bmetrics backup` printed")
    problems = _problems(source)
    if problems:
        raise B2BError(f"{source} is not a whole b2bmetrics database: {'; '.join(problems)}",
                       fix="restore from another backup")
    with store._write_lock(wait_s):
        store.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.path.parent / f"{store.path.name}.tmp-{os.getpid()}"
        _durable_copy(source, tmp)
        kept: Path | None = None
        if store.path.exists():
            kept = store.path.parent / f"{store.path.name}.before-restore-{_stamp()}"
            os.link(store.path, kept)
        os.replace(tmp, store.path)
        _fsync_dir(store.path.parent)
    return kept
