"""What every server-side benchmark shares: scratch copies of the demo database, a dashboard server
on loopback (start, stop, its memory and CPU), the machine and revision lines, results sections.

Used by bench/load_test.py and bench/first_paint.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "load"  # scratch (git-ignored)
SOURCE_DB = ROOT / "bench" / "work" / "scale" / "demo_200000.duckdb"
ACCOUNTS = 200_000
RESULTS_MD = ROOT / "bench" / "results_load.md"
BIN = Path(sys.executable).parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



def source_db() -> Path:
    """The 200,000-account demo (generated once, ~30 s, as bench/run.py does)."""
    if not SOURCE_DB.exists():
        SOURCE_DB.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(BIN / "b2bmetrics"), "demo", "--db", str(SOURCE_DB), "--accounts", str(ACCOUNTS)],
                       check=True, cwd=ROOT)
    return SOURCE_DB


def copy_db(name: str) -> Path:
    """A private copy of the demo database (only the .duckdb file; its snapshots and lock start empty)."""
    WORK.mkdir(parents=True, exist_ok=True)
    target = WORK / f"{name}.duckdb"
    for old in [*WORK.glob(f"{name}.duckdb*"), *WORK.glob(f".{name}.duckdb*")]:
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    shutil.copyfile(source_db(), target)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`streamlit run serve.py` (what `make run` serves) on loopback, in a process group of its own (so it
    can be stopped whole); returns once the server answers, i.e. after its warm-up."""
    env = {**os.environ, "B2BMETRICS_DB": str(db)}
    cmd = [str(BIN / "streamlit"), "run", "serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not answer on port {port} within 60 s; see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def proc_status_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak so far) of a process, in MB."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0]) / 1024
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_line() -> str:
    import duckdb
    import streamlit

    mem_kb = next(int(ln.split()[1]) for ln in open("/proc/meminfo", encoding="ascii") if ln.startswith("MemTotal:"))
    return (f"{os.cpu_count()} cores, {mem_kb / 2**20:.1f} GiB memory, Python {sys.version.split()[0]}, "
            f"Streamlit {streamlit.__version__}, DuckDB {duckdb.__version__}; load average before the run "
            f"{os.getloadavg()[0]:.1f} (the machine is shared)")


def revision() -> str:
    """The code measured: HEAD, and whether the app's files had uncommitted changes (others edit them)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "dashboard.py", "pages", "ui", "b2bmetrics")
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (" plus uncommitted changes to the app" if dirty else "")


def write_section(key: str, text: str) -> None:
    """Replace this benchmark's section of results_load.md (between its markers), keeping the rest."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    old = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else "# Load and first-paint benchmarks\n"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(new, encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a time some run really took)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def fmt_s(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


