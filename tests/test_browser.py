"""The app as a person uses it: a real headless Chromium against `streamlit run serve.py` (as `make run`).

Skipped only where Debian's Chromium is missing (and never in CI, where `.ci/run` installs it).
Screenshots of every page land in tests/screenshots/ for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1500, "height": 1100}
PAGES = ["overview", "funnel", "forecast", "churn", "satisfaction", "commission", "accounts", "data"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing in CI: .ci/run should have installed it")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from b2bmetrics.demo import write_demo
    from b2bmetrics.store import Store

    db = tmp_path_factory.mktemp("browser") / "demo.duckdb"
    write_demo(Store.at(db), seed=3, accounts=300)
    port = _free_port()
    env = {**os.environ, "B2BMETRICS_DB": str(db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (proc.stdout.read().decode() if proc.stdout else ""))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def browser_page(browser: Browser) -> Page:
    return browser.new_page(viewport=VIEWPORT)


def settle(page: Page, timeout_s: float = 60) -> None:
    """Wait until the page has a title and no script run has been in progress for a second.

    The app's `data-test-script-state` says whether a run is in progress; the status widget alone
    does not (with `toolbarMode = "minimal"` it never shows "Running…").
    """
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    page.wait_for_selector("h1", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.locator('[data-testid="stApp"]').first.get_attribute("data-test-script-state")
        running = state == "running" or page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return
        page.wait_for_timeout(100)
    pytest.fail("the app kept running for a minute")


def tile(page: Page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def assert_no_exception(page: Page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def test_deep_link_on_a_fresh_server_has_the_sidebar(server: str, browser_page: Page) -> None:
    # the very first session of the server opens a page by its URL
    browser_page.goto(f"{server}/funnel")
    settle(browser_page)
    # the first run of a fresh server reruns itself into dashboard.py (ui/page.py): wait for that run's
    # sidebar rather than sample the page once, which on a cold machine can fall between the two runs
    browser_page.locator('[data-testid="stSidebar"]').get_by_text("Region").first.wait_for(timeout=30_000)
    settle(browser_page)
    assert_no_exception(browser_page)
    assert browser_page.locator("h1").first.inner_text() == "Funnel"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders(server: str, browser_page: Page, name: str) -> None:
    # the overview is the default page: its address is the app's root, as the navigation links it
    browser_page.goto(f"{server}/{'' if name == 'overview' else name}")
    settle(browser_page)
    assert_no_exception(browser_page)
    assert browser_page.locator("h1").count() >= 1
    assert browser_page.get_by_text("Page not found").count() == 0
    SHOTS.mkdir(exist_ok=True)
    browser_page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_region_filter_changes_numbers_and_a_copied_url_reproduces_them(server: str, browser: Browser,
                                                                       browser_page: Page) -> None:
    browser_page.goto(server)
    settle(browser_page)
    before = tile(browser_page, "Won revenue")
    region = browser_page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    region.click()
    browser_page.locator('[role="option"]:not([data-key="__select_all__"])').first.click()
    browser_page.keyboard.press("Escape")
    browser_page.wait_for_url("**region=*", timeout=30_000)
    browser_page.wait_for_function(
        """before => [...document.querySelectorAll('[data-testid="stMetric"]')]
             .some(m => m.innerText.includes('Won revenue') && !m.innerText.includes(before))""",
        arg=before, timeout=30_000)
    settle(browser_page)
    after = tile(browser_page, "Won revenue")
    assert after != before, "the region filter did not change won revenue"
    copied = browser_page.url
    assert "region=" in copied
    fresh = browser.new_page(viewport=VIEWPORT)
    fresh.goto(copied)
    settle(fresh)
    assert tile(fresh, "Won revenue") == after
    chosen = fresh.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.inner_text()
    assert chosen.strip(), "the copied URL did not restore the region"
    fresh.close()


def test_language_switch(server: str, browser_page: Page) -> None:
    browser_page.goto(f"{server}/funnel")
    settle(browser_page)
    browser_page.get_by_text("中文", exact=True).click()
    settle(browser_page)
    assert browser_page.locator("h1").first.inner_text() == "销售漏斗"
    SHOTS.mkdir(exist_ok=True)
    browser_page.screenshot(path=str(SHOTS / "funnel_zh.png"), full_page=True)


def test_cash_page_in_english_and_chinese(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/cash")
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "Cash"
    assert tile(page, "Collection rate").endswith("%")
    assert page.get_by_text("Overdue installments: the call list").count() == 1
    charts = page.locator('[data-testid="stPlotlyChart"], .stPlotlyChart')
    charts.nth(3).wait_for(state="attached", timeout=30_000)  # Plotly's bundle loads lazily after the run
    assert charts.count() >= 4  # months, two rates, aging
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "cash.png"), full_page=True)
    page.get_by_text("中文", exact=True).click()
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "回款"
    assert tile(page, "回款率").endswith("%")
    page.screenshot(path=str(SHOTS / "cash_zh.png"), full_page=True)
    page.close()


def test_upload_a_sample_export_on_the_data_page(server: str, browser_page: Page, tmp_path: Path) -> None:
    sample = tmp_path / "hubspot_deals.csv"
    shutil.copy(SAMPLES / "hubspot_deals.csv", sample)
    browser_page.goto(f"{server}/data")
    settle(browser_page)
    browser_page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(sample))
    settle(browser_page)
    assert_no_exception(browser_page)
    # the detected table and the file's 120 rows (samples/README.md)
    assert browser_page.get_by_text("deals", exact=False).count() >= 1
    assert browser_page.get_by_text("120", exact=True).count() >= 1
    browser_page.get_by_role("button", name="Load", exact=True).click()
    settle(browser_page)
    assert_no_exception(browser_page)
    assert browser_page.get_by_text("120 rows loaded").count() >= 1
    SHOTS.mkdir(exist_ok=True)
    browser_page.screenshot(path=str(SHOTS / "data_upload.png"), full_page=True)


def test_accounts_page_checks_the_health_score_in_english_and_chinese(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/accounts")
    settle(page, timeout_s=120)  # the first visit scores every month-end of the demo (cached after)
    assert_no_exception(page)
    section = page.get_by_text("Is the score right?", exact=True)
    assert section.count() == 1
    auc = float(tile(page, "AUC"))
    assert 0.0 <= auc <= 1.0
    assert page.get_by_text("Which factors separate churners").count() == 1
    charts = page.locator('[data-testid="stPlotlyChart"], .stPlotlyChart')
    charts.last.wait_for(state="attached", timeout=30_000)  # Plotly's bundle loads lazily after the run
    section.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "accounts_score_check.png"))
    page.get_by_text("Which factors separate churners").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "accounts_score_factors.png"))
    page.get_by_text("中文", exact=True).click()
    settle(page, timeout_s=120)
    assert_no_exception(page)
    zh = page.get_by_text("健康分准吗？", exact=True)
    assert zh.count() == 1
    assert float(tile(page, "AUC")) == auc  # the same cached result, in the other language
    zh.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "accounts_score_check_zh.png"))
    page.close()


def test_forecast_page_in_english_and_chinese(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/forecast")
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "Forecast"
    assert tile(page, "Weighted pipeline").startswith("¥")
    assert page.get_by_text("How the pipeline changed").count() == 1
    charts = page.locator('[data-testid="stPlotlyChart"], .stPlotlyChart')
    charts.nth(3).wait_for(state="attached", timeout=30_000)  # goal line, stack, stages, waterfall
    assert charts.count() >= 4
    # a click on a waterfall bar lists its deals (the bar's own bucket is chosen below the chart)
    waterfall = charts.last
    waterfall.scroll_into_view_if_needed()
    bar = waterfall.locator("g.point path, .waterfall .point path").nth(1)  # "Created"
    bar.wait_for(state="attached", timeout=30_000)
    bar.click(force=True)
    settle(page)
    assert_no_exception(page)
    # the drill-down names the bar's deals and lists them under the chart
    page.get_by_text(re.compile(r"^[\d,]+ deals, .+ in all\.$")).first.wait_for(timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 5600})  # the whole page in one shot
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "forecast_full.png"), full_page=True)
    page.get_by_text("中文", exact=True).click()
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "销售预测"
    assert tile(page, "加权管道").startswith("¥")
    page.locator('[data-testid="stPlotlyChart"], .stPlotlyChart').nth(3).wait_for(state="attached", timeout=30_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "forecast_zh.png"), full_page=True)
    page.close()


def test_churn_page_bridge_and_its_accounts_in_english_and_chinese(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/churn")
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "Churn & retention"
    assert tile(page, "Net new MRR").startswith(("¥", "-¥"))
    assert page.get_by_text("MRR bridge", exact=True).count() == 1
    charts = page.locator('[data-testid="stPlotlyChart"], .stPlotlyChart')
    charts.nth(5).wait_for(state="attached", timeout=30_000)  # bridge, months, monthly rates, two cohorts, KM
    assert charts.count() >= 6
    # a click on the bridge's churn bar lists the churned accounts under the charts
    bridge = charts.first
    bridge.scroll_into_view_if_needed()
    bar = bridge.locator("g.point path, .waterfall .point path").nth(5)  # start, new, reactivation, expansion,
    bar.wait_for(state="attached", timeout=30_000)                          # contraction, churn
    bar.click(force=True)
    settle(page)
    assert_no_exception(page)
    page.get_by_text(re.compile(r"^[\d,]+ accounts; Churn: .+\.$")).first.wait_for(timeout=30_000)
    # a click on a month's bar lists that movement's accounts in that month
    months = charts.nth(1)
    months.scroll_into_view_if_needed()
    new_bars = months.locator("g.trace.bars").first.locator("g.point path")  # the first trace: new MRR
    new_bars.first.wait_for(state="attached", timeout=30_000)
    tallest = max(range(new_bars.count()), key=lambda i: (new_bars.nth(i).bounding_box() or {"height": 0})["height"])
    new_bars.nth(tallest).click(force=True)
    settle(page)
    assert_no_exception(page)
    page.get_by_text(re.compile(r"^[\d,]+ accounts; New: .+\.$")).first.wait_for(timeout=30_000)
    assert page.get_by_text(re.compile(r"^\d{4}-\d{2}$")).count() >= 1  # the month chosen by the click
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 5200})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "churn_bridge.png"), full_page=True)
    page.set_viewport_size(VIEWPORT)
    page.get_by_text("中文", exact=True).click()
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "流失与留存"
    assert tile(page, "快速比率")
    assert page.get_by_text("MRR 变动桥", exact=True).count() == 1
    page.locator('[data-testid="stPlotlyChart"], .stPlotlyChart').nth(5).wait_for(state="attached", timeout=30_000)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 5200})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "churn_bridge_zh.png"), full_page=True)
    page.close()


def test_commission_page_basis_side_by_side_in_english_and_chinese(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/commission")
    settle(page)
    assert_no_exception(page)
    assert page.get_by_text("Basis: Booked").count() == 1
    heading = page.get_by_text("What if: paid on booked or on collected cash", exact=True)
    assert heading.count() == 1
    assert tile(page, "Payout, booked basis").startswith("¥") and tile(page, "Payout, collected basis").startswith("¥")
    assert tile(page, "Payout, booked basis") == tile(page, "Commission payout")  # the demo's plan pays on booked
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "commission_basis.png"))
    page.get_by_text("中文", exact=True).click()
    settle(page)
    assert_no_exception(page)
    assert page.get_by_text("口径: 签约口径").count() == 1
    zh = page.get_by_text("假设分析：签约口径与回款口径对比", exact=True)
    assert zh.count() == 1
    zh.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "commission_basis_zh.png"))
    page.close()
