"""First paint of the overview (issue #4): `python -m bench.first_paint` (also run by `make bench-load`).

Headless Chromium (Playwright, Debian's /usr/bin/chromium) opens the dashboard served on a copy of
the 200,000-account demo and we time navigation -> every KPI tile visible and Streamlit's status
widget ("Running…") gone, i.e. the overview a user can read. Milestones on the way (app shell
mounted, first tile) are taken by polling the DOM every 25 ms.

* cold: the first visit to a freshly started server (`streamlit run serve.py`, as `make run`: it
  computes the default overview before it answers, so the first visitor finds it cached; the OS
  file cache is warm, as on any server that has run before) and a new browser context;
* warm: a second visit, a new page in the same context (a new Streamlit session on the same
  server: its caches and the browser's HTTP cache are warm).

Each of `--runs` rounds starts its own server; the median is reported. Target: <= 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from typing import Any

from bench.harness import (
    WORK,
    copy_db,
    fmt_s,
    free_port,
    machine_line,
    revision,
    start_server,
    stop_server,
    write_section,
)

CHROMIUM = "/usr/bin/chromium"
# without the network flags Chromium keeps trying hosts it cannot reach (STACK-NOTES)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TILES = 8  # app_pages/overview.py TILES
TARGET_S = 3.0
MILESTONES = ("shell", "running", "first_tile", "all_tiles", "ready")
TIMEOUT_S = 90.0

# What the page shows now. With `client.toolbarMode = "minimal"` (.streamlit/config.toml) the status
# widget never shows "Running…", so the script's state is read where that widget reads it: stApp's
# data-test-script-state ("initial", "running", "notRunning", ...).
STATE_JS = """() => {
  const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const app = document.querySelector('[data-testid="stApp"]');
  return {
    app: !!app,
    script: app ? app.getAttribute('data-test-script-state') : null,
    tiles: [...document.querySelectorAll('[data-testid="stMetric"]')].filter(visible).length,
    status_widget: !!document.querySelector('[data-testid="stStatusWidget"]'),
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
  };
}"""


def visit(page: Any, url: str) -> dict[str, float]:
    """Navigate and poll until the tiles are all visible and nothing runs; the milestones in seconds."""
    marks: dict[str, float] = {}
    started = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=TIMEOUT_S * 1000)
    while True:
        now = time.perf_counter() - started
        state = page.evaluate(STATE_JS)
        if state["exceptions"]:
            raise RuntimeError(f"the overview shows an exception after {now:.1f} s")
        if state["app"]:
            marks.setdefault("shell", now)
        if state["script"] == "running":
            marks.setdefault("running", now)
        if state["tiles"]:
            marks.setdefault("first_tile", now)
        if state["tiles"] >= TILES:
            marks.setdefault("all_tiles", now)
            if state["script"] == "notRunning" and not state["status_widget"]:
                marks["ready"] = now
                return marks
        if now > TIMEOUT_S:
            raise TimeoutError(f"overview not ready after {TIMEOUT_S:.0f} s: {state}")
        time.sleep(0.025)


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=3, help="rounds, each on a freshly started server")
    ap.add_argument("--no-write", action="store_true", help="print the report, leave results_load.md alone")
    args = ap.parse_args(argv)

    machine = machine_line()
    db = copy_db("paint")
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            for i in range(args.runs):
                port = free_port()
                server = start_server(db, port, WORK / "paint_server.log")
                try:
                    url = f"http://127.0.0.1:{port}/"
                    context = browser.new_context(viewport={"width": 1440, "height": 900})
                    cold_page = context.new_page()
                    results["cold"].append(visit(cold_page, url))
                    cold_page.screenshot(path=str(WORK / f"first_paint_cold_{i}.png"))
                    cold_page.close()  # the user comes back: a new tab, a new session
                    results["warm"].append(visit(context.new_page(), url))
                    context.close()
                finally:
                    stop_server(server)
                print(f"run {i + 1}: cold {results['cold'][-1]}, warm {results['warm'][-1]}", flush=True)
        finally:
            browser.close()

    lines = [
        "## First paint of the overview (bench/first_paint.py)",
        "",
        f"Run {dt.datetime.now():%Y-%m-%d %H:%M} on {revision()}. Machine: {machine}; load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        f"Headless Chromium ({CHROMIUM}, Playwright, 1440×900) opens `/` (the overview, no filters: the last 12 "
        "months) of the dashboard served on a copy of the 200,000-account demo. Time from navigation to all "
        f"{TILES} KPI tiles visible and the status widget gone and the script finished (stApp's "
        f"`data-test-script-state`: with `toolbarMode = \"minimal\"` the status widget never shows \"Running…\"); median of {args.runs} rounds, each on a freshly "
        "started server (`streamlit run serve.py`, as `make run`, which computes the default overview before it "
        "answers). Cold: the first visit after the server started (a new browser context); warm: a second "
        f"visit in a new tab (a new session on the same server, caches warm). Target ≤ {TARGET_S:.0f} s.",
        "",
        "| visit | app shell | script running | first tile | all tiles | **ready** | runs (ready) | target |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for kind, runs in results.items():
        med = {k: statistics.median(r.get(k, float("nan")) for r in runs) for k in MILESTONES}
        verdict = "met" if med["ready"] <= TARGET_S else "**missed**"
        lines.append(f"| {kind} | " + " | ".join(fmt_s(med[k]) for k in MILESTONES[:-1]) + f" | **{fmt_s(med['ready'])}** | "
                     f"{', '.join(fmt_s(r['ready']) for r in runs)} | {verdict} |")
    out = "\n".join(lines)
    print(out)
    if not args.no_write:
        write_section("paint", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
