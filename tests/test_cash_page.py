"""The Cash (回款) page through Streamlit's AppTest: hand-computed figures on a tiny dataset, the same
figures as `b2bmetrics kpis --format json`, the call list and its downloads, English and 中文, and a
clear message without payments.

The fixture is the pages' two-region dataset (tests/pages_fixtures.py) plus six payments, looked at
from 2024-01-01 to 2024-06-30 (so `to` = 2024-06-30):

| payment | account | due        | amount due | paid at    | paid | on `to`                                  |
|---------|---------|------------|-----------:|------------|-----:|------------------------------------------|
| P1      | A1 东区 | 2024-03-01 | 100        | 2024-03-05 | 100  | due, paid in full                        |
| P2      | A1 东区 | 2024-05-31 | 60         | 2024-06-10 | 20   | due, 40 overdue for 30 days (1–30)       |
| P3      | A2 西区 | 2024-05-30 | 200        | 2024-07-05 | 200  | due, paid after `to`: 200 overdue, 31 d  |
| P4      | A2 西区 | 2023-12-01 | 50         | —          | —    | due before the period: 50 overdue, 212 d |
| P5      | A2 西区 | —          | —          | 2024-04-10 | 30   | a receipt without a plan                 |
| P6      | A1 东区 | 2024-06-30 | 10         | —          | —    | due on `to` itself: due, not overdue     |
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from b2bmetrics.cli import main
from b2bmetrics.registry import KPI_BY_KEY, column, format_value
from tests.conftest import ROOT, write_db
from tests.pages_fixtures import fixture_rows

D, d = dt.datetime, dt.date
PAGE = "app_pages/cash.py"
FROM, TO = d(2024, 1, 1), d(2024, 6, 30)
PAYMENTS: list[dict[str, Any]] = [
    {"payment_id": "P1", "account_id": "A1", "deal_id": "D1", "due_date": d(2024, 3, 1), "amount_due": 100,
     "paid_at": D(2024, 3, 5, 10), "amount_paid": 100, "rep_id": "R1"},
    {"payment_id": "P2", "account_id": "A1", "deal_id": "D1", "due_date": d(2024, 5, 31), "amount_due": 60,
     "paid_at": D(2024, 6, 10, 9), "amount_paid": 20, "rep_id": "R1"},
    {"payment_id": "P3", "account_id": "A2", "deal_id": "D3", "due_date": d(2024, 5, 30), "amount_due": 200,
     "paid_at": D(2024, 7, 5, 9), "amount_paid": 200, "rep_id": "R2"},
    {"payment_id": "P4", "account_id": "A2", "deal_id": "D3", "due_date": d(2023, 12, 1), "amount_due": 50},
    {"payment_id": "P5", "account_id": "A2", "paid_at": D(2024, 4, 10, 15), "amount_paid": 30},
    {"payment_id": "P6", "account_id": "A1", "deal_id": "D1", "due_date": d(2024, 6, 30), "amount_due": 10},
]
TARGETS: list[dict[str, Any]] = [
    # collected in Q2 2024 (company: every payment): P2 20 on 06-10 + P5 30 on 04-10 = 50 (P3 came in July)
    {"level": "company", "key": None, "period": "quarter", "period_start": d(2024, 4, 1), "basis": "collected",
     "amount": 100},
    {"level": "company", "key": None, "period": "quarter", "period_start": d(2024, 4, 1), "basis": "booked",
     "amount": 500},  # booked: not on this page
]
TILES = ["collection.due", "collection.collected_against_due", "collection.collection_rate", "collection.collected",
         "collection.overdue"]


def cash_rows() -> dict[str, list[dict[str, Any]]]:
    return {**fixture_rows(), "payments": PAYMENTS, "targets": TARGETS}


@pytest.fixture(scope="module")
def cash_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("cash") / "cash.duckdb", cash_rows())


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, *, lang: str = "English") -> AppTest:
    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(PAGE).run()
    return at


def _period(at: AppTest, start: dt.date, end: dt.date) -> AppTest:
    at.date_input(key="period").set_value((start, end)).run()
    return at


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _table(at: AppTest, first_column: str) -> pd.DataFrame:
    found = [df.value for df in at.dataframe if list(df.value.columns)[:1] == [first_column]]
    assert len(found) == 1, [list(df.value.columns) for df in at.dataframe]
    return found[0]


def _kpis(db: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["kpis", "--db", str(db), "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out, parse_float=Decimal)


def _expected_tiles(kpis: dict[str, Any], lang: str = "en") -> dict[str, str]:
    out = {}
    for key in TILES:
        k = KPI_BY_KEY[key]
        value = kpis[k.family][k.name]
        out[k.label.of(lang)] = format_value(float(value) if value is not None else None, k.format, lang,
                                             compact=True)
    return out


def _exact(values: Any) -> Decimal:
    """The exact sum of float cells that each hold an amount with at most 4 decimals."""
    return sum((Decimal(repr(float(v))) for v in values), Decimal(0))


def test_the_page_renders_in_english_and_chinese(cash_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _period(_app(cash_db, monkeypatch), FROM, TO)
    _no_errors(at)
    assert at.title[0].value == "Cash"
    assert list(_tiles(at)) == ["Due", "Collected against due", "Collection rate", "Collected", "Overdue"]
    zh = _period(_app(cash_db, monkeypatch, lang="中文"), FROM, TO)
    _no_errors(zh)
    assert zh.title[0].value == "回款"
    assert list(_tiles(zh)) == ["应回款", "到期已回款", "回款率", "实际回款", "逾期未回款"]
    headers = [c for df in zh.dataframe for c in df.value.columns]
    assert all(column(str(c)) is not None for c in headers), [c for c in headers if column(str(c)) is None]
    assert "over_90" not in " ".join(str(v) for v in _table(zh, "account_name")["aging"])
    assert set(_table(zh, "account_name")["aging"]) == {"90 天以上", "31–60 天", "1–30 天"}


def test_the_tiles_are_the_hand_computed_figures_and_the_kpis_json(cash_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    at = _period(_app(cash_db, monkeypatch), FROM, TO)
    _no_errors(at)
    shown = _tiles(at)
    assert shown == {
        "Due": "¥370",                    # P1 100 + P2 60 + P3 200 + P6 10 (P4 was due before the period)
        "Collected against due": "¥120",  # P1 100 + P2 20; P3 was paid after to, P6 not at all
        "Collection rate": "32.4%",       # 120 / 370 = 0.3243
        "Collected": "¥150",              # P1 100 + P2 20 + P5 30 (P3 came in July)
        "Overdue": "¥290",                # P2 60 − 20 = 40 + P3 200 + P4 50
    }
    assert shown == _expected_tiles(_kpis(cash_db, capsys, "--from", str(FROM), "--to", str(TO)))
    at.multiselect(key="region").select("东区").run()
    _no_errors(at)
    shown = _tiles(at)
    # 东区 is A1: due 100 + 60 + 10 = 170, against 100 + 20 = 120 (70.6%), collected 120, overdue 40
    assert shown == {"Due": "¥170", "Collected against due": "¥120", "Collection rate": "70.6%",
                     "Collected": "¥120", "Overdue": "¥40"}
    assert shown == _expected_tiles(_kpis(cash_db, capsys, "--from", str(FROM), "--to", str(TO),
                                          "--region", "东区"))


def test_the_breakdowns_add_up_to_the_tiles(cash_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _period(_app(cash_db, monkeypatch), FROM, TO)
    regions = _table(at, "region").set_index("region")
    # 东区 (A1): due 170, against 120, overdue 40 (1–30); 西区 (A2): due 200, against 0, collected 30,
    # overdue 200 (31–60) + 50 (over 90)
    assert regions.loc["西区", ["due", "collected_against_due", "collected", "overdue"]].tolist() == [200, 0, 30, 250]
    assert regions.loc["西区", ["aging_1_30", "aging_31_60", "aging_61_90", "aging_over_90"]].tolist() == [0, 200, 0, 50]
    assert regions.loc["东区", ["due", "collected_against_due", "collected", "overdue"]].tolist() == [170, 120, 120, 40]
    assert regions.loc["东区", "collection_rate"] == pytest.approx(120 / 170)
    assert regions["collection_rate"]["西区"] == 0.0  # 0 / 200
    reps = _table(at, "rep_id").set_index("rep_id")
    assert reps.loc["R1", "rep_name"] == "王伟" and reps.loc["R1", "due"] == 170  # R1 owns A1
    assert reps.loc["R2", "rep_name"] == "李娜" and reps.loc["R2", "overdue"] == 250
    months = [m for m in at.get("plotly_chart")]
    assert months, "no charts"


def _plain_overdue(payments: list[dict[str, Any]], to: dt.date) -> list[dict[str, Any]]:
    """CONTRACT §5 read literally: rows due before `to`, amount due − (amount paid when paid by `to`) > 0."""
    out = []
    for p in payments:
        if p.get("due_date") is None or p["due_date"] >= to:
            continue
        paid = p.get("amount_paid") or 0 if p.get("paid_at") and p["paid_at"].date() <= to else 0
        left = p["amount_due"] - paid
        if left > 0:
            days = (to - p["due_date"]).days
            bucket = "1_30" if days <= 30 else "31_60" if days <= 60 else "61_90" if days <= 90 else "over_90"
            out.append({"payment_id": p["payment_id"], "paid_by_to": paid, "outstanding": left, "days_overdue": days,
                        "aging": bucket})
    return sorted(out, key=lambda r: (-r["days_overdue"], -r["outstanding"], r["payment_id"]))


def test_the_overdue_list_is_a_plain_reading_of_the_payments(cash_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _period(_app(cash_db, monkeypatch), FROM, TO)
    listed = _table(at, "account_name")
    expected = _plain_overdue(PAYMENTS, TO)
    # P4 212 days (2023-12-01 → 2024-06-30: 31 + 31 + 29 + 31 + 30 + 31 + 29), P3 31 days, P2 30 days
    assert [r["payment_id"] for r in expected] == ["P4", "P3", "P2"]
    assert listed["payment_id"].tolist() == [r["payment_id"] for r in expected]
    assert listed["days_overdue"].tolist() == [r["days_overdue"] for r in expected] == [212, 31, 30]
    assert listed["outstanding"].tolist() == [r["outstanding"] for r in expected] == [50, 200, 40]
    assert listed["paid_by_to"].tolist() == [r["paid_by_to"] for r in expected] == [0, 0, 20]
    assert listed["aging"].tolist() == ["Over 90 days", "31–60 days", "1–30 days"]
    assert listed["account_name"].tolist() == ["乙公司", "乙公司", "甲公司"]
    assert listed["owner_name"].tolist() == ["李娜", "李娜", "王伟"]  # the accounts' owners
    assert listed["deal_id"].tolist() == ["D3", "D3", "D1"]
    assert [str(v.date()) for v in listed["due_date"]] == ["2023-12-01", "2024-05-30", "2024-05-31"]
    assert any("3 installments overdue on 2024-06-30, ¥290 outstanding" in c.value for c in at.caption)


def test_the_downloads_hold_the_rows_shown(cash_db: Path, monkeypatch: pytest.MonkeyPatch,
                                           downloads: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    at = _period(_app(cash_db, monkeypatch), FROM, TO)
    _no_errors(at)
    listed = _table(at, "account_name")
    csv = pd.read_csv(io.BytesIO(downloads["overdue_installments.csv"]()), encoding="utf-8-sig")
    assert list(csv.columns) == list(listed.columns)
    assert csv["payment_id"].tolist() == listed["payment_id"].tolist() == ["P4", "P3", "P2"]
    assert csv["outstanding"].tolist() == [50, 200, 40]
    assert csv["aging"].tolist() == ["over_90", "31_60", "1_30"]  # codes: the file reads back the same
    sheet = load_workbook(io.BytesIO(downloads["overdue_installments.xlsx"]())).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][:4] == ["Account name", "Deal", "Owner", "Due date"]
    assert [r[-1] for r in cells[1:]] == ["P4", "P3", "P2"]
    assert [r[6] for r in cells[1:]] == [50, 200, 40]  # outstanding
    assert [r[8] for r in cells[1:]] == ["Over 90 days", "31–60 days", "1–30 days"]
    assert cells[1][3] == dt.datetime(2023, 12, 1)
    regions = pd.read_csv(io.BytesIO(downloads["collection_by_region.csv"]()), encoding="utf-8-sig")
    assert regions.set_index("region")["due"].to_dict() == {"东区": 170, "西区": 200}


def test_collected_cash_against_its_targets(cash_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _period(_app(cash_db, monkeypatch), FROM, TO)
    targets = _table(at, "key")
    assert len(targets) == 1  # the booked target is not shown
    row = targets.iloc[0]
    # actual: P5 30 (04-10) + P2 20 (06-10) = 50 of 100; the quarter is over on to: e = n = 91 days
    assert (row["key"], row["target"], row["actual"]) == ("Company", 100, 50)
    assert row["attainment"] == pytest.approx(0.5) and row["pace"] == pytest.approx(0.5)
    assert row["expected_to_date"] == 100


def test_a_filter_with_nothing_in_it_says_so(cash_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _period(_app(cash_db, monkeypatch), d(2025, 1, 1), d(2025, 3, 31))
    _no_errors(at)
    # overdue on 2025-03-31: P2 40 + P4 50 + P6 10 (P3 was paid by then): the page still has something to show
    assert _tiles(at)["Overdue"] == "¥100"
    at.multiselect(key="segment").select("大型企业").run()
    at.multiselect(key="region").select("西区").run()  # 大型企业 is A1, in 东区: nothing left
    _no_errors(at)
    assert any("Nothing matches these filters" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_without_payments_the_page_says_what_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = write_db(tmp_path / "no_payments.duckdb", fixture_rows())
    at = _app(db, monkeypatch)
    _no_errors(at)
    assert any("No payments loaded yet" in i.value and "payments" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.metric and not at.dataframe
    zh = _app(db, monkeypatch, lang="中文")
    assert any("尚未加载回款数据" in i.value for i in zh.info)


@pytest.mark.slow
def test_on_the_demo_every_figure_equals_the_kpis_json(demo_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    start, end = d(2026, 1, 1), d(2026, 6, 30)
    everything = _kpis(demo_db, capsys, "--from", str(start), "--to", str(end))
    at = _period(_app(demo_db, monkeypatch), start, end)
    _no_errors(at)
    assert _tiles(at) == _expected_tiles(everything)
    regions = _table(at, "region").set_index("region")
    region = sorted(r for r in regions.index if not r.startswith("("))[0]
    one = _kpis(demo_db, capsys, "--from", str(start), "--to", str(end), "--region", region)["collection"]
    assert one["due"] > 0 and one["overdue"] > 0  # the filter set has something in every figure
    for name in ("due", "collected_against_due", "collected", "overdue"):
        assert _exact(regions[name]) == everything["collection"][name], name  # the regions add up exactly
        assert Decimal(repr(float(regions.loc[region, name]))) == one[name], name  # each is its filtered JSON
    for key in ("1_30", "31_60", "61_90", "over_90"):
        assert _exact(regions[f"aging_{key}"]) == everything["collection"]["overdue_aging"][key]
    assert _exact(_table(at, "account_name")["outstanding"]) == everything["collection"]["overdue"]
    assert _exact(_table(at, "rep_id")["due"]) == everything["collection"]["due"]
    at.multiselect(key="region").select(region).run()
    _no_errors(at)
    assert _tiles(at) == _expected_tiles({"collection": one})
    listed = _table(at, "account_name")
    assert _exact(listed["outstanding"]) == one["overdue"]
    assert listed["days_overdue"].is_monotonic_decreasing and listed["days_overdue"].min() >= 1
    targets = _table(at, "key")
    collected = [r for r in _kpis(demo_db, capsys, "--from", str(start), "--to", str(end), "--region",
                                  region)["targets"]["rows"] if r["basis"] == "collected"]
    # the first level (company, region, team, rep) and period type (month, quarter, year) present are shown
    level = next(v for v in ("company", "region", "team", "rep") if any(r["level"] == v for r in collected))
    period = next(v for v in ("month", "quarter", "year") if any(r["level"] == level and r["period"] == v
                                                                  for r in collected))
    expected = [r for r in collected if r["level"] == level and r["period"] == period]
    assert level == "region" and len(targets) == len(expected) > 0
    assert _exact(targets["actual"]) == sum((r["actual"] for r in expected), Decimal(0))
    assert _exact(targets["target"]) == sum((r["target"] for r in expected), Decimal(0))
