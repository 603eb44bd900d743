"""The `Backend` protocol (b2bmetrics/backend.py): what every metric takes, and what both an ibis
backend and a restricted user's `ScopedBackend` offer — and no more, for the scoped one."""

from __future__ import annotations

import pytest

from b2bmetrics.access import AccessDenied, Scope, ScopedBackend, scoped
from b2bmetrics.backend import Backend
from b2bmetrics.config import Config
from b2bmetrics.filters import Filters
from b2bmetrics.metrics import compute_kpis
from tests.conftest import make_db

ROWS = {"accounts": [{"account_id": "A1", "region": "East", "owner_rep_id": "R1"},
                     {"account_id": "A2", "region": "West", "owner_rep_id": "R2"}],
        "reps": [{"rep_id": "R1", "region": "East"}, {"rep_id": "R2", "region": "West"}]}


def test_an_ibis_backend_and_a_scoped_backend_are_both_backends() -> None:
    con = make_db(ROWS)
    east = ScopedBackend(con, Scope("manager", regions=("East",)))
    assert isinstance(con, Backend) and isinstance(east, Backend)
    assert east.name == con.name == "duckdb"
    assert set(east.list_tables()) <= set(con.list_tables())
    # the scoped one is the same protocol with fewer rows, not another interface
    assert con.table("accounts").count().execute() == 2
    assert east.table("accounts").count().execute() == 1


def test_the_scoped_backend_offers_nothing_beyond_the_protocol() -> None:
    east = scoped(make_db(ROWS), Scope("manager", regions=("East",)))
    with pytest.raises(AccessDenied):
        east.raw_sql("SELECT * FROM accounts")  # type: ignore[attr-defined]
    with pytest.raises(AccessDenied):
        east.table("loads")


def test_every_metric_runs_on_either() -> None:
    con = make_db(ROWS)
    for backend in (con, scoped(con, Scope("manager", regions=("East",)))):
        out = compute_kpis(backend, Config(), Filters())
        assert out["quality"]["tables"]["accounts"]["rows"] == (2 if backend is con else 1)
