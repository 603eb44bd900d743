"""The server's warm-up (ui/warmup.py, started by serve.py): the first visitor's overview is computed
before anyone asks, into the caches the page reads."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st

from tests.conftest import ROOT, dashboard_app, write_db
from tests.pages_fixtures import fixture_rows


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Serve a fresh fixture database and record every metric function the caches had to run
    ("funnel.summary", "commission.all_rows", …: the library calls that read the database, behind
    ui.data's cached wrappers; pure functions of computed rows, such as `in_view`, are not counted)."""
    from b2bmetrics.metrics import accounts, churn, commission, funnel, quality, satisfaction

    monkeypatch.setenv("B2BMETRICS_DB", str(write_db(tmp_path / "fixture.duckdb", fixture_rows())))
    monkeypatch.chdir(ROOT)
    calls: list[str] = []

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return fn(*args, **kwargs)
        return run

    for module in (accounts, churn, commission, funnel, quality, satisfaction):
        family = module.__name__.rsplit(".", 1)[1]
        for name, fn in vars(module).items():
            if (inspect.isfunction(fn) and not name.startswith("_") and fn.__module__.startswith(module.__name__)
                    and next(iter(inspect.signature(fn).parameters), None) == "con"):
                monkeypatch.setattr(module, name, counting(f"{family}.{name}", fn))
    st.cache_data.clear()
    yield calls
    st.cache_data.clear()


def test_warm_up_leaves_nothing_to_compute_for_the_first_visit(counted: list[str]) -> None:
    from ui import overview_data, sidebar, warmup

    warmup.warm()
    # this period and the previous one: funnel, churn, satisfaction, commission; trends; regions
    assert counted.count("funnel.summary") == 2 and counted.count("commission.all_rows") == 2
    assert {"funnel.monthly_trend", "churn.monthly", "funnel.breakdown"} <= set(counted)
    before = len(counted)
    overview_data.compute_all(sidebar.default_filters())  # what the overview page asks on a first visit
    assert len(counted) == before


def test_no_warm_up_when_users_sign_in(counted: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import context, warmup

    monkeypatch.setattr(context, "auth_configured", lambda: True)  # each user's view is their own
    warmup.warm()
    assert counted == []


def test_a_first_visit_asks_for_the_filters_the_warm_up_computed(counted: list[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import sidebar

    at = dashboard_app(Path(os.environ["B2BMETRICS_DB"]), monkeypatch)
    at.run()
    assert not at.exception
    assert at.session_state["b2b_filters"] == sidebar.default_filters()
