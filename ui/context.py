"""Where the dashboard's data lives and who is looking: the store, its version, the config, the
signed-in user's scope and per-thread backends cut to that scope.

The database is `$B2BMETRICS_DB` or `data/demo.duckdb`; the demo is generated on first run when the
file is missing. Every query goes through a read-only connection of the current version (see
`b2bmetrics.store`), one cursor per thread, so sessions never share a DuckDB connection.

Sign-in is on when `.streamlit/secrets.toml` has an `[auth]` section (see docs/access.md); the
scope then comes from `st.user` and the roles file on every call, never from session state or the
URL, so nothing a user can set widens it. Without `[auth]` the app is single-user and local: the
one user sees everything.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import streamlit as st

from b2bmetrics import access
from b2bmetrics.access import AccessDenied, Scope
from b2bmetrics.backend import Backend
from b2bmetrics.config import Config, load_config
from b2bmetrics.errors import B2BError
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

        def report(label: str, fraction: float) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=label)

        write_demo(s, progress=report)
        status.update(label="Demo dataset ready / 演示数据已就绪", state="complete", expanded=False)


def version() -> str:
    return store().version()


@st.cache_resource(max_entries=3, show_spinner=False)
def _base_connection(path: str, version: str) -> duckdb.DuckDBPyConnection:
    # one read-only DuckDB instance per dataset version; threads take cursors of it
    return Store.at(path).read_connection()


def _thread_backend() -> Backend:
    """The whole data: an ibis backend for this thread on the current dataset version."""
    import ibis

    s = store()
    v = s.version()
    cached = getattr(_local, "backend", None)
    if cached is not None and cached[0] == (str(s.path), v):
        return cached[1]
    con: Backend = ibis.duckdb.from_connection(_base_connection(str(s.path), v).cursor())
    _local.backend = ((str(s.path), v), con)
    return con


def backend(scope: Scope | None = None) -> Backend:
    """An ibis backend for this thread holding only the rows `scope` (default: the user's) may see."""
    scope = scope if scope is not None else require_scope()
    base = _thread_backend()
    if scope.unrestricted:
        return base
    key = (id(base), scope, config().region_of)
    cached = getattr(_local, "scoped", None)
    if cached is not None and cached[0] == key:
        return cached[1]  # its table expressions are built once
    con: Backend = access.scoped(base, scope, config().region_of)
    _local.scoped = (key, con)
    return con


# ---- who is looking ---------------------------------------------------------------------------

def auth_configured() -> bool:
    """True when `.streamlit/secrets.toml` has an `[auth]` section: users must sign in."""
    if st.secrets.load_if_toml_exists():
        return "auth" in st.secrets
    # a secrets file that exists but does not parse must not open the app to everyone
    broken = [p for p in st.get_option("secrets.files") if Path(p).is_file()]
    if broken:
        raise B2BError(f"{broken[0]} could not be read, so sign-in cannot be set up",
                       fix="fix the TOML syntax of the secrets file (see docs/access.md)")
    return False


def signed_in() -> bool:
    # AppTest's secrets do not reach the default st.user fills in, so a missing flag means "no"
    return bool(st.user.get("is_logged_in", False))


def user_email() -> str | None:
    email = st.user.get("email")
    return str(email) if email else None


def email_unverified() -> bool:
    """True when the provider says the address is not proven to be the user's (`email_verified`
    false; Cognito sends it as the text "false"). Anyone can sign up at some providers with any
    address, so such an address must not match the roles file. A provider that sends no
    `email_verified` (Entra ID) vouches for the address by issuing it."""
    return str(st.user.get("email_verified", "")).strip().lower() == "false"


def roles_path() -> Path:
    return access.roles_path(db_path())


@st.cache_resource(max_entries=4, show_spinner=False)
def _roles(path: str, mtime: float) -> dict[str, Scope]:
    return access.load_roles(Path(path))


def roles() -> dict[str, Scope]:
    """The roles file, re-read when it changes."""
    path = roles_path()
    return _roles(str(path), path.stat().st_mtime if path.exists() else 0.0)


def user_scope() -> Scope | None:
    """Everything in local mode; the roles file's scope for a signed-in user; None for anyone else."""
    if not auth_configured():
        return Scope.everything()
    if not signed_in() or email_unverified():
        return None
    return access.scope_of(user_email(), roles())


def require_scope() -> Scope:
    """The user's scope; AccessDenied when they have none (signed out, or not in the roles file)."""
    scope = user_scope()
    if scope is None:
        raise AccessDenied("you have no access to this data",
                           fix="sign in with an account listed in the roles file")
    return scope


@st.cache_resource(show_spinner=False)
def _config(path: str, mtime: float) -> Config:
    return load_config(None, path)


def config() -> Config:
    beside = db_path().resolve().parent / "b2bmetrics.toml"
    return _config(str(db_path()), beside.stat().st_mtime if beside.exists() else 0.0)
