"""Time and peak memory of the demo generator: `python -m bench.bench_demo [--accounts N] [--write]`.

Prints one JSON object; with `--write`, also the database's size and each table's share of it
(the storage blocks it uses, 256 KiB each: the v2 budget is 1.5× the v1 database at 200,000 accounts). Measured by hand, not in the test suite; the figures recorded in the
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
            result["table_mb"] = _table_sizes(path)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result, ensure_ascii=False))


def _table_sizes(path: Path) -> dict[str, float]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        sizes = {}
        for name in names:
            row = con.execute("SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE block_id >= 0",
                              [name]).fetchone()
            sizes[name] = round((row[0] if row else 0) * 256 / 1024, 1)
    finally:
        con.close()
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    main()
