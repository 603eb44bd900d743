"""Concurrent users (issue #6): `make bench-load` (= `python -m bench.load_test`).

Serves the dashboard (`streamlit run serve.py`, as `make run`; loopback only) on a copy of the 200,000-account
demo and drives `--sessions` concurrent sessions for `--duration` seconds. Each session opens the
app, then keeps changing one thing at a time, as a user clicking would: a filter (region, segment,
rep, period) or the page, with a short think time between runs. Halfway a `b2bmetrics ingest`
from a shell replaces the tickets table (666,495 rows -> the first 600,000, exported by DuckDB's
COPY from the database itself, so the file is valid).

Why websocket sessions, not browsers: on 2 shared cores twenty Chromium renderers would take the
CPU the server needs and the test would measure the browsers. A session here speaks Streamlit's
own protocol (BackMsg `rerun_script` with the widget states, query string and page hash, exactly
what the browser's JS sends; ForwardMsg deltas until `script_finished`), so the server does the
same work per run as for a browser; the client side costs ~1 ms of protobuf parsing per message.
What it leaves out (JS rendering) is measured by bench/first_paint.py.

Recorded: script runs completed, errors (exception elements, st.error alerts, a wrong page,
websocket failures, timeouts), page times (BackMsg sent -> script_finished received), the server's
RSS sampled from /proc every 0.5 s, and on every visit of the Data page the row counts of the
data-quality table and the newest load of the load history: each view must show the old data or
the new data entire, never a mix (half-loaded), and never the old data once the load has finished.
"""


from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.harness import (
    ACCOUNTS,
    BIN,
    ROOT,
    WORK,
    copy_db,
    cpu_seconds,
    fmt_s,
    free_port,
    machine_line,
    percentile,
    proc_status_mb,
    revision,
    start_server,
    stop_server,
    write_section,
)
from bench.streamlit_client import Page, Run, Session

REPLACED, KEEP_ROWS = "tickets", 600_000
# ---- data ---------------------------------------------------------------------------------------

def prepare(db: Path) -> dict[str, Any]:
    """Row counts before and after the load, the replacement CSV and the regions (for shared links)."""
    from b2bmetrics.schema import TABLES
    from b2bmetrics.store import connect_duckdb

    csv = WORK / f"{REPLACED}_{KEEP_ROWS}.csv"
    con = connect_duckdb(db, read_only=True)
    try:
        before = {name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # type: ignore[index]
                  for name in TABLES}
        if not csv.exists():
            con.execute("SET enable_progress_bar = false")
            tmp = csv.with_suffix(".part")
            con.execute(f"COPY (SELECT * FROM \"{REPLACED}\" ORDER BY 1 LIMIT {KEEP_ROWS}) TO '{tmp}' (HEADER, DELIMITER ',')")
            tmp.replace(csv)
        regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM accounts WHERE region IS NOT NULL ORDER BY 1").fetchall()]
    finally:
        con.close()
    return {"csv": csv, "before": before, "after": {**before, REPLACED: KEEP_ROWS}, "regions": regions}


# ---- the test -----------------------------------------------------------------------------------

@dataclass
class Test:
    url: str
    t0: float
    deadline: float
    timeout: float
    think: tuple[float, float]
    expected: dict[str, dict[str, int]]  # "old" / "new" -> table -> rows
    regions: list[str]
    runs: list[Run] = field(default_factory=list)
    ingest: dict[str, Any] = field(default_factory=dict)
    served: set[str] = field(default_factory=set)  # views asked for so far: their results are cached

    def seen(self, run: Run, s: Session) -> None:
        """Mark a run that repeats a view another run asked for on the same data version (a cache hit)."""
        version = "new" if "end" in self.ingest and run.started > self.ingest["end"] else "old"
        key = json.dumps([version, s.page_name, s.filters], ensure_ascii=False)
        run.repeat = key in self.served
        self.served.add(key)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def judge(self, run: Run, page: Page, title: str, seen_new: bool) -> None:
        """Errors a user would see, and the consistency of the replaced table."""
        if page.exceptions or page.alerts:
            run.error = f"exception: {page.exceptions[0]}" if page.exceptions else f"error alert: {page.alerts[0]}"
        elif title and page.title != title:
            run.error = f"wrong page: {page.title!r} instead of {title!r}"
        if run.page != "data" or run.error:
            return
        old, new = self.expected["old"], self.expected["new"]
        if page.counts == old and (page.last_load or ("", 0))[0] != REPLACED:
            run.data_state = "old"
        elif page.counts == new and page.last_load == (REPLACED, KEEP_ROWS):
            run.data_state = "new"
        else:
            run.data_state = "torn"
            run.error = f"half-loaded: counts {page.counts}, last load {page.last_load}"
            return
        if run.data_state == "old" and "end" in self.ingest and run.started > self.ingest["end"]:
            run.error = "stale: old data after the load had finished"
        elif run.data_state == "old" and seen_new:
            run.error = "went back to the old data"


async def user(test: Test, n: int, ramp: float) -> None:
    import websockets

    rng = random.Random(n)
    await asyncio.sleep(ramp * n)
    seen_new = False
    while test.now() < test.deadline:
        try:
            async with websockets.connect(test.url, subprotocols=["streamlit"], max_size=None,  # type: ignore[list-item]
                                          open_timeout=test.timeout) as ws:
                s = Session(n, ws, rng)
                first_query = ""
                if n % 3 == 0:  # a third open a shared link: a page and a region in the URL
                    s.page_name = ["funnel", "churn", "commission", "data"][n // 3 % 4]
                    s.filters["region"] = [test.regions[n % len(test.regions)]]
                    first_query = urlencode({"region": s.filters["region"][0]})
                kind = "open"
                while test.now() < test.deadline:
                    run = Run(n, kind, s.page_name, test.now())
                    test.runs.append(run)
                    test.seen(run, s)
                    try:
                        page, run.seconds = await s.run(s.back_msg(first_query), test.timeout)
                    except TimeoutError:
                        run.error = "timeout"
                        break  # the session is stuck behind its run: start a new one, as a reload would
                    s.pages = page.pages or s.pages
                    test.judge(run, page, s.pages.get(run.page, ("", ""))[1], seen_new)
                    seen_new = seen_new or run.data_state == "new"
                    if kind == "open":
                        s.learn(page)
                    await asyncio.sleep(rng.uniform(*test.think))
                    kind = s.change()
        except (OSError, websockets.WebSocketException) as exc:
            test.runs.append(Run(n, "connect", "", test.now(), error=f"websocket: {type(exc).__name__}: {exc}"[:200]))
            await asyncio.sleep(1)


async def run_ingest(test: Test, at: float, db: Path, csv: Path) -> None:
    await asyncio.sleep(max(0.0, at - test.now()))
    test.ingest["start"] = test.now()
    proc = await asyncio.create_subprocess_exec(str(BIN / "b2bmetrics"), "ingest", "--db", str(db), "--table", REPLACED,
                                                str(csv), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    test.ingest.update(end=test.now(), rc=proc.returncode, output=out.decode(errors="replace").strip()[-500:])


async def sample_rss(test: Test, pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            samples.append((test.now(), proc_status_mb(pid)["VmRSS"]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def drive(test: Test, args: argparse.Namespace, pid: int, db: Path, csv: Path) -> list[tuple[float, float]]:
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(test, pid, samples, stop))
    users = [asyncio.create_task(user(test, n, args.ramp / args.sessions)) for n in range(args.sessions)]
    await asyncio.gather(run_ingest(test, args.ingest_at, db, csv), *users)
    test.ingest["sessions_closed"] = test.now()
    await asyncio.sleep(3)  # memory once every session has gone
    stop.set()
    await sampler
    return samples


# ---- the report ---------------------------------------------------------------------------------

def stats_row(label: str, runs: list[Run]) -> str:
    times = [r.seconds for r in runs if r.seconds is not None and not r.error]
    errors = sum(1 for r in runs if r.error)
    if not times:
        return f"| {label} | {len(runs)} | {errors} | – | – | – |"
    return (f"| {label} | {len(runs)} | {errors} | {fmt_s(statistics.median(times))} | "
            f"{fmt_s(percentile(times, 95))} | {fmt_s(max(times))} |")


def report(test: Test, args: argparse.Namespace, info: dict[str, Any]) -> str:
    runs = [r for r in test.runs if r.kind != "connect"]
    times = [r.seconds for r in runs if r.seconds is not None and not r.error]
    errors: dict[str, int] = {}
    for r in test.runs:
        if r.error:
            key = r.error.split(":")[0]  # the kind: exception, timeout, half-loaded, ...
            errors[key] = errors.get(key, 0) + 1
    error_text = ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or \
        "no exception, error alert, wrong page, websocket error or timeout"
    page_time = (f"{fmt_s(statistics.median(times))} / {fmt_s(percentile(times, 95))} / {fmt_s(max(times))}"
                 if times else "no run completed")
    ing = test.ingest
    states = [r.data_state for r in runs if r.page == "data" and r.data_state]
    rss = info["rss"]
    peak_t, peak = max(rss, key=lambda s: s[1]) if rss else (0.0, 0.0)
    head = ["| | runs | errors | p50 | p95 | max |", "|---|---:|---:|---:|---:|---:|"]
    lines = [
        "## Concurrent users (`make bench-load`: bench/load_test.py)",
        "",
        f"Run {dt.datetime.now():%Y-%m-%d %H:%M} on {info['revision']}. Machine: {info['machine']}; "
        f"load average at the end {info['load_end']:.1f}.",
        "",
        f"One `streamlit run serve.py` server (as `make run`) on loopback, on a copy of the {ACCOUNTS:,}-account demo. "
        f"{args.sessions} websocket sessions speak Streamlit's protocol (what the browser's JS sends: "
        "`rerun_script` with widget states, query string and page hash); browsers would have taken the 2 cores "
        "from the server (first paint in a real browser is measured below). Sessions start over "
        f"{args.ramp:.0f} s, a third of them on a shared link (page + region in the URL); each then changes one "
        f"thing per run (page 35 %, else region, segment, period or rep) after {args.think[0]}–{args.think[1]} s "
        f"of think time, for {args.duration:.0f} s. At {args.ingest_at:.0f} s `b2bmetrics ingest --table {REPLACED}` "
        f"from a shell replaces {REPLACED} ({info['before'][REPLACED]:,} → {KEEP_ROWS:,} rows). A page time is "
        "BackMsg sent → `script_finished` received (the whole server-side run and the transfer, not the "
        f"browser's drawing). A run with no `script_finished` within {args.timeout:.0f} s is a timeout.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| sessions | {args.sessions} concurrent, {len({r.session for r in runs})} took part |",
        f"| script runs completed | {len(times)} ({len(times) / args.duration:.1f} per s) of {len(runs)} started |",
        f"| errors | **{sum(errors.values())}** ({error_text}) |",
        f"| page time p50 / p95 / max | {page_time} |",
        f"| server RSS | {info['rss_idle']:.0f} MB idle after start → peak {peak:.0f} MB at {peak_t:.0f} s "
        f"(VmHWM {info['hwm']:.0f} MB) → {info['rss_end']:.0f} MB at the end, 3 s after the sessions closed |",
        f"| server CPU | {info['server_cpu']:.0f} s in {info['wall']:.0f} s "
        f"({info['server_cpu'] / info['wall'] * 100:.0f} % of one core); load generator {info['client_cpu']:.1f} s |",
        f"| ingest | started at {ing.get('start', 0):.1f} s, finished at {ing.get('end', float('nan')):.1f} s "
        f"({ing.get('end', float('nan')) - ing.get('start', 0):.1f} s), exit {ing.get('rc')} |",
        f"| Data page views (the replaced table) | {len(states)}: {states.count('old')} old, {states.count('new')} new, "
        f"**{states.count('torn')} half-loaded**, {errors.get('stale', 0)} old after the load finished, "
        f"{errors.get('went back to the old data', 0)} back to old after having seen new |",
        f"| server start (process → health check) | {info['startup']:.1f} s |",
        "",
        "By kind of run:",
        "",
        *head,
        *[stats_row(k, [r for r in runs if r.kind == k]) for k in ("open", "page", "region", "segment", "period", "rep")],
        "",
        "By page (every kind of run):",
        "",
        *head,
        *[stats_row(p, [r for r in runs if r.page == p]) for p in sorted({r.page for r in runs})],
        "",
        "By phase (when the run started):",
        "",
        *head,
    ]
    if "end" in ing:
        lines += [stats_row(f"before the load (0–{ing['start']:.0f} s)", [r for r in runs if r.started < ing["start"]]),
                  stats_row(f"during the load ({ing['start']:.0f}–{ing['end']:.0f} s)",
                            [r for r in runs if ing["start"] <= r.started < ing["end"]]),
                  stats_row(f"after the load ({ing['end']:.0f} s–)", [r for r in runs if r.started >= ing["end"]])]
    marks = [f"{t:.0f} s: {v:.0f} MB" for t, v in rss[:: max(1, round(10 / 0.5))]]
    lines += ["", "First view or repeat (a view is a page with its filters; a repeat was asked for before on the same "
              "data version, so its results are cached):", "", *head,
              stats_row("first view", [r for r in runs if not r.repeat]),
              stats_row("repeat", [r for r in runs if r.repeat])]
    lines += ["", f"Server RSS every 10 s: {', '.join(marks)}.", ""]
    examples = sorted({r.error for r in test.runs if r.error})[:5]
    if examples:
        lines += ["Errors seen (first of each):", "", *[f"- `{e}`" for e in examples], ""]
    if info["log_errors"]:
        lines += [f"Server log: {info['log_errors']} lines with a traceback or error (see bench/work/load/server.log).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--ingest-at", type=float, default=20.0, help="seconds into the load when the ingest starts")
    ap.add_argument("--ramp", type=float, default=10.0, help="seconds over which sessions start")
    ap.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), help="think time range between runs, s")
    ap.add_argument("--timeout", type=float, default=45.0, help="seconds a run may take before it is a timeout")
    ap.add_argument("--no-write", action="store_true", help="print the report, leave results_load.md alone")
    args = ap.parse_args(argv)
    args.think = tuple(args.think)

    machine = machine_line()
    db = copy_db("load")
    data = prepare(db)
    port = free_port()
    log = WORK / "server.log"
    started = time.perf_counter()
    proc = start_server(db, port, log)
    startup = time.perf_counter() - started
    try:
        time.sleep(1)
        rss_idle = proc_status_mb(proc.pid)["VmRSS"]
        cpu0, client0 = cpu_seconds(proc.pid), time.process_time()
        t0 = time.perf_counter()
        test = Test(f"ws://127.0.0.1:{port}/_stcore/stream", t0, args.duration, args.timeout, args.think,
                    {"old": data["before"], "new": data["after"]}, data["regions"])
        rss = asyncio.run(drive(test, args, proc.pid, db, data["csv"]))
        status = proc_status_mb(proc.pid)
        info = {"machine": machine, "revision": revision(), "load_end": os.getloadavg()[0], "before": data["before"], "rss": rss, "rss_idle": rss_idle, "hwm": status["VmHWM"],
                "rss_end": status["VmRSS"], "server_cpu": cpu_seconds(proc.pid) - cpu0,
                "client_cpu": time.process_time() - client0, "wall": time.perf_counter() - t0, "startup": startup}
    finally:
        stop_server(proc)
    text = log.read_text(encoding="utf-8", errors="replace")
    info["log_errors"] = sum(1 for ln in text.splitlines() if "Traceback" in ln or " ERROR " in ln)
    (WORK / "load_runs.json").write_text(json.dumps({"runs": [asdict(r) for r in test.runs], "ingest": test.ingest,
                                                      "rss": rss}, ensure_ascii=False, indent=1), encoding="utf-8")
    out = report(test, args, info)
    print(out)
    if test.ingest.get("rc") != 0:
        print(f"ingest failed: {test.ingest.get('output')}", file=sys.stderr)
    if not args.no_write:
        write_section("load", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
