"""Shared fixtures: tiny databases built from rows written in the test, and the sample exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pytest

from b2bmetrics.schema import TABLES
from b2bmetrics.store import connect_duckdb, init_schema

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "samples"


def query(store: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` on a fresh read-only connection to the store's current version."""
    con = store.read_connection()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _insert(con: Any, tables: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in tables.items():
        cols = TABLES[name].column_names
        placeholders = ", ".join("?" for _ in cols)
        for row in rows:
            unknown = set(row) - set(cols)
            assert not unknown, f"{name} has no column {unknown}"
        if rows:
            names = ", ".join(f'"{c}"' for c in cols)  # by name: a table may have storage columns after them
            con.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({placeholders})',
                            [[row.get(c) for c in cols] for row in rows])


def write_db(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """A database file holding exactly the given rows (every other table empty)."""
    from b2bmetrics.metrics.materialized import RELATIONS
    from b2bmetrics.store import Store

    with Store.at(path).write(relations=RELATIONS) as con:
        for name in TABLES:
            con.execute(f'DELETE FROM "{name}"')
        _insert(con, tables)
    return path


def make_db(tables: dict[str, list[dict[str, Any]]]) -> Any:
    """An in-memory ibis DuckDB backend with every canonical table, holding the given rows.

    Rows are dicts of canonical column -> Python value (str ids, datetime/date, float, Decimal or
    str for money: DuckDB stores each amount as the DECIMAL(18,4) nearest to it); columns a row
    leaves out are null.
    """
    con = connect_duckdb()
    init_schema(con)
    _insert(con, tables)
    return ibis.duckdb.from_connection(con)


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.exists():
        pytest.fail(f"the sample exports are missing at {SAMPLES}")
    return SAMPLES


# ---- signing in through AppTest (tests/test_access.py) ---------------------------------------

# an [auth] section as `st.login` wants it; nothing is contacted, since tests never complete a sign-in
AUTH_SECRETS: dict[str, Any] = {"auth": {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only-cookie-secret",
    "client_id": "b2bmetrics-test",
    "client_secret": "test-only",
    "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
}}


def dashboard_app(db: Path, monkeypatch: pytest.MonkeyPatch, *, roles: Path | None = None) -> Any:
    """An AppTest of dashboard.py on database `db`, with sign-in on when a roles file is given."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    if roles is not None:
        monkeypatch.setenv("B2BMETRICS_ROLES", str(roles))
        at.secrets.update(AUTH_SECRETS)
    return at


def sign_in(at: Any, email: str | None) -> Any:
    """Make the AppTest's user signed in as `email` (None: signed out)."""
    at.user = {"is_logged_in": False} if email is None else {"is_logged_in": True, "email": email, "name": email}
    return at


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """File name -> a function giving the bytes, for every download button the app registers.

    Pages make most download bytes only when clicked (a callable handed to Streamlit); this keeps
    those callables so a test can read exactly what a click would download.
    """
    from streamlit.runtime.media_file_manager import MediaFileManager

    seen: dict[str, Any] = {}
    add_deferred, add = MediaFileManager.add_deferred, MediaFileManager.add

    def keep_deferred(self: Any, data_callable: Any, mimetype: Any, coordinates: str, file_name: str | None = None,
                      **kwargs: Any) -> str:
        seen[file_name or coordinates] = data_callable
        return add_deferred(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    def keep_static(self: Any, path_or_data: Any, mimetype: str, coordinates: str, file_name: str | None = None,
                    is_for_static_download: bool = False) -> str:
        if is_for_static_download:
            seen[file_name or coordinates] = lambda: path_or_data
        return add(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep_deferred)
    monkeypatch.setattr(MediaFileManager, "add", keep_static)
    return seen


# ---- the demo database, written once per test session ----------------------------------------

DEMO_SEED, DEMO_ACCOUNTS = 11, 400


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database file (seed 11, 400 accounts) written once per test session.

    Shared by every test that asks for it: read it, or copy the file before changing anything.
    """
    from b2bmetrics.demo import write_demo
    from b2bmetrics.store import Store

    path = tmp_path_factory.mktemp("demo_db") / "demo.duckdb"
    write_demo(Store.at(path), seed=DEMO_SEED, accounts=DEMO_ACCOUNTS)
    return path
