"""Shared fixtures: tiny databases built from rows written in the test, and the sample exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pytest

from b2bmetrics.schema import TABLES
from b2bmetrics.store import connect_duckdb, init_schema

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


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
            con.execute(f'INSERT INTO "{name}" VALUES ({placeholders})', [row.get(c) for c in cols])


def write_db(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """A database file holding exactly the given rows (every other table empty)."""
    from b2bmetrics.store import Store

    with Store.at(path).write() as con:
        for name in TABLES:
            con.execute(f'DELETE FROM "{name}"')
        _insert(con, tables)
    return path


def make_db(tables: dict[str, list[dict[str, Any]]]) -> Any:
    """An in-memory ibis DuckDB backend with every canonical table, holding the given rows.

    Rows are dicts of canonical column -> Python value (str ids, datetime/date, float); columns a
    row leaves out are null.
    """
    con = connect_duckdb()
    init_schema(con)
    _insert(con, tables)
    return ibis.duckdb.from_connection(con)


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.exists():
        pytest.fail(f"the shared sample exports are missing at {SAMPLES}")
    return SAMPLES
