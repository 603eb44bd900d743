"""Benchmark: `ingest` of a 1M-row deals CSV against a bare DuckDB `CREATE TABLE AS SELECT * FROM read_csv`.

Target (CONTRACT §2 performance note): the full ingest -- sha256, one parse-and-check pass, the
checks' aggregate, the move into place and the atomic copy-and-rename commit -- takes less than
twice the bare CTAS of the same file into a fresh database file (including its checkpoint).

    .venv/bin/python bench/bench_ingest.py [--rows N] [--repeat 3] [--whole]

Prints the timings and appends a line to bench/results_ingest.md. Work files go to bench/work/.
Besides the wall time it reports the CPU time (user + system, all threads) of both: on a shared
machine the wall time of either swings by 2-3x with the other work, the CPU time far less.

`--whole` measures whole processes instead (issue 11): `b2bmetrics ingest --db NEW deals.csv` against
a bare `python -c "import duckdb; ...CREATE TABLE t AS SELECT * FROM read_csv(...)"`, interleaved
(bench/whole_process.py's commands), wall and CPU time of each child process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from b2bmetrics.config import Config  # noqa: E402
from b2bmetrics.ingest import ingest  # noqa: E402
from b2bmetrics.store import Store, connect_duckdb  # noqa: E402

WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results_ingest.md"
HEADER = """# ingest benchmark

`bench/bench_ingest.py`: a 1M-row deals CSV with canonical headers; median of {repeat} runs after a
warm-up, in one process; ratio = full `ingest()` (hash, parse-and-check pass, aggregate, move,
atomic copy-and-rename commit) / bare `CREATE TABLE AS SELECT * FROM read_csv(...)` into a fresh
database file (including its checkpoint on close). Target: ratio < 2.

The machine is shared (2 cores): "load" is the 1-minute load average when the run ended. With
other work running both timings swing by 2x and the ratio by about ±0.3; quiet runs (load < 1)
are the ones to compare.

| when | rows | file | bare CTAS | ingest | ratio | machine |
|---|---|---|---|---|---|---|
"""


def make_deals_csv(path: Path, rows: int) -> None:
    """Canonical deals headers and realistic values: ~10% open deals without an amount, a third not closed,
    1 in 20 with a referrer, sources with spaces ("trade show"), every stage of the default pipeline, 50 reps, 20,000 accounts."""
    con = duckdb.connect()
    con.execute(f"""
    COPY (
      SELECT 'D' || lpad(i::VARCHAR, 7, '0') AS deal_id,
             'A' || lpad((hash(i) % 20000)::VARCHAR, 5, '0') AS account_id,
             'R' || lpad((hash(i * 7) % 50 + 1)::VARCHAR, 2, '0') AS owner_rep_id,
             CASE WHEN hash(i * 3) % 10 = 0 THEN NULL ELSE round((hash(i * 5) % 10000000) / 100.0, 2) END AS amount,
             (DATE '2023-01-01' + (hash(i * 11) % 700)::INTEGER)::VARCHAR AS created_at,
             CASE WHEN hash(i * 13) % 3 = 0 THEN NULL
                  ELSE (DATE '2023-01-01' + (hash(i * 11) % 700 + hash(i * 17) % 120)::INTEGER)::VARCHAR END AS closed_at,
             ['lead','qualified','visit','needs_analysis','proposal','negotiation','won','lost'][(hash(i * 19) % 8 + 1)::INTEGER] AS stage,
             CASE (hash(i * 19) % 8)::INTEGER WHEN 6 THEN 'won' WHEN 7 THEN 'lost' ELSE 'open' END AS status,
             CASE WHEN hash(i * 23) % 20 = 0 THEN 'R' || lpad((hash(i * 29) % 50 + 1)::VARCHAR, 2, '0') END AS referrer_id,
             ['event','referral','web','partner','trade show'][(hash(i * 31) % 5 + 1)::INTEGER] AS source
      FROM range(1, {rows} + 1) t(i) ORDER BY i
    ) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def _fresh(path: Path) -> None:
    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    for p in path.parent.glob("." + path.name + "*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


CPU: list[float] = []  # the CPU time of each timed call, in call order (time_bare/time_ingest return wall time)


def time_bare(csv: Path) -> float:
    db = WORK / "bare.duckdb"
    _fresh(db)
    started, cpu = time.perf_counter(), time.process_time()
    con = connect_duckdb(db)
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
    con.close()  # checkpoints
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started


def time_ingest(csv: Path, rows: int) -> float:
    db = WORK / "ingest.duckdb"
    _fresh(db)
    store = Store.at(db)
    store.ensure()  # the empty database exists beforehand, as for a user's first load
    started, cpu = time.perf_counter(), time.process_time()
    results = ingest(store, [csv], Config())
    elapsed = time.perf_counter() - started
    CPU.append(time.process_time() - cpu)
    assert results[0].rows == rows and results[0].rejected == 0, results
    return elapsed


def time_process(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU time (user + system of the child) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd[:3])} … failed ({proc.returncode}): {err[-2000:]}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime


WHOLE_HEADER = """
## Whole processes, wall and CPU time (`--whole`, from 2026-12-02)

`b2bmetrics ingest --db NEW deals.csv` against a bare `python -c "import duckdb; duckdb.connect(f)
.execute('CREATE TABLE t AS SELECT * FROM read_csv(…)')"` into a fresh file (bench/whole_process.py's
commands), interleaved, one warm-up then the median of {repeat}; CPU = user + system time of the child
(all threads). The in-process columns are the default mode's ingest() / bare CTAS of the same run.

| when | rows | bare (wall / cpu) | ingest (wall / cpu) | ratio wall | ratio cpu | in-process ratio wall / cpu | machine |
|---|---|---|---|---|---|---|---|
"""


def whole(csv: Path, repeat: int) -> dict[str, tuple[float, float]]:
    from bench import whole_process

    figs = whole_process.figures(Path("unused-demo.duckdb"), csv)
    out: dict[str, list[tuple[float, float]]] = {"bare_read_csv": [], "cli_ingest": []}
    for i in range(repeat + 1):
        for name in out:
            cmd, setup = figs[name]
            setup()
            t = time_process(cmd())
            print(f"  round {i}{' (warm-up)' if i == 0 else ''}: {name} wall {t[0]:.2f} s, cpu {t[1]:.2f} s", flush=True)
            if i:
                out[name].append(t)
    return {n: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)) for n, ts in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--whole", action="store_true", help="also whole processes: CLI ingest against a bare read_csv")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    csv = WORK / f"deals_{args.rows}.csv"
    if not csv.exists():
        make_deals_csv(csv, args.rows)
    size_mb = csv.stat().st_size / 1e6
    # warm-up: page cache, DuckDB and Python imports
    time_bare(csv)
    time_ingest(csv, args.rows)
    CPU.clear()
    bare = [time_bare(csv) for _ in range(args.repeat)]
    full = [time_ingest(csv, args.rows) for _ in range(args.repeat)]
    bare_cpu, full_cpu = statistics.median(CPU[: args.repeat]), statistics.median(CPU[args.repeat:])
    b, f = statistics.median(bare), statistics.median(full)
    ratio = f / b
    load = os.getloadavg()[0]  # other work on the machine skews both timings
    line = (f"| {dt.datetime.now():%Y-%m-%d %H:%M} | {args.rows:,} | {size_mb:.0f} MB | {b:.2f} s | {f:.2f} s | "
            f"**{ratio:.2f}** | duckdb {duckdb.__version__}, {os.cpu_count()} cpu, load {load:.1f}, "
            f"Python {platform.python_version()} |")
    print(f"bare CTAS: {', '.join(f'{x:.2f}' for x in bare)} s (median {b:.2f})")
    print(f"ingest:    {', '.join(f'{x:.2f}' for x in full)} s (median {f:.2f})")
    print(f"ratio {ratio:.2f} (target < 2); cpu: bare {bare_cpu:.2f} s, ingest {full_cpu:.2f} s, "
          f"ratio {full_cpu / bare_cpu:.2f}")
    if not RESULTS.exists():
        RESULTS.write_text(HEADER.format(repeat=args.repeat), encoding="utf-8")
    text = RESULTS.read_text(encoding="utf-8")
    at = text.find("\n## Whole processes")  # the in-process table ends there
    RESULTS.write_text(text + line + "\n" if at < 0 else text[:at].rstrip("\n") + "\n" + line + "\n" + text[at:],
                       encoding="utf-8")
    if not args.whole:
        return 0
    load_before = os.getloadavg()[0]
    w = whole(csv, args.repeat)
    (bw, bc), (iw, ic) = w["bare_read_csv"], w["cli_ingest"]
    print(f"whole process: bare {bw:.2f} s (cpu {bc:.2f}), ingest {iw:.2f} s (cpu {ic:.2f}): "
          f"ratio {iw / bw:.2f} (cpu {ic / bc:.2f}; target ≤ 1.5)")
    text = RESULTS.read_text(encoding="utf-8")
    if "## Whole processes" not in text:
        text = text.rstrip("\n") + "\n" + WHOLE_HEADER.format(repeat=args.repeat)
    text += (f"| {dt.datetime.now():%Y-%m-%d %H:%M} | {args.rows:,} | {bw:.2f} / {bc:.2f} s | {iw:.2f} / {ic:.2f} s | "
             f"**{iw / bw:.2f}** | {ic / bc:.2f} | {ratio:.2f} / {full_cpu / bare_cpu:.2f} | duckdb {duckdb.__version__}, "
             f"{os.cpu_count()} cpu, load {load_before:.1f} → {os.getloadavg()[0]:.1f} |\n")
    RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
