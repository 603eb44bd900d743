"""Every page through Streamlit's AppTest: renders, shows known numbers, reacts to filters and language."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, write_db

PAGES = ["app_pages/overview.py", "app_pages/funnel.py", "app_pages/churn.py", "app_pages/satisfaction.py",
         "app_pages/commission.py", "app_pages/accounts.py", "app_pages/data.py"]
D = dt.datetime


def _fixture_rows() -> dict[str, list[dict[str, object]]]:
    """Two regions. 东区: a won deal of 100 and a lost one; 西区: a won deal of 300 and an open one.

    Whole data: win rate = won / (won + lost) = 2 / 3 = 66.7 %; won revenue = 100 + 300 = ¥400.
    Region 东区 only: win rate = 1 / 2 = 50.0 %; won revenue = ¥100.
    """
    return {
        "reps": [{"rep_id": "R1", "rep_name": "王伟", "region": "东区", "role": "sales"},
                 {"rep_id": "R2", "rep_name": "李娜", "region": "西区", "role": "sales"}],
        "accounts": [{"account_id": "A1", "account_name": "甲公司", "region": "东区", "segment": "大型企业",
                      "owner_rep_id": "R1", "created_at": D(2024, 1, 2)},
                     {"account_id": "A2", "account_name": "乙公司", "region": "西区", "segment": "小型企业",
                      "owner_rep_id": "R2", "created_at": D(2024, 1, 3)}],
        "deals": [
            {"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
             "amount": 100.0, "created_at": D(2024, 1, 10), "closed_at": D(2024, 2, 9)},
            {"deal_id": "D2", "stage": "lost", "status": "lost", "account_id": "A1", "owner_rep_id": "R1",
             "amount": 50.0, "created_at": D(2024, 1, 11), "closed_at": D(2024, 2, 1)},
            {"deal_id": "D3", "stage": "won", "status": "won", "account_id": "A2", "owner_rep_id": "R2",
             "amount": 300.0, "created_at": D(2024, 1, 12), "closed_at": D(2024, 3, 12)},
            {"deal_id": "D4", "stage": "proposal", "status": "open", "account_id": "A2", "owner_rep_id": "R2",
             "amount": 80.0, "created_at": D(2024, 2, 1)},
        ],
        "deal_stage_history": [
            {"deal_id": "D1", "stage": "lead", "entered_at": D(2024, 1, 10)},
            {"deal_id": "D1", "stage": "won", "entered_at": D(2024, 2, 9)},
            {"deal_id": "D3", "stage": "lead", "entered_at": D(2024, 1, 12)},
            {"deal_id": "D3", "stage": "proposal", "entered_at": D(2024, 2, 1)},
            {"deal_id": "D3", "stage": "won", "entered_at": D(2024, 3, 12)},
        ],
        "contracts": [{"contract_id": "C1", "account_id": "A1", "start_date": dt.date(2024, 2, 9), "mrr": 10.0},
                      {"contract_id": "C2", "account_id": "A2", "start_date": dt.date(2024, 3, 12), "mrr": 30.0}],
        "tickets": [{"ticket_id": "T1", "account_id": "A1", "opened_at": D(2024, 2, 10, 9),
                     "first_response_at": D(2024, 2, 10, 11), "channel": "wechat"}],
        "surveys": [{"response_id": "S1", "account_id": "A1", "submitted_at": D(2024, 2, 11), "kind": "csat",
                     "score": 5.0},
                    {"response_id": "S2", "account_id": "A2", "submitted_at": D(2024, 3, 13), "kind": "nps",
                     "score": 9.0}],
        "activities": [{"activity_id": "X1", "account_id": "A1", "occurred_at": D(2024, 2, 1), "kind": "visit",
                        "channel": "offline", "rep_id": "R1"}],
    }


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("pages") / "fixture.duckdb", _fixture_rows())


def _run_entry_script(main_script_path: str) -> None:
    code = compile(Path(main_script_path).read_text(encoding="utf-8"), main_script_path, "exec")
    exec(code, {"__name__": "__main__", "__file__": main_script_path})  # noqa: S102


@pytest.fixture(autouse=True)
def _v2_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run dashboard.py on every AppTest run, as a served app does once any session has started.

    AppTest re-enables Streamlit's v1 "pages/ folder" mode before each run, which runs the page file
    on its own; ui.page recovers from that with a rerun (tested in the browser test), but a rerun
    inside AppTest.run() hides widget changes from the elements AppTest reports.
    """
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.setattr(script_runner, "_mpa_v1", _run_entry_script)


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
