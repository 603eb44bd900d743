"""Every page through Streamlit's AppTest: renders, shows known numbers, reacts to filters and language."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, write_db
from tests.pages_fixtures import fixture_rows

PAGES = ["app_pages/overview.py", "app_pages/funnel.py", "app_pages/churn.py", "app_pages/satisfaction.py",
         "app_pages/commission.py", "app_pages/accounts.py", "app_pages/data.py"]


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("pages") / "fixture.duckdb", fixture_rows())


@pytest.fixture
def app(fixture_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("B2BMETRICS_DB", str(fixture_db))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(app: AppTest, page: str) -> None:
    app.run()
    app.switch_page(page).run()
    _no_errors(app)
    assert app.title, f"{page} shows no title"


def test_overview_shows_known_numbers_and_a_filter_changes_them(app: AppTest) -> None:
    app.run()
    _no_errors(app)
    # whole data range: 2 won of 3 closed; 100 + 300 won
    shown = _metrics(app)
    assert shown["Win rate"] == "66.7%"
    assert shown["Won revenue"] == "¥400"
    assert shown["Open pipeline"] == "¥80"  # at the period's end only D4 is open
    app.multiselect(key="region").select("东区").run()
    _no_errors(app)
    shown = _metrics(app)
    assert shown["Win rate"] == "50.0%"  # 1 won / (1 won + 1 lost)
    assert shown["Won revenue"] == "¥100"
    assert shown["Open pipeline"] == "¥0"  # 东区's deals are both closed


def test_language_switch_changes_labels(app: AppTest) -> None:
    app.run()
    assert app.title[0].value == "Overview"
    app.segmented_control(key="lang").set_value("中文").run()
    _no_errors(app)
    assert app.title[0].value == "总览"
    assert "赢单率" in _metrics(app)


def test_filters_survive_a_page_change(app: AppTest) -> None:
    app.run()
    app.multiselect(key="region").select("西区").run()
    app.switch_page("app_pages/funnel.py").run()
    _no_errors(app)
    assert app.multiselect(key="region").value == ["西区"]
    # 西区: one won deal of 300 and one open deal: win rate 1 / 1
    assert _metrics(app)["Win rate"] == "100.0%"


def test_url_parameters_open_the_same_view(app: AppTest) -> None:
    app.query_params["region"] = "东区"
    app.run()
    _no_errors(app)
    assert app.multiselect(key="region").value == ["东区"]
    assert _metrics(app)["Win rate"] == "50.0%"


def test_reset_clears_the_filters(app: AppTest) -> None:
    app.run()
    app.multiselect(key="region").select("东区").run()
    app.button(key="reset_filters").click().run()
    _no_errors(app)
    assert app.multiselect(key="region").value == []
    assert _metrics(app)["Win rate"] == "66.7%"


def test_funnel_page_numbers(app: AppTest) -> None:
    app.run()
    app.switch_page("app_pages/funnel.py").run()
    shown = _metrics(app)
    assert shown["Won deals"] == "2"
    assert shown["Win rate"] == "66.7%"


def test_the_rep_list_follows_the_chosen_region(app: AppTest) -> None:
    app.run()
    assert list(app.multiselect(key="rep").options) == ["王伟 (R1)", "李娜 (R2)"]
    app.multiselect(key="region").select("东区").run()
    _no_errors(app)
    assert list(app.multiselect(key="rep").options) == ["王伟 (R1)"]  # R1 owns 东区's accounts and deals
    app.multiselect(key="rep").select("R1").run()
    app.multiselect(key="region").unselect("东区").select("西区").run()
    _no_errors(app)
    # a chosen person stays chosen (and listed) when the region changes; the numbers then show nobody
    assert app.multiselect(key="rep").value == ["R1"]
    assert list(app.multiselect(key="rep").options) == ["王伟 (R1)", "李娜 (R2)"]


def test_funnel_lists_the_deals_behind_a_chosen_stage(app: AppTest) -> None:
    app.run()
    app.switch_page("app_pages/funnel.py").run()
    listed = len(app.dataframe)
    app.selectbox(key="funnel_stage_pick").select("proposal").run()  # nothing is listed before a choice
    _no_errors(app)
    assert len(app.dataframe) == listed + 1
    # D1 and D3 were won (won is after proposal), D4 is in proposal: three reached it
    assert sorted(app.dataframe[-1].value["deal_id"]) == ["D1", "D3", "D4"]
    assert any("3 deals" in c.value for c in app.caption)


def test_commission_page_reacts_to_the_region_filter(app: AppTest) -> None:
    app.run()
    app.switch_page("app_pages/commission.py").run()
    _no_errors(app)
    everyone = _metrics(app)["Commission payout"]
    app.multiselect(key="region").select("东区").run()
    _no_errors(app)
    assert _metrics(app)["Commission payout"] != everyone


def test_empty_filter_result_shows_a_message(app: AppTest) -> None:
    app.run()
    app.multiselect(key="segment").select("小型企业").run()
    app.multiselect(key="region").select("东区").run()
    _no_errors(app)
    app.switch_page("app_pages/churn.py").run()
    _no_errors(app)


def test_empty_database_shows_a_helpful_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = write_db(tmp_path / "empty.duckdb", {})
    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    _no_errors(at)
    assert any("No data loaded yet" in i.value for i in at.info)
    at.switch_page("app_pages/data.py").run()
    _no_errors(at)
