"""Whole-process figures: what a script or a cron job pays for one `b2bmetrics` command.

    make bench-cli        (= python -m bench.whole_process [--repeat 5] [--accounts 200000])

In one run, interleaved (A, B, A, B, … so both see the same machine), each figure the wall time of
a fresh process, one warm-up then the median of `--repeat` runs:

* `b2bmetrics kpis --db DEMO --format json` (default arguments, stdout to /dev/null) against a
  bare scan process: `python -c "import duckdb; …"` that opens the same file read-only and runs
  one aggregate per table over every column (bench/run.py's floor SQL);
* `b2bmetrics ingest --db NEW deals.csv` of a 1,000,000-row deals CSV (bench/bench_ingest.py's
  file) into a database that does not exist yet, against a bare process
  `python -c "import duckdb; duckdb.connect(f).execute('CREATE TABLE t AS SELECT * FROM read_csv(…)')"`
  (closed, so it checkpoints) into a fresh file;
* beside them the in-process figures of the same work (bench/run.py's `kpis` and `floor`
  children; bench/bench_ingest.py's `ingest()` and bare CTAS), and `python -c pass`;
* where the time goes: one process that does what `cmd_kpis` does with a clock between the steps
  (interpreter start, each import, the store's open, compute_kpis, serialisation, the write), and
  one that does what `cmd_ingest` does, timing the imports and each phase ingest reports.

Also the import time of every command (`-X importtime`, the sum of the top-level imports, median
of the runs), with the heavy packages each one pulls in.

The demo database is bench/run.py's (bench/work/scale/demo_200000.duckdb, made on first use);
results go to bench/work/whole/results.json and the "Whole process" section of bench/results.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "whole"
RESULTS_JSON = WORK / "results.json"
RESULTS_MD = ROOT / "bench" / "results.md"
BIN = Path(sys.executable).parent
CLI = [str(BIN / "b2bmetrics")] if (BIN / "b2bmetrics").exists() else [sys.executable, "-m", "b2bmetrics.cli"]
DEALS_ROWS = 1_000_000
ACCOUNTS = 200_000
START, END = "<!-- whole-process: start (bench/whole_process.py rewrites this part) -->", "<!-- whole-process: end -->"

# issue 11's targets (whole process)
KPIS_MAX_RATIO = 3.0
INGEST_MAX_RATIO = 1.5

HEAVY = ("scipy", "pandas", "pyarrow", "numpy", "ibis", "sqlglot", "duckdb", "orjson", "python_calamine",
         "charset_normalizer", "streamlit", "plotly")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- data -----------------------------------------------------------------------------------------

def demo_db(accounts: int) -> Path:
    from bench import run as scale

    db = scale.db_path(accounts)
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*CLI, "demo", "--db", str(db), "--accounts", str(accounts)], check=True, cwd=ROOT)
    scale._with_derived_tables(db)
    return db


def deals_csv(rows: int) -> Path:
    from bench.bench_ingest import WORK as INGEST_WORK
    from bench.bench_ingest import make_deals_csv

    csv = INGEST_WORK / f"deals_{rows}.csv"
    if not csv.exists():
        csv.parent.mkdir(parents=True, exist_ok=True)
        make_deals_csv(csv, rows)
    return csv


def _fresh(path: Path) -> Path:
    """`path` with nothing of an earlier run beside it (the file, its .wal, lock, snapshots, temps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in [*path.parent.glob(path.name + "*"), *path.parent.glob("." + path.name + "*")]:
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    return path


def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


# ---- the whole-process figures --------------------------------------------------------------------

def figures(db: Path, csv: Path) -> dict[str, tuple[Callable[[], list[str]], Callable[[], None]]]:
    """name -> (the command line, an untimed setup run before each)."""
    from bench.run import floor_sql

    queries = list(floor_sql().values())
    scan = ("import duckdb, json, sys\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "for q in json.loads(sys.argv[2]):\n"
            "    con.execute(q).fetchall()\n"
            "con.close()\n")
    bare_db, cli_db = WORK / "bare_csv.duckdb", WORK / "cli_ingest.duckdb"
    read_csv = ("import duckdb, sys\n"
                "con = duckdb.connect(sys.argv[1])\n"
                f"con.execute({f'CREATE TABLE t AS SELECT * FROM read_csv({_q(csv)})'!r})\n"
                "con.close()\n")
    nothing: Callable[[], None] = lambda: None  # noqa: E731
    return {
        "python": (lambda: [sys.executable, "-c", "pass"], nothing),
        "bare_scan": (lambda: [sys.executable, "-c", scan, str(db), json.dumps(queries)], nothing),
        "cli_kpis": (lambda: [*CLI, "kpis", "--db", str(db), "--format", "json"], nothing),
        "bare_read_csv": (lambda: [sys.executable, "-c", read_csv, str(bare_db)], lambda: _no_return(_fresh(bare_db))),
        "cli_ingest": (lambda: [*CLI, "ingest", "--db", str(cli_db), str(csv)], lambda: _no_return(_fresh(cli_db))),
    }


def _no_return(_: Any) -> None:
    return None


def time_process(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} … failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return elapsed


def run_interleaved(figs: dict[str, tuple[Callable[[], list[str]], Callable[[], None]]], repeat: int,
                    log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    times: dict[str, list[float]] = {name: [] for name in figs}
    warmup: dict[str, float] = {}
    for i in range(repeat + 1):
        for name, (cmd, setup) in figs.items():
            setup()
            t = time_process(cmd())
            if i == 0:
                warmup[name] = t
            else:
                times[name].append(t)
        log(f"  round {i}{' (warm-up)' if i == 0 else ''}: "
            + ", ".join(f"{n} {(warmup[n] if i == 0 else times[n][-1]):.2f}" for n in figs))
    return {n: {"times": ts, "median_s": statistics.median(ts), "warmup_s": warmup[n]} for n, ts in times.items()}


# ---- in-process figures and the breakdowns (each in a child process) ------------------------------

def child_ingest_inproc(csv: Path, repeat: int) -> dict[str, Any]:
    """bench/bench_ingest.py's measurement: ingest() and the bare CTAS, in one process, after a warm-up."""
    from bench.bench_ingest import time_bare, time_ingest

    time_bare(csv)
    time_ingest(csv, DEALS_ROWS)
    bare = [time_bare(csv) for _ in range(repeat)]
    full = [time_ingest(csv, DEALS_ROWS) for _ in range(repeat)]
    return {"bare_csv_inproc": {"times": bare, "median_s": statistics.median(bare)},
            "ingest_inproc": {"times": full, "median_s": statistics.median(full)}}


def child_kpis_breakdown(db: Path, started_ns: int) -> dict[str, float]:
    """What cmd_kpis does, with a clock between the steps; the first step is the interpreter's start
    (from the parent's clock just before it started this process)."""
    import importlib

    steps: dict[str, float] = {}
    last = time.time_ns()
    steps["interpreter start"] = (last - started_ns) / 1e9

    def mark(label: str) -> None:
        nonlocal last
        now = time.time_ns()
        steps[label] = steps.get(label, 0.0) + (now - last) / 1e9
        last = now

    importlib.import_module("b2bmetrics.cli")
    mark("import b2bmetrics.cli")
    for label, modules in (("import duckdb", ["duckdb"]), ("import ibis and its DuckDB backend", ["ibis", "ibis.backends.duckdb"]),
                           ("import pandas (and pyarrow)", ["pandas"])):
        for m in modules:
            importlib.import_module(m)
        mark(label)
    # asked in a process of its own, whose time is not one of the steps
    asked = time.time_ns()
    scipy_at_import = _churn_imports_scipy()
    last += time.time_ns() - asked
    if scipy_at_import:
        importlib.import_module("scipy.stats")
        mark("import scipy.stats (metrics/churn.py, module level)")
    for m in ("b2bmetrics.config", "b2bmetrics.filters", "b2bmetrics.store", "b2bmetrics.metrics.funnel",
              "b2bmetrics.metrics.churn", "b2bmetrics.metrics.satisfaction", "b2bmetrics.metrics.commission",
              "b2bmetrics.metrics.quality", "b2bmetrics.jsonout"):
        importlib.import_module(m)
    mark("import b2bmetrics modules (the rest)")
    from b2bmetrics.config import load_config
    from b2bmetrics.filters import Filters
    from b2bmetrics.jsonout import dumps
    from b2bmetrics.metrics import compute_kpis
    from b2bmetrics.store import Store

    store = Store.at(db)
    cfg = load_config(None, db)
    con = store.ibis()
    mark("open the store (snapshot link, ibis connection)")
    result = compute_kpis(con, cfg, Filters())
    mark("compute_kpis")
    data = dumps(result) + b"\n"
    mark("serialise (jsonout.dumps)")
    with open(os.devnull, "wb") as fh:
        fh.write(data)
    mark("write to /dev/null")
    steps["JSON bytes"] = float(len(data))
    steps["commission rows"] = float(len(result["commission"]["rows"]))
    return steps


def _churn_imports_scipy() -> bool:
    code = "import sys, b2bmetrics.metrics.churn; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def child_ingest_breakdown(csv: Path, started_ns: int) -> dict[str, float]:
    """What cmd_ingest does, timing the imports and each phase `ingest` reports through `progress`."""
    steps: dict[str, float] = {}
    last = time.time_ns()
    steps["interpreter start"] = (last - started_ns) / 1e9

    def mark(label: str) -> None:
        nonlocal last
        now = time.time_ns()
        steps[label] = steps.get(label, 0.0) + (now - last) / 1e9
        last = now

    import b2bmetrics.cli  # noqa: F401

    mark("import b2bmetrics.cli")
    import duckdb  # noqa: F401

    mark("import duckdb")
    from b2bmetrics.config import load_config
    from b2bmetrics.ingest import ingest
    from b2bmetrics.store import Store

    mark("import b2bmetrics.ingest, store, config (ibis, pandas, … as they import them)")
    db = _fresh(WORK / "breakdown_ingest.duckdb")
    cfg = load_config(None, db)
    phase = ["start"]

    def progress(label: str, fraction: float) -> None:
        name = label.split(": ", 1)[-1]
        name = "reading (hash, sniff)" if name == "reading" else name
        if name != phase[0]:
            mark(f"ingest: {phase[0]}")
            phase[0] = name

    results = ingest(Store.at(db), [csv], cfg, progress=progress)
    mark(f"ingest: {phase[0]}")
    assert results[0].rows == DEALS_ROWS and results[0].rejected == 0, results
    return steps


def run_child(kind: str, arg: Path, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.whole_process", "--child", kind, "--path", str(arg),
           "--repeat", str(repeat), "--started-ns", str(time.time_ns())]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {kind} failed: {proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def import_times(db: Path, csv_small: Path, runs: int) -> dict[str, dict[str, Any]]:
    """Per command: the sum of its top-level imports under -X importtime (median of `runs`), and which
    heavy packages it imports."""
    tmp = Path(tempfile.mkdtemp(prefix="b2b-imports-", dir=WORK))
    try:
        commands: dict[str, Callable[[], list[str]]] = {
            "--help": lambda: ["--help"],
            "demo": lambda: ["demo", "--db", str(_fresh(tmp / "demo.duckdb")), "--accounts", "30"],
            "ingest": lambda: ["ingest", "--db", str(_fresh(tmp / "ingest.duckdb")), str(csv_small)],
            "kpis": lambda: ["kpis", "--db", str(db), "--format", "json"],
            "export": lambda: ["export", "--db", str(tmp / "demo.duckdb"), "--parquet", str(tmp / "pq")],
        }
        out: dict[str, dict[str, Any]] = {}
        for _ in range(runs):
            for name, args in commands.items():
                proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "b2bmetrics.cli", *args()],
                                      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      timeout=900)
                if proc.returncode != 0:
                    raise RuntimeError(f"{name}: {proc.stderr[-2000:]}")
                total, seen = 0, set()
                for line in proc.stderr.splitlines():
                    if not line.startswith("import time:") or "self [us]" in line:
                        continue
                    _, cum, mod = line.split("|", 2)
                    if mod.startswith(" ") and not mod.startswith("  "):  # top level
                        total += int(cum)
                    seen.add(mod.strip().split(".")[0])
                entry = out.setdefault(name, {"runs_s": [], "heavy": sorted(m for m in HEAVY if m in seen)})
                entry["runs_s"].append(total / 1e6)
        for entry in out.values():
            entry["median_s"] = statistics.median(entry["runs_s"])
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- the report ------------------------------------------------------------------------------------

def _s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def report(data: dict[str, Any]) -> str:
    w, inp, imp = data["whole"], data["inproc"], data["imports"]
    k_ratio = w["cli_kpis"]["median_s"] / w["bare_scan"]["median_s"]
    i_ratio = w["cli_ingest"]["median_s"] / w["bare_read_csv"]["median_s"]
    kin = inp["kpis"]["median_s"] / inp["floor"]["median_s"]
    iin = inp["ingest_inproc"]["median_s"] / inp["bare_csv_inproc"]["median_s"]
    m = data["machine"]
    lines = [
        START,
        "## Whole process (issue 11)",
        "",
        f"`make bench-cli` (`python -m bench.whole_process`), {data['when']}: {data['accounts']:,}-account demo, "
        f"deals CSV of {DEALS_ROWS:,} rows; each figure the wall time of a fresh process, one warm-up, then the "
        f"median of {data['repeat']} runs, interleaved with its floor (so both saw the same machine: "
        f"{m['cores']} cores, load average {data['loadavg'][0]:.1f} → {data['loadavg'][1]:.1f} during the run). "
        "In-process figures measured in the same run, in child processes of their own.",
        "",
        "| work | ours (whole process) | floor (whole process) | ratio | target | ours in-process | floor in-process | ratio in-process |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
        f"| KPIs, default arguments | `kpis --format json` {_s(w['cli_kpis']['median_s'])} | bare scan "
        f"{_s(w['bare_scan']['median_s'])} | **{k_ratio:.2f}×** | ≤ {KPIS_MAX_RATIO:g}×: "
        f"{'met' if k_ratio <= KPIS_MAX_RATIO else '**missed**'} | compute_kpis {_s(inp['kpis']['median_s'])} | "
        f"{_s(inp['floor']['median_s'])} | {kin:.2f}× |",
        f"| ingest of {DEALS_ROWS:,} deals | `ingest` {_s(w['cli_ingest']['median_s'])} | bare read_csv "
        f"{_s(w['bare_read_csv']['median_s'])} | **{i_ratio:.2f}×** | ≤ {INGEST_MAX_RATIO:g}×: "
        f"{'met' if i_ratio <= INGEST_MAX_RATIO else '**missed**'} | ingest() {_s(inp['ingest_inproc']['median_s'])} | "
        f"{_s(inp['bare_csv_inproc']['median_s'])} | {iin:.2f}× |",
        "",
        f"A bare `python -c pass` takes {_s(w['python']['median_s'])}. Runs (s): "
        + "; ".join(f"{n} {', '.join(f'{t:.2f}' for t in r['times'])}" for n, r in w.items()) + ".",
        "",
        "Where the time of one `kpis` process goes (one run, clock between the steps):",
        "",
        "| step | time |",
        "|---|---:|",
    ]
    kb = data["kpis_breakdown"]
    lines += [f"| {k} | {_s(v)} |" for k, v in kb.items() if k not in ("JSON bytes", "commission rows")]
    lines += ["", f"(the JSON is {kb['JSON bytes'] / 2**20:.1f} MB with {kb['commission rows']:,.0f} commission rows)",
              "", "Where the time of one `ingest` process goes (one run; phases as ingest reports them):", "",
              "| step | time |", "|---|---:|"]
    lines += [f"| {k} | {_s(v)} |" for k, v in data["ingest_breakdown"].items()]
    lines += ["", "Import time per command (`python -X importtime -m b2bmetrics.cli …`: the sum of the top-level "
              f"imports, median of {len(next(iter(imp.values()))['runs_s'])} runs; a bare interpreter's own start "
              "is not in it):", "",
              "| command | imports | heavy packages imported |", "|---|---:|---|"]
    lines += [f"| `{n}` | {_s(e['median_s'])} | {', '.join(e['heavy']) or '–'} |" for n, e in imp.items()]
    lines += [END]
    return "\n".join(lines)


def write_report(data: dict[str, Any]) -> None:
    section = report(data)
    old = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else "# Benchmarks\n"
    if START in old and END in old:
        new = old[: old.index(START)] + section + old[old.index(END) + len(END):]
    elif "## Findings" in old:
        at = old.index("## Findings")
        new = old[:at] + section + "\n\n" + old[at:]
    else:
        new = old.rstrip() + "\n\n" + section + "\n"
    RESULTS_MD.write_text(new, encoding="utf-8")


def machine() -> dict[str, Any]:
    import platform

    return {"cores": os.cpu_count(), "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--accounts", type=int, default=ACCOUNTS)
    ap.add_argument("--report-only", action="store_true", help="rewrite the results.md section from results.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--started-ns", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        if args.child == "ingest_inproc":
            out: Any = child_ingest_inproc(args.path, args.repeat)
        elif args.child == "kpis_breakdown":
            out = child_kpis_breakdown(args.path, args.started_ns)
        elif args.child == "ingest_breakdown":
            out = child_ingest_breakdown(args.path, args.started_ns)
        else:
            raise SystemExit(f"unknown child {args.child}")
        print(json.dumps(out))
        return 0

    def log(msg: str) -> None:
        print(msg, flush=True)

    if args.report_only:
        write_report(json.loads(RESULTS_JSON.read_text(encoding="utf-8")))
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    log(f"== data: {args.accounts:,}-account demo, {DEALS_ROWS:,}-row deals CSV")
    db, csv = demo_db(args.accounts), deals_csv(DEALS_ROWS)
    small = WORK / "deals_small.csv"
    with open(csv, encoding="utf-8") as src, open(small, "w", encoding="utf-8") as dst:
        dst.writelines(line for _, line in zip(range(201), src, strict=False))
    load_before = os.getloadavg()[0]
    log("== whole-process figures")
    whole = run_interleaved(figures(db, csv), args.repeat, log)
    log("== in-process figures")
    from bench import run as scale

    inproc: dict[str, Any] = {}
    for kind in ("floor", "kpis"):
        r = scale.run_child(kind, args.accounts, 3, log)
        if "error" in r:
            raise RuntimeError(f"in-process {kind}: {r['error']}")
        inproc[kind] = r
    inproc.update(run_child("ingest_inproc", csv, 3))
    log(f"  ingest in-process {inproc['ingest_inproc']['median_s']:.2f} s, bare {inproc['bare_csv_inproc']['median_s']:.2f} s")
    log("== breakdowns")
    kpis_breakdown = run_child("kpis_breakdown", db, 1)
    ingest_breakdown = run_child("ingest_breakdown", csv, 1)
    log("== import time per command")
    imports = import_times(db, small, 3)
    data = {"when": dt.datetime.now().isoformat(timespec="minutes"), "accounts": args.accounts,
            "repeat": args.repeat, "machine": machine(), "loadavg": [load_before, os.getloadavg()[0]],
            "whole": whole, "inproc": inproc, "kpis_breakdown": kpis_breakdown,
            "ingest_breakdown": ingest_breakdown, "imports": imports}
    RESULTS_JSON.write_text(json.dumps(data, indent=1), encoding="utf-8")
    write_report(data)
    log(report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
