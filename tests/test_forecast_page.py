"""The Forecast (销售预测) page through Streamlit's AppTest: hand-computed figures on a tiny dataset,
the same figures as `b2bmetrics kpis --format json`, the waterfall's drill-down listing exactly the
deals of each bar, the slipped deals, the rep's own view, and English and 中文.

The pages' two-region dataset (tests/pages_fixtures.py) plus six deals, looked at over Q2 2024
(2024-04-01 … 2024-06-30):

| deal | account | now                                   | on 2024-04-01 (S1)        | on 2024-06-24 (S2)         |
|------|---------|---------------------------------------|---------------------------|----------------------------|
| D4   | A2 西区 | open 80, no expected close            | open 80, close 06-01      | absent: lost 80            |
| D5   | A1 东区 | won 200 on 05-15 (R1)                 | open 200, close 05-15     | won: won 200               |
| D6   | A1 东区 | open 400, 06-20, commit, p 0.8 (R1)   | open 300, close 06-20     | open 400: increased 100    |
| D7   | A2 西区 | open 250, 06-10, best case, p 0.5     | absent                    | open 250: created 250      |
| D8   | A2 西区 | open 150, 05-30, no category, p 0.2   | open 150, close 08-01     | close 05-30: pulled in 150 |
| D9   | A1 东区 | open 90, 09-01, commit (R1)           | open 90, close 06-15      | close 09-01: pushed out 90 |
| D10  | A2 西区 | open 700, 06-01, omitted              | open 1000, close 06-01    | open 700: decreased 300    |

D9 is also on snapshot day 2024-05-06 (MID) with close 06-28: pushed twice (06-15 → 06-28 → 09-01).
Forecast for Q2: closed won = D5 200; commit = D6 400 (D9 expected in September); best case = D7
250; pipeline = D8 150; weighted = 400 × 0.8 + 250 × 0.5 + 150 × 0.2 = 320 + 125 + 30 = 475.
Company target Q2 booked 1000: actual = D5 200, attainment 20 %, e = n = 91 days so expected to
date 1000 and pace 20 %; coverage = (400 + 250 + 150) ÷ (1000 − 200) = 1.00×.
Pipeline change S1 → S2: start = D4 80 + D5 200 + D6 300 + D9 90 + D10 1000 = 1670;
end = 1670 + 250 + 150 + 100 − 300 − 90 − 200 − 80 = 1500 (= D6 400 + D7 250 + D8 150 + D10 700).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from b2bmetrics.cli import main
from b2bmetrics.registry import KPI_BY_KEY, format_value
from tests.conftest import dashboard_app, sign_in, write_db
from tests.pages_fixtures import fixture_rows

D, d = dt.datetime, dt.date
PAGE = "app_pages/forecast.py"
FROM, TO = d(2024, 4, 1), d(2024, 6, 30)
S1, MID, S2 = d(2024, 4, 1), d(2024, 5, 6), d(2024, 6, 24)
TILES = ["forecast.closed_won", "forecast.commit", "forecast.best_case", "forecast.pipeline", "forecast.weighted"]


def _deal(did: str, account: str, owner: str, stage: str, status: str, amount: float, **more: Any) -> dict[str, Any]:
    return {"deal_id": did, "account_id": account, "owner_rep_id": owner, "stage": stage, "status": status,
            "amount": amount, "created_at": D(2024, 1, 20), **more}


DEALS = [
    _deal("D5", "A1", "R1", "won", "won", 200.0, closed_at=D(2024, 5, 15, 10)),
    _deal("D6", "A1", "R1", "negotiation", "open", 400.0, expected_close_at=D(2024, 6, 20), forecast_category="commit",
          probability=0.8),
    _deal("D7", "A2", "R2", "proposal", "open", 250.0, expected_close_at=D(2024, 6, 10),
          forecast_category="best_case", probability=0.5),
    _deal("D8", "A2", "R2", "qualified", "open", 150.0, expected_close_at=D(2024, 5, 30), probability=0.2),
    _deal("D9", "A1", "R1", "proposal", "open", 90.0, expected_close_at=D(2024, 9, 1), forecast_category="commit"),
    _deal("D10", "A2", "R2", "negotiation", "open", 700.0, expected_close_at=D(2024, 6, 1),
          forecast_category="omitted", probability=0.9),
]
TARGETS: list[dict[str, Any]] = [
    {"level": "company", "key": None, "period": "quarter", "period_start": d(2024, 4, 1), "basis": "booked",
     "amount": 1000},
    {"level": "company", "key": None, "period": "month", "period_start": d(2024, 6, 1), "basis": "booked",
     "amount": 300},  # June: holds `to` but not `from`, so the quarter is the headline target
    {"level": "rep", "key": "R1", "period": "quarter", "period_start": d(2024, 4, 1), "basis": "booked",
     "amount": 500},  # R1: D5 200 → 40 %
    {"level": "region", "key": "东区", "period": "quarter", "period_start": d(2024, 4, 1), "basis": "booked",
     "amount": 400},
]


def _snap(day: dt.date, deal: str, status: str, amount: str, close: dt.datetime | None, stage: str = "proposal",
          owner: str = "R1") -> tuple[Any, ...]:
    return (day, deal, stage, status, Decimal(amount), close, owner)


SNAPSHOTS = [
    _snap(S1, "D4", "open", "80", D(2024, 6, 1), owner="R2"),
    _snap(S1, "D5", "open", "200", D(2024, 5, 15)), _snap(S2, "D5", "won", "200", D(2024, 5, 15), stage="won"),
    _snap(S1, "D6", "open", "300", D(2024, 6, 20)), _snap(S2, "D6", "open", "400", D(2024, 6, 20)),
    _snap(S2, "D7", "open", "250", D(2024, 6, 10), owner="R2"),
    _snap(S1, "D8", "open", "150", D(2024, 8, 1), owner="R2"), _snap(S2, "D8", "open", "150", D(2024, 5, 30), owner="R2"),
    _snap(S1, "D9", "open", "90", D(2024, 6, 15)), _snap(MID, "D9", "open", "90", D(2024, 6, 28)),
    _snap(S2, "D9", "open", "90", D(2024, 9, 1)),
    _snap(S1, "D10", "open", "1000", D(2024, 6, 1), owner="R2"), _snap(S2, "D10", "open", "700", D(2024, 6, 1), owner="R2"),
]
BUCKET_DEALS = {"created": ["D7"], "pulled_in": ["D8"], "increased": ["D6"], "decreased": ["D10"],
                "pushed_out": ["D9"], "won": ["D5"], "lost": ["D4"]}
BUCKET_EN = {"created": "Created", "pulled_in": "Pulled in", "increased": "Increased", "decreased": "Decreased",
             "pushed_out": "Pushed out", "won": "Won", "lost": "Lost"}


def forecast_rows() -> dict[str, list[dict[str, Any]]]:
    rows = fixture_rows()
    return {**rows, "deals": [*rows["deals"], *DEALS], "targets": TARGETS}


@pytest.fixture(scope="module")
def fc_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from b2bmetrics.ingest.snapshots import load_snapshot_rows
    from b2bmetrics.metrics.materialized import RELATIONS
    from b2bmetrics.store import Store

    path = write_db(tmp_path_factory.mktemp("forecast") / "forecast.duckdb", forecast_rows())
    with Store.at(path).write(relations=RELATIONS) as con:  # the snapshots as ingest stores a loaded file
        con.execute("CREATE TEMP TABLE staged AS SELECT * EXCLUDE (valid_until) FROM deal_snapshots LIMIT 0")
        con.executemany("INSERT INTO staged (snapshot_date, deal_id, stage, status, amount, expected_close_at, "
                        "owner_rep_id) VALUES (?, ?, ?, ?, ?, ?, ?)", [list(r) for r in SNAPSHOTS])
        load_snapshot_rows(con, "staged", append=False)
    return path


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, *, lang: str = "English", roles: Path | None = None,
         email: str | None = None) -> AppTest:
    at = dashboard_app(db, monkeypatch, roles=roles)
    at.default_timeout = 90
    if email:
        sign_in(at, email)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(PAGE).run()
    at.date_input(key="period").set_value((FROM, TO)).run()
    return at


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _table(at: AppTest, first: str, second: str | None = None) -> pd.DataFrame:
    found = [df.value for df in at.dataframe if list(df.value.columns)[:1] == [first]
             and (second is None or list(df.value.columns)[1:2] == [second])]
    assert len(found) == 1, [list(df.value.columns) for df in at.dataframe]
    return found[0]


def _kpis(db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["kpis", "--db", str(db), "--format", "json", "--from", str(FROM), "--to", str(TO)]) == 0
    return json.loads(capsys.readouterr().out, parse_float=Decimal)


@pytest.mark.slow  # an AppTest run plus `kpis` (or a signed-in run): over 5 s
def test_the_tiles_are_the_hand_computed_figures_and_the_kpis_json(fc_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    at = _app(fc_db, monkeypatch)
    _no_errors(at)
    assert at.title[0].value == "Forecast"
    shown = _tiles(at)
    kpis = _kpis(fc_db, capsys)
    assert kpis["forecast"]["closed_won"] == Decimal("200")  # D5
    assert kpis["forecast"]["commit"] == Decimal("400")  # D6 (D9 is expected in September)
    assert kpis["forecast"]["best_case"] == Decimal("250")  # D7
    assert kpis["forecast"]["pipeline"] == Decimal("150")  # D8, no category
    assert kpis["forecast"]["weighted"] == pytest.approx(475)  # 400 × 0.8 + 250 × 0.5 + 150 × 0.2
    for key in TILES:
        k = KPI_BY_KEY[key]
        assert shown[k.label.en] == format_value(float(kpis["forecast"][k.name]), k.format, "en", compact=True)
    # the company's quarter (not June's month target): 200 of 1000, on a 1000 path to date
    assert shown["Target"] == "¥1,000" and shown["Actual"] == "¥200"
    assert shown["Attainment"] == "20.0%" and shown["Pace"] == "20.0%"
    assert shown["Coverage"] == "1.00×"  # (400 + 250 + 150) ÷ (1000 − 200)
    assert shown["Open pipeline expected"] == "¥800"
    targets = _table(at, "level")
    assert len(targets) == len(kpis["targets"]["rows"]) == 4
    assert sorted(targets["attainment"].round(4)) == sorted(
        round(float(r["attainment"]), 4) for r in kpis["targets"]["rows"])
    pc = kpis["pipeline_change"]
    assert (pc["start_date"], pc["end_date"]) == ("2024-04-01", "2024-06-24")
    assert (pc["start"], pc["end"]) == (Decimal("1670"), Decimal("1500"))


def test_the_goal_line_ends_at_the_targets_actual(fc_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import forecast_data as fd

    at = _app(fc_db, monkeypatch)
    _no_errors(at)
    target = fd.Target("company", None, "quarter", d(2024, 4, 1), "booked", Decimal(1000), Decimal(200), 0.2, 1000.0,
                       0.2)
    line = fd.goal_line(target, [(d(2024, 5, 15), Decimal(200))], TO)
    assert len(line) == 91  # every day of Q2
    assert line["actual"].iloc[-1] == 200.0 and line["actual"].iloc[44] == 200.0  # from 15 May (day 45) on
    assert line["actual"].iloc[43] == 0.0
    assert line["goal"].iloc[0] == pytest.approx(1000 / 91) and line["goal"].iloc[-1] == pytest.approx(1000)
    short = fd.goal_line(target, [(d(2024, 5, 15), Decimal(200))], d(2024, 5, 1))
    assert short["actual"].notna().sum() == 31  # 1 April … 1 May: nothing drawn after `to`


def test_the_stage_table_flags_small_samples(fc_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(fc_db, monkeypatch)
    _no_errors(at)
    stages = _table(at, "stage", "decided")
    lead = stages[stages["stage"] == "lead"].iloc[0]
    # decided: D1 won, D3 won, D5 won, D2 lost, all reaching lead: 3 / 4, fewer than 30 deals
    assert (lead["decided"], lead["won"]) == (4, 3)
    assert lead["learned"] == pytest.approx(0.75) and bool(lead["few_deals"]) is True
    assert lead["learned_lo"] < 0.75 < lead["learned_hi"]
    assert at.caption and any("fewer than 30 decided deals" in c.value for c in at.caption)


def test_the_waterfall_drill_down_lists_exactly_the_deals_of_the_bar(fc_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     downloads: dict[str, Any]) -> None:
    at = _app(fc_db, monkeypatch)
    for bucket, deals in BUCKET_DEALS.items():
        at.selectbox(key="pc_bucket_en").set_value(bucket).run()
        _no_errors(at)
        rows = _table(at, "deal_id", "bucket")
        assert list(rows["deal_id"]) == deals, bucket
        assert set(rows["bucket"]) == {BUCKET_EN[bucket]}
    # the last bar's table is downloadable as shown: lost D4, 80
    csv = downloads["pipeline_lost.csv"]().decode("utf-8-sig")
    assert "D4" in csv and "80" in csv


def test_a_click_on_a_bar_picks_its_bucket() -> None:
    from ui import forecast_data as fd

    # bars: start, created, pulled in, increased, decreased, pushed out, won, lost, end
    assert fd.bucket_of_points([{"point_index": 5}]) == "pushed_out"
    assert fd.bucket_of_points([{"point_index": 1}]) == "created"
    assert fd.bucket_of_points([{"point_index": 0}]) is None and fd.bucket_of_points([{"point_index": 8}]) is None
    assert fd.bucket_of_points([]) is None
    bars = fd.waterfall_bars({"start": Decimal(1670), "created": Decimal(250), "pulled_in": Decimal(150),
                              "increased": Decimal(100), "decreased": Decimal(300), "pushed_out": Decimal(90),
                              "won": Decimal(200), "lost": Decimal(80), "end": Decimal(1500)})
    assert bars is not None
    assert list(bars["value"]) == [1670, 250, 150, 100, -300, -90, -200, -80, 1500]
    assert sum(bars["value"][:-1]) == bars["value"].iloc[-1]  # the relative bars land on the end


def test_the_slipped_deals_and_chosen_snapshot_days(fc_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(fc_db, monkeypatch)
    _no_errors(at)
    assert not [df for df in at.dataframe if "times_pushed" in df.value.columns]  # listed when asked for
    at.toggle(key="fc_list_slipped").set_value(True).run()
    _no_errors(at)
    slipped = _table(at, "deal_id", "times_pushed")
    assert list(zip(slipped["deal_id"], slipped["times_pushed"], strict=True)) == [("D9", 2)]  # 06-15 → 06-28 → 09-01
    assert at.selectbox(key="snap_to").value is None  # the days come from the period until one is chosen
    # a link naming a day (the widget is bound to ?snap_to=) opens with it chosen
    at = dashboard_app(fc_db, monkeypatch)
    at.query_params["lang"] = "English"
    at.query_params["period"] = [FROM.isoformat(), TO.isoformat()]
    at.query_params["snap_to"] = MID.isoformat()
    at.run()
    at.switch_page(PAGE).run()
    _no_errors(at)
    assert at.selectbox(key="snap_to").value == MID.isoformat()
    # S1 → MID: D9 pushed to 06-28 stays in Q2 (in window both days, same amount: in no bucket); the
    # other deals in window at S1 have no MID row: absent, so lost
    at.selectbox(key="pc_bucket_en").set_value("lost").run()
    lost = _table(at, "deal_id", "bucket")
    assert sorted(lost["deal_id"]) == ["D10", "D4", "D5", "D6"]  # 1000, 80, 200, 300
    assert any("as they stood on 2024-04-01 and on 2024-05-06" in c.value for c in at.caption)


def test_the_page_in_chinese(fc_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(fc_db, monkeypatch, lang="中文")
    _no_errors(at)
    assert at.title[0].value == "销售预测"
    shown = _tiles(at)
    assert list(shown)[:5] == ["已赢单", "确定成交", "最佳情况", "预计管道", "加权管道"]
    assert shown["达成率"] == "20.0%" and shown["覆盖率"] == "1.00×"
    assert set(_table(at, "level")["level"]) == {"公司", "区域", "销售"}  # codes in words
    assert at.selectbox(key="fc_target_zh").format_func(0).startswith("公司 · 季度")  # the quarter of the company
    subheaders = [s.value for s in at.subheader]
    assert "商机管道变化" in subheaders and "各阶段历史赢单率" in subheaders
    at.selectbox(key="pc_bucket_zh").select_index(5).run()  # won (the test's thread formats options in English)
    assert set(_table(at, "deal_id", "bucket")["bucket"]) == {"赢单"}


@pytest.mark.slow  # an AppTest run plus `kpis` (or a signed-in run): over 5 s
def test_a_rep_sees_their_own_targets_and_open_deals(fc_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text('[users."wang@example.com"]\nrole = "rep"\nrep_id = "R1"\n', encoding="utf-8")
    at = _app(fc_db, monkeypatch, roles=roles, email="wang@example.com")
    _no_errors(at)
    assert "Your targets and pace" in [s.value for s in at.subheader]
    targets = _table(at, "level")
    assert list(targets["level"]) == ["Rep"]  # their own row only (no company, region or other rep)
    shown = _tiles(at)
    assert shown["Target"] == "¥500" and shown["Attainment"] == "40.0%"  # D5 200 of 500
    assert shown["Closed won"] == "¥200" and shown["Commit"] == "¥400" and shown["Best case"] == "¥0"
    open_deals = _table(at, "forecast_category")
    assert list(open_deals["deal_id"]) == ["D6"]  # R1's only deal expected in Q2 (D7, D8, D10 are R2's)


def test_the_overview_shows_the_company_target_and_the_forecast_against_it(fc_db: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboard_app(fc_db, monkeypatch)
    at.query_params["lang"] = "English"
    at.query_params["period"] = [FROM.isoformat(), TO.isoformat()]
    at.run()
    _no_errors(at)
    assert "Company target" in [s.value for s in at.subheader]
    shown = _tiles(at)
    assert shown["Attainment"] == "20.0%" and shown["Pace"] == "20.0%"  # 200 of 1000, 1000 expected by 30 June
    assert shown["Closed won + commit"] == "¥600"  # D5 200 + D6 400 over Q2
    assert shown["Closed won + commit vs target"] == "60.0%"  # 600 / 1000
    assert any("Coverage of the rest: 1.00×" in c.value for c in at.caption)  # 800 / (1000 − 200)
    at.multiselect(key="region").set_value(["东区"]).run()  # a region filter keeps no company row
    _no_errors(at)
    assert "Company target" not in [s.value for s in at.subheader]
