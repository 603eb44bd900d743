"""The Data page through AppTest: upload, detection, rejects before loading, load, history, mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from b2bmetrics.store import Store
from tests.conftest import ROOT, SAMPLES, write_db
from tests.pages_fixtures import fixture_rows


@pytest.fixture
def data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, Path]:
    db = write_db(tmp_path / "data.duckdb", fixture_rows())
    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, db


def _upload(at: AppTest, *paths: Path) -> None:
    at.get("file_uploader")[0].set_value([(p.name, p.read_bytes(), "text/csv") for p in paths]).run()
    assert not at.exception, [e.value for e in at.exception]


def _deals(db: Path) -> int:
    con = Store.at(db).read_connection()
    try:
        row = con.execute("SELECT count(*) FROM deals").fetchone()
        return int(row[0]) if row else -1
    finally:
        con.close()


def test_upload_shows_detection_and_loads_with_history(data_page: tuple[AppTest, Path]) -> None:
    at, db = data_page
    _upload(at, SAMPLES / "hubspot_deals.csv", SAMPLES / "客户_gbk.csv")
    titles = [e.label for e in at.expander]
    assert any("hubspot_deals.csv" in t and "deals" in t for t in titles), titles
    assert any("客户_gbk.csv" in t and "accounts" in t for t in titles), titles
    assert "gb18030" in [m.value for m in at.metric]  # the detected encoding of the GBK file
    at.button(key="data_load").click().run()
    assert not at.exception
    done = " ".join(s.value for s in at.success)
    assert "120 rows loaded" in done and "40 rows loaded" in done  # samples/README.md
    assert _deals(db) == 120


def test_rejects_are_shown_before_loading_and_nothing_changes(data_page: tuple[AppTest, Path]) -> None:
    at, db = data_page
    before = _deals(db)
    _upload(at, SAMPLES / "bad" / "deals_negative_amount.csv")
    assert any("1 rows would be rejected" in w.value for w in at.warning)
    rejects = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert rejects.loc[0, "row"] == 3 and rejects.loc[0, "column"] == "amount"
    at.button(key="data_load").click().run()
    assert any("row 3" in e.value and "amount" in e.value for e in at.error), [e.value for e in at.error]
    assert _deals(db) == before


def test_saved_mapping_is_written_for_the_next_upload(data_page: tuple[AppTest, Path]) -> None:
    at, db = data_page
    _upload(at, SAMPLES / "salesforce_opportunities.csv")
    at.button(key="data_save_map_0").click().run()
    saved = db.parent / "mappings" / "deals.toml"
    assert saved.exists()
    text = saved.read_text(encoding="utf-8")
    assert 'table = "deals"' in text and "Opportunity ID" in text


def test_uploaded_file_names_are_sanitised(data_page: tuple[AppTest, Path]) -> None:
    at, db = data_page
    content = (SAMPLES / "canonical" / "reps.csv").read_bytes()
    at.get("file_uploader")[0].set_value(("../../reps.csv", content, "text/csv")).run()
    assert not at.exception
    uploads = db.parent / "uploads"
    written = [p for p in uploads.rglob("*") if p.is_file()]
    assert written and all(uploads in p.parents for p in written)
    assert not (db.parent.parent / "reps.csv").exists()


def test_the_tables_speak_the_chosen_language(data_page: tuple[AppTest, Path]) -> None:
    """Headers of the quality table and the column table come from the registry (the fixture has no load log)."""
    import json

    at, _db = data_page
    at.segmented_control(key="lang").set_value("中文").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = {name: cfg.get("label") for d in at.dataframe for name, cfg in json.loads(d.proto.columns).items()}
    assert labels["table_name"] == "数据表" and labels["orphans"] == "孤立记录" and labels["non_null"] == "非空数"
    assert labels["completeness"] == "完整度" and labels["distinct"] == "不同值个数"
