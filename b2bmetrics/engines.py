"""Backends beyond the default DuckDB file: Parquet export, and Spark for data one machine cannot hold.

The metric code is ibis throughout, so the same functions run on whichever backend `con` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from b2bmetrics.errors import B2BError
from b2bmetrics.schema import TABLES
from b2bmetrics.store import Store

EXPORTED = (*TABLES, "loads", "load_rejects")


def export_parquet(store: Store, directory: Path) -> dict[str, int]:
    """Write every table to `directory/<table>.parquet`; returns row counts."""
    directory.mkdir(parents=True, exist_ok=True)
    con = store.read_connection()
    written: dict[str, int] = {}
    try:
        for name in EXPORTED:
            target = directory / f"{name}.parquet"
            # single-quoted literal: escape quotes in the path
            con.execute(f"COPY (SELECT * FROM \"{name}\") TO '{str(target).replace(chr(39), chr(39) * 2)}' "
                        "(FORMAT parquet)")
            row = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            written[name] = int(row[0]) if row else 0
    finally:
        con.close()
    return written


def spark_backend(directory: Path, master: str) -> Any:
    """An ibis PySpark backend with every exported table registered as a view."""
    missing = [n for n in TABLES if not (directory / f"{n}.parquet").exists()]
    if not directory.is_dir() or missing:
        raise B2BError(f"{directory} does not hold an export (missing {', '.join(missing) or 'directory'})",
                       fix="write it with `b2bmetrics export --db FILE --parquet DIR`")
    try:
        import ibis
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise B2BError("the Spark engine needs pyspark", fix="install it with `pip install '.[spark]'`") from exc
    session = (
        SparkSession.builder.master(master)
        .appName("b2bmetrics")
        # timestamps are wall-clock CRM times: no time-zone shifts anywhere
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    con = ibis.pyspark.connect(session)
    for name in EXPORTED:
        path = directory / f"{name}.parquet"
        if path.exists():
            con.read_parquet(str(path), table_name=name)
    return con
