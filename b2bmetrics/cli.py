"""`b2bmetrics demo | ingest | kpis | export` (CONTRACT §4) and `doctor | backup | restore` (docs/operations.md).

Exit codes: 0 ok, 2 bad input (the message says what, where and how to fix it; argparse also
exits 2 on a usage error; a damaged database, a full disk; `doctor` finding a problem), 1 a bug.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from b2bmetrics.errors import B2BError

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT = 0, 1, 2


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="b2bmetrics", description="B2B sales and customer metrics on DuckDB.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write a realistic, deterministic demo dataset")
    demo.add_argument("--db", required=True, type=Path, help="DuckDB file to write")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--accounts", type=_positive_int, default=2000)

    ingest = sub.add_parser("ingest", help="load CRM exports (CSV, XLSX, Parquet)")
    ingest.add_argument("--db", required=True, type=Path)
    ingest.add_argument("--config", type=Path)
    ingest.add_argument("--table", help="the canonical table every file is (default: detected)")
    ingest.add_argument("--mapping", type=Path, help="TOML header mapping (CONTRACT §2)")
    ingest.add_argument("--allow-rejects", action="store_true", help="load valid rows, keep rejects in load_rejects")
    ingest.add_argument("--append", action="store_true", help="upsert by id instead of replacing the table")
    ingest.add_argument("--as-of", dest="as_of", type=_date,
                        help="the day of the deals' snapshot a load of deals writes (default: today)")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    kpis = sub.add_parser("kpis", help="print every KPI for a period and filters")
    kpis.add_argument("--db", type=Path)
    kpis.add_argument("--config", type=Path)
    kpis.add_argument("--from", dest="date_from", type=_date)
    kpis.add_argument("--to", dest="date_to", type=_date)
    kpis.add_argument("--region", action="append", default=[])
    kpis.add_argument("--segment", action="append", default=[])
    kpis.add_argument("--rep", action="append", default=[])
    kpis.add_argument("--format", choices=("json", "table"), default="json")
    kpis.add_argument("--lang", choices=("en", "zh"), default="en", help="labels of --format table")
    kpis.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    kpis.add_argument("--parquet", type=Path, help="with --engine spark: the directory `export` wrote")
    kpis.add_argument("--spark-master", help="Spark master URL (default: [engine] spark_master or local[*])")

    export = sub.add_parser("export", help="write every table as Parquet")
    export.add_argument("--db", required=True, type=Path)
    export.add_argument("--parquet", required=True, type=Path)

    doctor = sub.add_parser("doctor", help="check that a database and its snapshots are whole")
    doctor.add_argument("--db", required=True, type=Path)
    backup = sub.add_parser("backup", help="copy the database consistently, even while it is read or loaded")
    backup.add_argument("--db", required=True, type=Path)
    backup.add_argument("--to", dest="folder", required=True, type=Path, help="folder of the copy")
    restore = sub.add_parser("restore", help="replace the database with a backup (the replaced file is kept)")
    restore.add_argument("--db", required=True, type=Path)
    restore.add_argument("--from", dest="source", required=True, type=Path, help="the backup file")
    return parser


def _progress(label: str, fraction: float) -> None:
    if sys.stderr.isatty():
        print(f"\r{label:<60} {fraction:6.1%}", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from b2bmetrics.demo import write_demo
    from b2bmetrics.store import Store

    started = time.perf_counter()
    counts = write_demo(Store.at(args.db), seed=args.seed, accounts=args.accounts, progress=_progress)
    rows = ", ".join(f"{name} {n:,}" for name, n in counts.items())
    print(f"demo dataset written to {args.db} in {time.perf_counter() - started:.1f} s: {rows}")
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from b2bmetrics.config import load_config
    from b2bmetrics.ingest import ingest
    from b2bmetrics.store import Store

    cfg = load_config(args.config, args.db)
    results = ingest(Store.at(args.db), list(args.paths), cfg, table=args.table, mapping_file=args.mapping,
                     allow_rejects=args.allow_rejects, append=args.append, progress=_progress,
                     as_of=args.as_of, on_wait=_say)
    for r in results:
        if r.skipped:
            print(f"{r.table:<20} <- {r.source}: unchanged (this file is already the latest load)")
            continue
        print(f"{r.table:<20} <- {r.source}: {r.rows:,} rows loaded, {r.rejected:,} rejected")
        if r.unmapped:
            print(f"    not loaded, mapping to no column of {r.table}: {', '.join(r.unmapped)} "
                  "(map one with --mapping FILE: see docs/ingest.md)")
        for rej in r.rejects[:20]:
            print(f"    row {rej.row}, column {rej.column}: {rej.value!r}: {rej.reason}")
        if r.rejected > min(len(r.rejects), 20):
            print(f"    … and {r.rejected - min(len(r.rejects), 20):,} more in table load_rejects")
    return EXIT_OK


def cmd_kpis(args: argparse.Namespace) -> int:
    from b2bmetrics.config import load_config
    from b2bmetrics.filters import Filters
    from b2bmetrics.metrics import compute_kpis

    filters = Filters(args.date_from, args.date_to, tuple(args.region), tuple(args.segment), tuple(args.rep))
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise B2BError(f"--from {args.date_from} is after --to {args.date_to}", fix="swap the two dates")
    con: Backend
    if args.engine == "spark":
        from b2bmetrics.engines import spark_backend

        if args.parquet is None:
            raise B2BError("--engine spark needs --parquet DIR", fix="write it with `b2bmetrics export --db F --parquet DIR`")
        cfg = load_config(args.config, None)
        con = spark_backend(args.parquet, args.spark_master or cfg.spark_master)
    else:
        from b2bmetrics.store import Store

        if args.db is None:
            raise B2BError("kpis needs --db FILE (or --engine spark --parquet DIR)", fix="add --db data/demo.duckdb")
        store = Store.at(args.db)
        cfg = load_config(args.config, args.db)
        con = store.ibis()
    result = compute_kpis(con, cfg, filters)
    if args.format == "json":
        from b2bmetrics.jsonout import dumps

        sys.stdout.flush()
        sys.stdout.buffer.write(dumps(result) + b"\n")  # UTF-8 whatever the terminal's locale
        sys.stdout.buffer.flush()
    else:
        from b2bmetrics.report import kpi_table

        print(kpi_table(result, lang=args.lang, currency=cfg.currency))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from b2bmetrics.engines import export_parquet
    from b2bmetrics.store import Store

    written = export_parquet(Store.at(args.db), args.parquet)
    print(f"wrote {len(written)} tables to {args.parquet}: {', '.join(f'{t} {n:,}' for t, n in written.items())}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from b2bmetrics.store import health

    findings = health.check(args.db.expanduser().resolve())
    for f in findings:
        print(f"{'ok     ' if f.ok else 'PROBLEM'} {f.what}")
    if all(f.ok for f in findings):
        print("the database is whole")
        return EXIT_OK
    print(f"fix: {health.recovery_steps(args.db)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_backup(args: argparse.Namespace) -> int:
    from b2bmetrics.store import Store
    from b2bmetrics.store.backup import backup

    copy = backup(Store.at(args.db), args.folder)
    print(f"backed up {args.db} to {copy} ({copy.stat().st_size:,} bytes, every table read back whole)")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from b2bmetrics.store import Store
    from b2bmetrics.store.backup import restore

    kept = restore(Store.at(args.db), args.source)
    print(f"restored {args.db} from {args.source}"
          + (f"; the replaced file is kept as {kept} (remove it when you are sure)" if kept else ""))
    return EXIT_OK


COMMANDS = {"demo": cmd_demo, "ingest": cmd_ingest, "kpis": cmd_kpis, "export": cmd_export,
            "doctor": cmd_doctor, "backup": cmd_backup, "restore": cmd_restore}


def _explained(exc: Exception, args: argparse.Namespace) -> B2BError | None:
    """A damaged database or a full disk met outside a write (a query, an export): the user's message."""
    db = getattr(args, "db", None)
    if db is None:
        return None
    from b2bmetrics.store import health

    path = Path(db).expanduser().resolve()
    return health.damage_of(exc, path) or health.disk_full_of(exc, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except B2BError as exc:
        print(f"b2bmetrics {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`kpis | head`): not a bug, nothing more to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except Exception as exc:  # a bug: say so, keep the traceback for the report
        explained = _explained(exc, args)
        if explained is not None:
            print(f"b2bmetrics {args.command}: {explained}", file=sys.stderr)
            return EXIT_BAD_INPUT
        traceback.print_exc()
        print("b2bmetrics: this is a bug in b2bmetrics, not in your data; please report it with the "
              "traceback above", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    raise SystemExit(main())
