"""Sign-in as a person does it: headless Chromium, `streamlit run serve.py` and a real OpenID Connect
provider (`oidc-provider-mock`) on loopback, all started here.

Nothing is injected: the browser presses the app's Sign in button, Streamlit redirects it to the
provider's authorization form, the test types the person's email there (the provider puts it in the
ID token's `email` claim), the provider redirects to Streamlit's /oauth2callback, Streamlit
exchanges the code for tokens, checks the ID token and sets its signed session cookie, and every
page run after that reads `st.user` from that cookie. The app then matches the email against the
roles file (b2bmetrics/access.py) and cuts the data to the person's scope.

The server reads its own temporary secrets (Streamlit's `secrets.files` option) and roles file
(`$B2BMETRICS_ROLES`); the repository's .streamlit/ and the user's home are not touched.

What "expired" means here: Streamlit keeps a session in one signed cookie (`_streamlit_user`),
set with Max-Age 30 days; the server refuses a cookie whose signature is older than that (plus one
day of grace), whatever the browser sends. Streamlit does not look at the ID token's own `exp`
(its docs say so), so the provider's token lifetime does not end a session; the cookie's age does.
The test re-signs the person's real cookie with the server's secret and a timestamp 32 days old.

Skipped only where Debian's Chromium is missing (and never in CI, where `.ci/run` installs it).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing in CI: .ci/run should have installed it")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)", allow_module_level=True)

import oidc_provider_mock  # noqa: E402
import werkzeug.serving  # noqa: E402
from itsdangerous import TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402
from streamlit.web.server.starlette.starlette_server_config import (  # noqa: E402
    AUTH_COOKIE_MAX_AGE_SECONDS,
    USER_COOKIE_NAME,
)

from b2bmetrics.access import Scope  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CEO = "ceo@example.com"
MANAGER = "li.na@example.com"
REP = "wang.wei@example.com"
STRANGER = "stranger@example.com"  # signs in at the provider, but the roles file does not know them
TILES = ("funnel.won_amount", "funnel.win_rate")  # two of the overview's tiles, compared with `kpis`
DAY_S = 24 * 60 * 60


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class World:
    """The running app and provider, and what the test configured them with."""

    url: str  # the dashboard
    provider: str  # the OpenID Connect provider (issuer)
    db: Path
    cookie_secret: str
    scopes: dict[str, Scope]  # email -> the scope the roles file gives


def set_claims(provider: str, sub: str, claims: dict[str, Any]) -> None:
    """What the provider puts in the ID token of subject `sub` (oidc-provider-mock's PUT /users/sub)."""
    request = urllib.request.Request(f"{provider}/users/{urllib.parse.quote(sub)}", method="PUT",
                                     data=json.dumps(claims).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 204


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """oidc-provider-mock on loopback, in a thread of this process: any client id and secret, and
    any subject typed into its form becomes a user whose `email` claim is that subject."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    # the executive's provider vouches for their address, as Google does; the others' claims are the
    # mock's default for a subject typed into its form: just `email` (= the subject), as Entra ID
    set_claims(url, CEO, {"email": CEO, "email_verified": True, "name": "Chief Executive"})
    yield url
    server.shutdown()
    thread.join(5)
    server.server_close()


def _people(db: Path) -> tuple[str, str]:
    """A region for the manager and a rep of another region (the rep with the most deals)."""
    from b2bmetrics.store import Store

    con = Store.at(db).read_connection()
    try:
        row = con.execute("SELECT d.owner_rep_id, r.region FROM deals d JOIN reps r ON r.rep_id = d.owner_rep_id "
                          "GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()
        assert row is not None
        rep_id, rep_region = row
        other = con.execute("SELECT region FROM accounts WHERE region <> ? GROUP BY 1 ORDER BY count(*) DESC, 1 "
                            "LIMIT 1", [rep_region]).fetchone()
        assert other is not None
        return str(other[0]), str(rep_id)
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[World]:
    from b2bmetrics.demo import write_demo
    from b2bmetrics.store import Store

    home = tmp_path_factory.mktemp("signin")
    db = home / "demo.duckdb"
    write_demo(Store.at(db), seed=3, accounts=120)
    region, rep_id = _people(db)
    roles = home / "roles.toml"
    roles.write_text(f'[users."{CEO}"]\nrole = "executive"\n\n'
                     f'[users."{MANAGER}"]\nrole = "manager"\nregions = ["{region}"]\n\n'
                     f'[users."{REP}"]\nrole = "rep"\nrep_id = "{rep_id}"\n', encoding="utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cookie_secret = secrets.token_hex(32)
    secrets_file = home / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        'client_id = "b2bmetrics-test"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n', encoding="utf-8")
    env = {**os.environ, "B2BMETRICS_DB": str(db), "B2BMETRICS_ROLES": str(roles)}
    log = (home / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--secrets.files", str(secrets_file)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (home / "streamlit.log").read_text(errors="replace"))
    if proc.poll() is not None:
        pytest.fail("streamlit exited: " + (home / "streamlit.log").read_text(errors="replace"))
    scopes = {CEO: Scope("executive"), MANAGER: Scope("manager", regions=(region,)),
              REP: Scope("rep", rep_id=rep_id)}
    yield World(url, provider, db, cookie_secret, scopes)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


# ---- driving the app --------------------------------------------------------------------------

def settle(page: Page, timeout_s: float = 60) -> None:
    """Wait until the page has a title and no script run has been in progress for a second
    (as tests/test_browser.py)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    page.wait_for_selector("h1", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.locator('[data-testid="stApp"]').first.get_attribute("data-test-script-state",
                                                                          timeout=timeout_s * 1000)
        running = state == "running" or page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return
        page.wait_for_timeout(100)
    pytest.fail("the app kept running for a minute")


def assert_title(page: Page, expected: str) -> None:
    """The page's title is `expected` (waiting out a rerun that redraws the page on a busy machine)."""
    expect(page.locator("h1").first).to_have_text(expected, timeout=60_000)


def assert_no_exception(page: Page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.first.inner_text()


def assert_sign_in_page(page: Page) -> None:
    """The sign-in page and nothing else: no figure, no filter, no navigation, no signed-in name."""
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    settle(page)
    assert_title(page, "Sign in")
    assert page.get_by_text("Page not found").count() == 0  # a page's address opened signed out
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert page.get_by_text("Signed in as").count() == 0
    assert page.get_by_role("button", name="Sign out").count() == 0


def new_context(browser: Browser) -> BrowserContext:
    """A browser profile of its own (its own cookies), as another person's laptop."""
    return browser.new_context(viewport={"width": 1500, "height": 1100})


def sign_in(context: BrowserContext, world: World, email: str) -> Page:
    """Open the dashboard, press Sign in, authorize `email` at the provider and come back."""
    page = context.new_page()
    page.goto(world.url)
    assert_sign_in_page(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{world.provider}/oauth2/authorize**", timeout=30_000)
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(f"{world.url}/**", timeout=30_000)
    page.wait_for_function("() => !location.pathname.startsWith('/oauth2callback')", timeout=30_000)
    settle(page, timeout_s=120)  # a scope's first overview computes its numbers
    return page


def session_cookie(context: BrowserContext) -> dict[str, Any]:
    cookies = [c for c in context.cookies() if c["name"] == USER_COOKIE_NAME]
    assert len(cookies) == 1, f"expected one {USER_COOKIE_NAME} cookie, got {[c['name'] for c in context.cookies()]}"
    return dict(cookies[0])


def replace_session_cookie(context: BrowserContext, world: World, value: str) -> None:
    old = session_cookie(context)
    context.clear_cookies(name=USER_COOKIE_NAME)
    context.add_cookies([{"name": USER_COOKIE_NAME, "value": value, "url": world.url,
                          "httpOnly": True, "sameSite": "Lax", "expires": old["expires"]}])


def tile(page: Page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def expected_tiles(world: World, scope: Scope) -> dict[str, str]:
    """The overview's tiles as `b2bmetrics kpis` computes them for `scope`: `compute_kpis` on the
    backend cut to the scope with the default filters narrowed to it, formatted as a tile is."""
    import ibis

    from b2bmetrics import access
    from b2bmetrics.config import load_config
    from b2bmetrics.filters import Filters
    from b2bmetrics.metrics import compute_kpis
    from b2bmetrics.registry import format_value, kpi, lookup
    from b2bmetrics.store import Store

    cfg = load_config(None, str(world.db))
    raw = Store.at(world.db).read_connection()
    try:
        con = access.scoped(ibis.duckdb.from_connection(raw), scope, cfg.region_of)
        kpis = compute_kpis(con, cfg, scope.narrow(Filters()))
    finally:
        raw.close()
    out = {}
    for key in TILES:
        declared = kpi(key)
        value = lookup(kpis, key)
        value = float(value) if value is not None and declared.format == "money" else value
        out[declared.label.of("en")] = format_value(value, declared.format, "en", cfg.currency, compact=True)
    return out


def region_choices(page: Page) -> list[str]:
    """The options of the sidebar's region filter (what the scope lets the person choose from)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    box.click()
    options = page.locator('[role="option"]:not([data-key="__select_all__"])')
    options.first.wait_for(timeout=10_000)
    names = sorted(o.strip() for o in options.all_inner_texts())
    page.keyboard.press("Escape")
    return [n for n in names if n and not n.lower().startswith("select all")]


def all_regions(world: World) -> list[str]:
    from b2bmetrics.store import Store

    con = Store.at(world.db).read_connection()
    try:
        return sorted(str(r) for (r,) in con.execute("SELECT DISTINCT region FROM accounts").fetchall())
    finally:
        con.close()


# ---- the flows ----------------------------------------------------------------------------------

def _check_scope(browser: Browser, world: World, email: str, role_text: str) -> dict[str, str]:
    context = new_context(browser)
    try:
        page = sign_in(context, world, email)
        assert_no_exception(page)
        assert_title(page, "Overview")
        identity = page.locator('[data-testid="stSidebar"]').get_by_text("Signed in as")
        assert email in identity.inner_text() and role_text in identity.inner_text()
        scope = world.scopes[email]
        shown = {label: tile(page, label) for label in expected_tiles(world, scope)}
        assert shown == expected_tiles(world, scope)
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert ("Data" in nav.splitlines()) == scope.unrestricted  # uploads and downloads: all-data roles only
        if scope.role == "manager":
            assert region_choices(page) == list(scope.regions)
        if scope.unrestricted:
            assert region_choices(page) == all_regions(world)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"signin_{scope.role}.png"), full_page=True)
        return shown
    finally:
        context.close()


SHOWN: dict[str, dict[str, str]] = {}  # what each role's overview showed, to see the scopes differ


def test_executive_signs_in_and_sees_everything(browser: Browser, world: World) -> None:
    SHOWN[CEO] = _check_scope(browser, world, CEO, "executive")


def test_manager_signs_in_and_sees_their_region(browser: Browser, world: World) -> None:
    SHOWN[MANAGER] = _check_scope(browser, world, MANAGER, world.scopes[MANAGER].regions[0])
    if CEO in SHOWN:  # the manager's region is a part of the company: its won revenue differs
        assert SHOWN[MANAGER]["Won revenue"] != SHOWN[CEO]["Won revenue"]


def test_rep_signs_in_and_sees_their_own(browser: Browser, world: World) -> None:
    SHOWN[REP] = _check_scope(browser, world, REP, str(world.scopes[REP].rep_id))
    others = [SHOWN[e]["Won revenue"] for e in (CEO, MANAGER) if e in SHOWN]
    assert SHOWN[REP]["Won revenue"] not in others


def test_sign_out_returns_to_the_sign_in_page(browser: Browser, world: World) -> None:
    context = new_context(browser)
    try:
        page = sign_in(context, world, CEO)
        assert_title(page, "Overview")
        session_cookie(context)  # signed in: the session cookie is there
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        # Streamlit's /auth/logout clears the cookie and sends the browser to the provider's
        # end_session_endpoint (RP-initiated logout), which comes back through /oauth2callback
        page.wait_for_url(f"{world.provider}/oauth2/end_session**", timeout=30_000)
        page.get_by_role("button", name="End session").click()
        page.wait_for_url(f"{world.url}/**", timeout=30_000)
        assert_sign_in_page(page)
        assert [c for c in context.cookies() if c["name"].startswith(USER_COOKIE_NAME)] == []
        # the old address of a page shows the sign-in page too, not the page
        page.goto(f"{world.url}/funnel")
        assert_sign_in_page(page)
    finally:
        context.close()


def _split(cookie_value: str) -> tuple[str, str]:
    """An itsdangerous URL-safe timed value as (payload, "timestamp.signature"); a payload that
    starts with "." is zlib-compressed."""
    payload, stamp, signature = cookie_value.rsplit(".", 2)
    return payload, f"{stamp}.{signature}"


def _payload(cookie_value: str) -> str:
    """The JSON text the cookie carries, read without checking the signature (as anyone can)."""
    payload, _ = _split(cookie_value)
    return str(URLSafeSerializer("unused").load_payload(payload.encode()))


def test_a_tampered_session_cookie_sends_the_user_back_to_sign_in(browser: Browser, world: World) -> None:
    context = new_context(browser)
    try:
        page = sign_in(context, world, REP)
        assert_title(page, "Overview")
        value = session_cookie(context)["value"]
        user = json.loads(_payload(value))
        assert user["email"] == REP and user["is_logged_in"] is True
        # the rep edits their cookie to say they are the executive, keeping Streamlit's signature
        forged = json.dumps(json.dumps({**user, "email": CEO}))
        part = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
        replace_session_cookie(context, world, f"{part}.{_split(value)[1]}")
        page.goto(world.url)
        assert_sign_in_page(page)
        page.goto(f"{world.url}/commission")
        assert_sign_in_page(page)
    finally:
        context.close()


class _SignedLongAgo(TimestampSigner):
    """Signs as if it were 32 days ago: past Streamlit's 30-day session (and its day of grace)."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 32 * DAY_S


def test_an_expired_session_sends_the_user_back_to_sign_in(browser: Browser, world: World) -> None:
    context = new_context(browser)
    try:
        page = sign_in(context, world, MANAGER)
        assert_title(page, "Overview")
        cookie = session_cookie(context)
        # the browser keeps the session 30 days (Max-Age), then drops it
        lifetime = cookie["expires"] - time.time()
        assert AUTH_COOKIE_MAX_AGE_SECONDS == 30 * DAY_S
        assert 30 * DAY_S - 300 < lifetime <= 30 * DAY_S + 5
        # the same session, signed with the server's secret 32 days ago: the server refuses it even
        # from a browser that kept it past its Max-Age
        plain = URLSafeTimedSerializer(world.cookie_secret, salt=USER_COOKIE_NAME).loads(cookie["value"])
        assert json.loads(plain)["email"] == MANAGER
        old = URLSafeTimedSerializer(world.cookie_secret, salt=USER_COOKIE_NAME, signer=_SignedLongAgo).dumps(plain)
        # a control: the same re-signing with today's time is a valid session (so only the age differs)
        fresh = URLSafeTimedSerializer(world.cookie_secret, salt=USER_COOKIE_NAME).dumps(plain)
        replace_session_cookie(context, world, fresh)
        page.goto(world.url)
        settle(page, timeout_s=120)
        assert_title(page, "Overview")
        replace_session_cookie(context, world, old)
        page.goto(world.url)
        assert_sign_in_page(page)
        # and once the browser has dropped the cookie (its Max-Age passed), the same
        context.clear_cookies(name=USER_COOKIE_NAME)
        page.goto(f"{world.url}/churn")
        assert_sign_in_page(page)
    finally:
        context.close()


def test_a_user_the_roles_file_does_not_know_sees_only_the_message(browser: Browser, world: World) -> None:
    context = new_context(browser)
    try:
        page = sign_in(context, world, STRANGER)
        assert_no_exception(page)
        assert_title(page, "No access yet")
        warning = page.locator('[data-testid="stAlert"]').first.inner_text()
        assert STRANGER in warning and "has no role" in warning
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').count() == 0
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "signin_no_access.png"), full_page=True)
        for address in ("funnel", "commission", "data"):  # a page's address shows the same message
            page.goto(f"{world.url}/{address}")
            settle(page)
            assert_title(page, "No access yet")
            assert page.get_by_text("Page not found").count() == 0
            assert page.locator('[data-testid="stMetric"]').count() == 0
        # they may sign out, and are then at the sign-in page
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{world.provider}/oauth2/end_session**", timeout=30_000)
        page.get_by_role("button", name="End session").click()
        page.wait_for_url(f"{world.url}/**", timeout=30_000)
        assert_sign_in_page(page)
    finally:
        context.close()


def test_an_unverified_email_gets_nothing_even_if_the_roles_file_knows_it(browser: Browser, world: World) -> None:
    # at some providers anyone can sign up with any address; the provider then says it is unverified
    set_claims(world.provider, "mallory", {"email": CEO, "email_verified": False})
    context = new_context(browser)
    try:
        page = sign_in(context, world, "mallory")
        assert_no_exception(page)
        assert_title(page, "No access yet")
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.goto(f"{world.url}/data")
        settle(page)
        assert_title(page, "No access yet")
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
    finally:
        context.close()
