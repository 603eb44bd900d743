"""Golden tests for metrics/accounts.py: MRR now (the list's `mrr_now`, ownership's `active_mrr`).

MRR now is MRR on the data's as-of day d by the churn rule (CONTRACT §5): a contract counts when
`start_date ≤ d` and (`end_date` empty or `end_date > d`). The fixture, on d = 2024-06-30:

    A1 (R1)  C1 2024-01-01 … 2025-06-30, 100   ends next year: counts
    A2 (R1)  C2 2024-07-01 …, 200              starts the day after: does not count yet
    A3 (R2)  C3 2023-01-01 … 2024-03-31, 300   ended: does not count
    A4 (R2)  C4 2023-06-01 …, 40               ongoing: counts
             C5 2023-01-01 … 2024-06-30, 50    ends on d: already over on d
             C6 2024-06-30 … 2024-12-31, 7     starts on d: counts
    A5 (no owner, no contract)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, data_as_of
from b2bmetrics.metrics import accounts, churn
from tests.conftest import ROOT, make_db, write_db
from tests.health_fixtures import backtest_rows

CFG = Config()
D, T = dt.date, dt.datetime
AS_OF = D(2024, 6, 30)


def k(cid: str, account: str, start: dt.date, end: dt.date | None, mrr: float) -> dict[str, Any]:
    return {"contract_id": cid, "account_id": account, "start_date": start, "end_date": end, "mrr": mrr}


ROWS: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "R1", "rep_name": "Li Na", "region": "east"},
             {"rep_id": "R2", "rep_name": "Wang Wei", "region": "west"}],
    "accounts": [{"account_id": "A1", "account_name": "Acme", "owner_rep_id": "R1"},
                 {"account_id": "A2", "account_name": "Beta", "owner_rep_id": "R1"},
                 {"account_id": "A3", "account_name": "Cera", "owner_rep_id": "R2"},
                 {"account_id": "A4", "account_name": "Dune", "owner_rep_id": "R2"},
                 {"account_id": "A5", "account_name": "Echo"}],
    "contracts": [
        k("C1", "A1", D(2024, 1, 1), D(2025, 6, 30), 100.0),
        k("C2", "A2", D(2024, 7, 1), None, 200.0),
        k("C3", "A3", D(2023, 1, 1), D(2024, 3, 31), 300.0),
        k("C4", "A4", D(2023, 6, 1), None, 40.0),
        k("C5", "A4", D(2023, 1, 1), D(2024, 6, 30), 50.0),
        k("C6", "A4", D(2024, 6, 30), D(2024, 12, 31), 7.0),
    ],
    "deals": [
        {"deal_id": "X1", "stage": "proposal", "status": "open", "account_id": "A1", "owner_rep_id": "R1"},
        # no status: derived from the stage (not the won or lost stage) -> open
        {"deal_id": "X2", "stage": "proposal", "account_id": "A1", "owner_rep_id": "R1"},
        {"deal_id": "X3", "stage": "won", "status": "won", "account_id": "A4", "owner_rep_id": "R2"},
    ],
    "activities": [{"activity_id": "Y1", "account_id": "A4", "occurred_at": T(2024, 6, 30, 9)}],
}


@pytest.fixture(scope="module")
def con() -> Any:
    return make_db(ROWS)


def _by_account(frame: Any, column: str) -> dict[str, float | None]:
    return {a: (None if v != v else v) for a, v in zip(frame["account_id"], frame[column], strict=True)}


def test_mrr_now_counts_the_contracts_active_on_the_day(con: Any) -> None:
    got = accounts.account_list(con, CFG, Filters(), as_of=AS_OF)
    assert _by_account(got, "mrr_now") == {
        "A1": 100.0,  # C1 ends 2025-06-30 > d: active, although it has an end date
        "A2": None,   # C2 starts 2024-07-01 > d: not yet (no end date does not make it active)
        "A3": None,   # C3 ended 2024-03-31 ≤ d
        "A4": 47.0,   # C4 40 + C6 7 (starts on d); C5 ends on d, so not
        "A5": None,   # no contract
    }
    # largest MRR first, then the accounts without one
    assert got["account_id"].tolist()[:2] == ["A1", "A4"]


def test_mrr_now_on_another_day(con: Any) -> None:
    got = accounts.account_list(con, CFG, Filters(), as_of=D(2024, 7, 1))
    # C2 has started (200); C6 7 + C4 40 = 47 for A4; C1 100 for A1
    assert _by_account(got, "mrr_now") == {"A1": 100.0, "A2": 200.0, "A3": None, "A4": 47.0, "A5": None}
    early = accounts.account_list(con, CFG, Filters(), as_of=D(2024, 3, 30))
    # C3 300 still runs; A4: C4 40 + C5 50 = 90 (C6 not started); A1: C1 100
    assert _by_account(early, "mrr_now") == {"A1": 100.0, "A2": None, "A3": 300.0, "A4": 90.0, "A5": None}


def test_open_deals_follow_the_status_rule(con: Any) -> None:
    got = accounts.account_list(con, CFG, Filters(), as_of=AS_OF).set_index("account_id")
    assert got.loc["A1", "open_deals"] == 2  # X1 open, X2 open by its stage
    assert pd.isna(got.loc["A4", "open_deals"])  # X3 is won: no open deal (null, as an account without deals)


def test_active_mrr_per_owner(con: Any) -> None:
    per = accounts.ownership(con, CFG, Filters(), as_of=AS_OF)["per_owner"].set_index("owner_rep_id")
    assert per.loc["R1", "accounts"] == 2 and per.loc["R1", "active_mrr"] == 100.0  # A1 100 + A2 nothing yet
    assert per.loc["R2", "accounts"] == 2 and per.loc["R2", "active_mrr"] == 47.0  # A3 ended + A4 47
    unowned = accounts.ownership(con, CFG, Filters(), as_of=AS_OF)["unowned"]
    assert unowned["account_id"].tolist() == ["A5"]


def test_now_is_the_day_the_accounts_page_scores_health_on(con: Any) -> None:
    """Without `as_of`, MRR now is taken on `filters.data_as_of`, the day `churn.health` defaults to."""
    day = data_as_of(con)
    assert churn.health(con, CFG, "A1")["as_of"] == day
    assert accounts.account_list(con, CFG, Filters()).equals(accounts.account_list(con, CFG, Filters(), as_of=day))
    assert accounts.ownership(con, CFG, Filters())["per_owner"].equals(
        accounts.ownership(con, CFG, Filters(), as_of=day)["per_owner"])


# CONTRACT §5 (v2): planned and future dates, contract ends among them, never move the data's last day
def test_a_contract_ending_next_year_counts_today_by_default() -> None:
    con = make_db({"accounts": [{"account_id": "A"}],
                   "contracts": [k("C", "A", D(2024, 1, 1), D(2026, 1, 1), 10.0)],
                   "activities": [{"activity_id": "Y", "account_id": "A", "occurred_at": T(2024, 6, 30)}]})
    assert data_as_of(con) == D(2024, 6, 30)  # the last thing that happened
    assert _by_account(accounts.account_list(con, CFG, Filters()), "mrr_now") == {"A": 10.0}


def test_mrr_over_time_uses_the_same_rule() -> None:
    contracts = pd.DataFrame([k("C5", "A4", D(2024, 1, 1), D(2024, 2, 29), 50.0),
                              k("C4", "A4", D(2024, 2, 29), None, 40.0)])
    got = accounts.mrr_over_time(contracts)
    # Jan 31: C5 50; Feb 29: C5 ends that day (over), C4 starts (counts): 40; Mar 31: 40
    assert dict(zip(got["month"].dt.strftime("%Y-%m-%d"), got["mrr"], strict=True)) == {
        "2024-01-31": 50.0, "2024-02-29": 40.0, "2024-03-31": 40.0}


def test_one_accounts_mrr_now_on_its_profile_is_the_lists() -> None:
    """The profile's tile reads MRR on the as-of day, not the chart's last month (which runs one
    month past the latest end, where every dated contract is over)."""
    contracts = pd.DataFrame([k("C1", "A", D(2024, 1, 1), D(2026, 12, 31), 100.0),  # runs on past as-of
                              k("C2", "A", D(2024, 1, 1), D(2024, 5, 1), 30.0),  # over before it
                              k("C3", "A", D(2024, 7, 1), None, 5.0)])  # starts after it
    assert accounts.mrr_on_day(contracts, D(2024, 6, 30)) == 100.0  # C1 only
    assert accounts.mrr_on_day(contracts, D(2024, 7, 1)) == 105.0  # C1 + C3 (starts that day)
    assert accounts.mrr_over_time(contracts)["mrr"].iloc[-1] == 5.0  # Jan 2027: only the open C3
    assert accounts.mrr_on_day(contracts.iloc[0:0], D(2024, 6, 30)) is None


# ---- the page: accounts at risk with the new factors, and "Is the score right?" (AppTest) ---------
#
# The dataset of tests/test_health_backtest.py (tests/health_fixtures.py), as of
# T = 2024-06-30: A scores 100 and stays; B 70, stops 2024-03-15; C 70, stops 2024-05-15 (after the
# horizon from Jan 31); D 45 (NPS 3, no activity), stays, an installment due 2024-01-15 never paid;
# E 25 (and 4 tickets never answered), stops 2024-02-10. Observed month-ends Jan 31, Feb 29, Mar 31:
# 12 pairs, 5 churned; AUC = 21 / 35 = 0.600 (see there for the arithmetic).

def page_rows() -> dict[str, list[dict[str, Any]]]:
    """The backtest's accounts, owned by one rep in region east (the list shows names and owners)."""
    return {**backtest_rows(), "reps": [{"rep_id": "R1", "rep_name": "Li Na", "region": "east"}],
            "accounts": [{"account_id": a, "account_name": f"{a} Co", "owner_rep_id": "R1", "region": "east"}
                         for a in "ABCDE"]}


@pytest.fixture(scope="module")
def page_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("acc_page") / "acc.duckdb", page_rows())


def _page(db: Path, monkeypatch: pytest.MonkeyPatch, lang: str) -> Any:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("app_pages/accounts.py").run()
    assert not at.exception, at.exception
    return at


def _metrics(at: Any) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _values(arr: Any) -> list[Any]:
    """A plotly array as a list (plotly writes numeric arrays as base64 `bdata` of a numpy dtype)."""
    if isinstance(arr, dict) and "bdata" in arr:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"]).tolist()
    return list(arr)


@pytest.mark.parametrize("lang", ["English", "中文"])
def test_page_checks_the_score(page_db: Path, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    at = _page(page_db, monkeypatch, lang)
    zh = lang == "中文"
    headers = [h.value for h in at.subheader]
    assert ("健康分准吗？" if zh else "Is the score right?") in headers
    tiles = _metrics(at)
    assert tiles["AUC"] == "0.600"  # 21 / 35
    assert tiles["评分客户·月" if zh else "Account-months scored"] == "12"  # 5 + 4 + 3 pairs
    assert tiles["90 天内流失" if zh else "Churned within 90 days"] == "5"  # B ×2, C ×2, E
    # fit on Jan 31 and Feb 29: U = 12.5 of 20 = 0.625; Mar 31: 1 of 2 = 0.500
    assert tiles["当前评分 AUC（拟合月）" if zh else "AUC now, fit months"] == "0.625"
    assert tiles["当前评分 AUC（检验月）" if zh else "AUC now, later months"] == "0.500"
    charts = {c.proto.spec and json.loads(c.proto.spec)["layout"].get("yaxis", {}).get("title", {}).get("text")
              for c in at.get("plotly_chart")}
    rate = "90 天流失率" if zh else "Churn rate (90 days)"
    assert rate in charts and ("仍为客户" if zh else "Still a customer") in charts
    bar = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if json.loads(c.proto.spec)["layout"].get("yaxis", {}).get("title", {}).get("text") == rate)
    # 0–39: E 1/1; 40–59: D 0/3; 60–79: B, B, C Feb, C Mar of 5 = 0.8; 80–100: A 0/3
    assert _values(bar["data"][0]["x"]) == ["0–39", "40–59", "60–79", "80–100"]
    assert _values(bar["data"][0]["y"]) == [1.0, 0.0, 0.8, 0.0]
    km = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
              if json.loads(c.proto.spec)["layout"].get("yaxis", {}).get("title", {}).get("text")
              == ("仍为客户" if zh else "Still a customer"))
    assert [t["name"] for t in km["data"]] == ["0–39", "40–59", "60–79", "80–100"]
    assert _values(km["data"][2]["y"]) == pytest.approx([1, 4 / 6, 1 / 2, 1 / 3, 1 / 6, 0])  # the 60–79 steps
    assert _values(km["data"][2]["x"]) == [0, 15, 44, 45, 76, 105]
    frames = [df.value for df in at.dataframe]
    factors = next(f for f in frames if ("因素" if zh else "Factor") in f.columns)
    assert (factors.iloc[:, 0].tolist()[-2:]
            == (["回款逾期", "首次响应慢"] if zh else ["Late 回款", "Slow first response"]))
    # slow first response alone: 28 / 35 = 0.8 (E Jan, C Feb, C Mar flagged, all churned)
    assert factors.iloc[-1, 1] == pytest.approx(0.8)


@pytest.mark.parametrize("lang", ["English", "中文"])
def test_page_lists_accounts_at_risk_with_late_payment_and_slow_response(
        page_db: Path, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    at = _page(page_db, monkeypatch, lang)
    zh = lang == "中文"
    late, slow = ("回款逾期", "首次响应慢") if zh else ("Late 回款", "Slow first response")
    risky = next(df.value for df in at.dataframe if late in df.value.columns)
    # as of 2024-06-30 the active accounts are A (100) and D (45): D first; D's installment of Jan 15 is
    # 167 days overdue (Jun 30 − Jan 15 = 16 + 29 + 31 + 30 + 31 + 30); nobody has a ticket in the 90 days
    assert risky[late].tolist() == [True, False] and risky[slow].tolist() == [False, False]
    assert risky["days_overdue"].iloc[0] == 167  # headed by the registry: Days overdue / 逾期天数
    assert risky["outstanding"].tolist() == [50.0, 0.0]  # D's 50 unpaid
