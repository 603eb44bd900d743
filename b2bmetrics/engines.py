"""Backends beyond the default DuckDB file: Parquet export, and Spark for data one machine cannot hold.

The metric code is ibis throughout, so the same functions run on whichever backend `con` is:
`compute_kpis(spark_backend(DIR, "local[*]"), cfg, filters)` gives the JSON that
`compute_kpis(store.ibis(), cfg, filters)` gives, byte for byte once printed: money is summed in
decimals and every mean is one division of an exact sum, so neither DuckDB's threads nor Spark's
partition order can change a digit.

What keeps the two in step:

* Timestamps are wall-clock CRM times with no zone. DuckDB writes its TIMESTAMP columns to Parquet
  as timestamps not adjusted to UTC; Spark reads those as TIMESTAMP_NTZ
  (`spark.sql.parquet.inferTimestampNTZ.enabled`), and the session time zone is UTC, so neither a
  comparison, a cast to DATE nor a difference ever shifts a value by the machine's zone.
* DATE columns stay DATE; money stays DECIMAL(18,4) and split shares DECIMAL(12,10) (Parquet
  DECIMAL, read by Spark as DecimalType(18,4) / DecimalType(12,10)); scores and probabilities stay
  DOUBLE; empty tables keep their schema.
* Each `spark_backend` call gets its own Spark session (`newSession()` on the shared context), so
  two exports can be open at once without their table views replacing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from b2bmetrics.errors import B2BError
from b2bmetrics.schema import TABLES

if TYPE_CHECKING:  # annotations only: `export` needs neither ibis nor pyspark, `kpis --engine spark` no store
    from pyspark.sql import SparkSession

    from b2bmetrics.backend import Backend
    from b2bmetrics.store import Store

# the canonical tables (deal_snapshots with its storage column valid_until: `SELECT *`), the snapshot days
# the compact snapshots need, and the load log
EXPORTED = (*TABLES, "snapshot_days", "loads", "load_rejects")
REQUIRED = (*TABLES, "snapshot_days")  # what `kpis --engine spark` needs in an export

# Spark settings every b2bmetrics session needs, whatever the master.
SPARK_CONF: dict[str, str] = {
    # wall-clock timestamps: no time-zone shifts anywhere
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    # ANSI mode raises on overflow and bad casts instead of returning NULL: keep SQL's NULL semantics
    # the metric code was written for (DuckDB's), and do not depend on the cluster's default
    "spark.sql.ansi.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# Only for a local master: small shuffles (the default 200 partitions cost seconds on small data).
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
}


def _quote_path(path: Path) -> str:
    """A single-quoted SQL string literal of `path`."""
    return "'" + str(path).replace("'", "''") + "'"


def export_parquet(store: Store, directory: Path) -> dict[str, int]:
    """Write every table to `directory/<table>.parquet` (replacing what is there); returns row counts.

    One read-only snapshot of the database is exported, so the files are consistent with each other
    even while a load runs. Timestamps are written as Parquet timestamps without a time zone.
    """
    directory.mkdir(parents=True, exist_ok=True)
    con = store.read_connection()
    written: dict[str, int] = {}
    try:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        for name in EXPORTED:
            if name not in present:
                continue
            target = directory / f"{name}.parquet"
            tmp = directory / f".{name}.parquet.tmp"
            con.execute(f'COPY (SELECT * FROM "{name}") TO {_quote_path(tmp)} (FORMAT parquet)')
            tmp.replace(target)  # a reader never sees a half-written file
            row = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            written[name] = int(row[0]) if row else 0
    finally:
        con.close()
    return written


def spark_session(master: str, extra_conf: dict[str, str] | None = None) -> SparkSession:
    """The process's Spark session for `master` (started on first use; about 8 s for local[2]).

    `extra_conf` adds Spark settings, e.g. {"spark.driver.memory": "8g"}; settings that size the
    driver take effect only when this call starts it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise B2BError("the Spark engine needs pyspark", fix="install it with `pip install '.[spark]'`") from exc
    builder = SparkSession.builder.master(master).appName("b2bmetrics")
    conf = {**SPARK_CONF, **(LOCAL_CONF if master.startswith("local") else {}), **(extra_conf or {})}
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a master nobody answers at, …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise B2BError(f"could not start Spark with master {master!r}: {first}",
                       fix="check that Java 17 is installed and the master URL is right "
                           "(local[*], or spark://host:7077 for a cluster)") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_backend(directory: Path, master: str) -> Backend:
    """An ibis PySpark backend with every exported table of `directory` registered as a view.

    Refuses (B2BError) a directory that does not hold an export, and a Spark that does not start.
    On a cluster, `directory` must be readable at the same path by every executor (a shared mount).
    """
    missing = [n for n in REQUIRED if not (directory / f"{n}.parquet").exists()]
    if not directory.is_dir() or missing:
        raise B2BError(f"{directory} does not hold an export (missing {', '.join(missing) or 'directory'})",
                       fix="write it with `b2bmetrics export --db FILE --parquet DIR`")
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - ibis is a core dependency
        raise B2BError("the Spark engine needs ibis-framework[pyspark]",
                       fix="install it with `pip install '.[spark]'`") from exc
    # a session of its own (shared SparkContext): its temp views belong to this backend alone
    session = spark_session(master).newSession()
    conf = {**SPARK_CONF, **(LOCAL_CONF if master.startswith("local") else {})}
    for key, value in conf.items():
        if key.startswith("spark.sql."):  # per-session settings; set again, whatever the context had
            session.conf.set(key, value)
    con = ibis.pyspark.connect(session)
    for name in EXPORTED:
        path = directory / f"{name}.parquet"
        if path.exists():
            con.read_parquet(str(path.resolve()), table_name=name)
    return con
