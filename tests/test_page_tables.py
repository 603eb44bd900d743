"""Every table and chart a page shows, as a reader meets it (AppTest), in English and in 中文.

On the pages' fixture database and on a demo database with data in every table the pages read
(and a load log with rejects), each page is opened and its choices gone through (every breakdown,
a funnel stage, an upload with rejects). Then for every dataframe and data editor: no header is an
internal name (`entered_lead`, `csat_n`, `rep_id`…), in 中文 no header is left in English, no cell
reads "None", "nan", "NaT" or "<NA>", and missing values show as empty cells; chart axis titles,
legend names and tile labels are held to the same rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from b2bmetrics.registry import COLUMNS, KPI_BY_KEY, KPI_COLUMNS
from b2bmetrics.schema import TABLES
from tests.conftest import ROOT, SAMPLES, write_db
from tests.pages_fixtures import fixture_rows

PAGES = ["overview", "funnel", "churn", "satisfaction", "commission", "accounts", "data"]
LANGS = ["English", "中文"]
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
INTERNAL = ({c.name for t in TABLES.values() for c in t.columns} | set(COLUMNS) | set(KPI_COLUMNS)
            | {k.name for k in KPI_BY_KEY.values()} | set(KPI_BY_KEY))
BAD_CELLS = {"None", "none", "nan", "NaN", "NaT", "<NA>", "null"}
# English labels whose Chinese differs: seen in the Chinese UI, they were left untranslated
ENGLISH_ONLY = ({c.label.en for c in COLUMNS.values() if c.label.en != c.label.zh}
                | {k.label.en for k in KPI_BY_KEY.values() if k.label.en != k.label.zh})
BAD_UPLOAD = SAMPLES / "bad" / "deals_negative_amount.csv"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("tables") / "fixture.duckdb", fixture_rows())


@pytest.fixture(scope="module")
def full_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo (every table the pages read has rows), plus a load with a rejected row, so the
    Data page shows its load history and the rejects of the last load."""
    from b2bmetrics.config import Config
    from b2bmetrics.demo import write_demo
    from b2bmetrics.ingest import ingest
    from b2bmetrics.store import Store

    path = tmp_path_factory.mktemp("tables") / "full.duckdb"
    store = Store.at(path)
    write_demo(store, seed=5, accounts=200)
    ingest(store, [BAD_UPLOAD], Config(), allow_rejects=True, append=True)
    return path


def _header_problem(header: str, lang: str) -> str | None:
    if SNAKE.match(header) or header in INTERNAL:
        return "an internal name"
    if lang == "中文" and header in ENGLISH_ONLY:
        return "English in the Chinese UI"
    return None


def _cell_problems(frame: pd.DataFrame) -> Iterator[str]:
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_datetime64_any_dtype(frame[name]):
            continue
        text = frame[name].dropna().map(lambda v: v.strip() if isinstance(v, str) else v)
        bad = sorted({str(v) for v in text if isinstance(v, str) and v in BAD_CELLS})
        if bad:
            yield f"column {name!r} has cells reading {bad}"


def _problems(at: AppTest, lang: str) -> list[str]:
    found = []
    for i, d in enumerate(at.dataframe):
        where = f"table {i} ({d.key or 'no key'})"
        config: dict[str, Any] = json.loads(d.proto.columns) if d.proto.columns else {}
        frame = d.value
        for name in frame.columns:
            settings = config.get(str(name)) or {}
            if settings.get("hidden"):
                continue
            header = str(settings.get("label") or name)
            problem = _header_problem(header, lang)
            if problem:
                found.append(f"{where}: header {header!r} of column {name!r} is {problem}")
        found += [f"{where}: {p}" for p in _cell_problems(frame)]
        if frame.isna().any().any() and (not d.proto.HasField("placeholder") or d.proto.placeholder != ""):
            found.append(f"{where}: missing values do not show as empty cells (placeholder unset)")
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        titles = [(k, (v.get("title") or {}).get("text")) for k, v in spec.get("layout", {}).items()
                  if k.startswith(("xaxis", "yaxis")) and isinstance(v, dict)]
        names = [("legend", t.get("name")) for t in spec.get("data", []) if t.get("showlegend", True) is not False]
        for what, text in titles + names:
            problem = _header_problem(text, lang) if isinstance(text, str) and text else None
            if problem:
                found.append(f"chart {chart.proto.id.rsplit('-', 1)[-1]}: {what} {text!r} is {problem}")
    for m in at.metric:
        problem = _header_problem(m.label, lang)
        if problem:
            found.append(f"tile {m.label!r} is {problem}")
    return found


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _visit(at: AppTest, page: str) -> Iterator[str]:
    """Open `page` and go through its choices; yield a name for each state to check."""
    at.switch_page(f"app_pages/{page}.py").run()
    _ok(at)
    yield "opened"
    if page == "funnel":
        for by in ("segment", "rep"):
            at.segmented_control(key="funnel_by").set_value(by).run()
            _ok(at)
            yield f"by {by}"
        at.selectbox(key="funnel_stage_pick").select_index(0).run()
        _ok(at)
        yield "the deals behind the first stage"
    if page == "satisfaction":
        for by in ("region", "rep", "month", "segment"):
            at.segmented_control(key="sat_by").set_value(by).run()
            _ok(at)
            yield f"by {by}"
    if page == "data":
        at.get("file_uploader")[0].set_value([(BAD_UPLOAD.name, BAD_UPLOAD.read_bytes(), "text/csv")]).run()
        _ok(at)
        yield "an upload with a rejected row"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("db", ["fixture_db", "full_db"])
def test_every_table_and_chart_reads_as_words(db: str, lang: str, request: pytest.FixtureRequest,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("B2BMETRICS_DB", str(request.getfixturevalue(db)))
    monkeypatch.chdir(ROOT)
    problems, tables = [], 0
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
        at.query_params["lang"] = lang
        at.run()
        _ok(at)
        for state in _visit(at, page):
            tables += len(at.dataframe)
            problems += [f"{page} ({state}): {p}" for p in _problems(at, lang)]
    assert tables >= 20  # every page has been read, with its tables
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_they_are_for() -> None:
    """The rules above flag the names they are meant to."""
    assert _header_problem("entered_lead", "English") and _header_problem("csat_n", "English")
    assert _header_problem("rep_id", "English") and _header_problem("stage", "English")
    assert _header_problem("Win rate", "中文") and not _header_problem("赢单率", "中文")
    assert not _header_problem("Entered · lead", "English") and not _header_problem("MRR", "中文")
    frame = pd.DataFrame({"a": ["x", "None", None], "b": [1.0, None, 2.0]})
    assert list(_cell_problems(frame)) == ["column 'a' has cells reading ['None']"]
