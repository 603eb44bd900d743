"""Where the dashboard's data lives: the store, its version, the config and per-thread backends.

The database is `$B2BMETRICS_DB` or `data/demo.duckdb`; the demo is generated on first run when the
file is missing. Every query goes through a read-only connection of the current version (see
`b2bmetrics.store`), one cursor per thread, so sessions never share a DuckDB connection.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from b2bmetrics.config import Config, load_config
from b2bmetrics.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = ROOT / "data" / "demo.duckdb"
_local = threading.local()


def db_path() -> Path:
    return Path(os.environ.get("B2BMETRICS_DB", str(DEFAULT_DB)))


def store() -> Store:
    return Store.at(db_path())


def ensure_database() -> None:
    """Create the demo database on first run, with progress."""
    s = store()
    if s.exists():
        return
    from b2bmetrics.demo import write_demo

    with st.status("Creating the demo dataset (first run) … / 正在生成演示数据 …", expanded=True) as status:
        bar = st.progress(0.0)
        write_demo(s, progress=lambda label, f: bar.progress(min(max(f, 0.0), 1.0), text=label))
        status.update(label="Demo dataset ready / 演示数据已就绪", state="complete", expanded=False)


def version() -> str:
    return store().version()


@st.cache_resource(max_entries=3, show_spinner=False)
def _base_connection(path: str, version: str) -> Any:
    # one read-only DuckDB instance per dataset version; threads take cursors of it
    return Store.at(path).read_connection()


def backend() -> Any:
    """An ibis backend for this thread on the current dataset version."""
    import ibis

    s = store()
    v = s.version()
    cached = getattr(_local, "backend", None)
    if cached is not None and cached[0] == (str(s.path), v):
        return cached[1]
    con = ibis.duckdb.from_connection(_base_connection(str(s.path), v).cursor())
    _local.backend = ((str(s.path), v), con)
    return con


@st.cache_resource(show_spinner=False)
def _config(path: str, mtime: float) -> Config:
    return load_config(None, path)


def config() -> Config:
    beside = db_path().resolve().parent / "b2bmetrics.toml"
    return _config(str(db_path()), beside.stat().st_mtime if beside.exists() else 0.0)
