"""Time and peak memory of the demo generator: `python -m bench.bench_demo [--accounts N] [--write]`.

Prints one JSON object. Measured by hand, not in the test suite; the figures recorded in the
lead's notes come from this script on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from b2bmetrics.demo import generate, write_demo
from b2bmetrics.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="also time write_demo into a temporary database")
    args = parser.parse_args()

    started = time.perf_counter()
    tables = generate(seed=args.seed, accounts=args.accounts)
    result: dict[str, object] = {
        "accounts": args.accounts,
        "generate_s": round(time.perf_counter() - started, 2),
        "rows": {name: t.num_rows for name, t in tables.items()},
        "arrow_mb": round(sum(t.nbytes for t in tables.values()) / 2**20, 1),
    }
    del tables
    if args.write:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo.duckdb"
            started = time.perf_counter()
            write_demo(Store.at(path), seed=args.seed, accounts=args.accounts)
            result["write_demo_s"] = round(time.perf_counter() - started, 2)
            result["db_mb"] = round(path.stat().st_size / 2**20, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
