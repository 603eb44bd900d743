"""The same metrics on Spark: `compute_kpis` on a Parquet export read by Spark equals DuckDB's.

Three stores are exported and read back by one local[2] Spark session: the demo dataset (300
accounts), a "rough" copy of it that real exports look like (sub-second timestamps, instants a
microsecond either side of midnight, ties in the stage history, replies at exactly the SLA,
missing amounts, dates, accounts and statuses, contracts that end when they start, no deal
splits), and an empty store. For each, several filter sets and two configurations must give the
same JSON: same keys, integers equal, money (Decimal) equal exactly and a Decimal on both engines,
floats equal to 1e-9 relative (means and ratios are one division of exact sums on both, but the
engines' medians and score means may differ in the last bits), the same commission rows in the same
order. Spark prints the same bytes twice (`jsonout.dumps`), as DuckDB does.

The Spark JVM runs in Asia/Shanghai time, so a timestamp read or written through the machine's
zone instead of as wall-clock time would move by eight hours and change the numbers.

Skipped only when pyspark is not installed outside CI; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from b2bmetrics import jsonout
from b2bmetrics.cli import main
from b2bmetrics.config import Config, Plan
from b2bmetrics.demo import write_demo
from b2bmetrics.engines import EXPORTED, export_parquet, spark_backend, spark_session
from b2bmetrics.filters import Filters
from b2bmetrics.metrics import compute_kpis
from b2bmetrics.metrics.materialized import RELATIONS
from b2bmetrics.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MASTER = "local[2]"
REL = 1e-9
JVM_ZONE = "Asia/Shanghai"

if importlib.util.find_spec("pyspark") is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("pyspark is not installed, and CI must run the Spark parity tests: "
                           "install the spark extra (it is in requirements.lock)")
    pytest.skip("pyspark is not installed (pip install '.[spark]')", allow_module_level=True)


# ---- comparing two KPI objects --------------------------------------------------------------

def plain(value: Any) -> Any:
    """A `compute_kpis` value as plain Python: numpy scalars as their values, tuples as lists, NaN
    as None; Decimal, float, int, str, None kept as they are (dates as ISO text)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes | decimal.Decimal):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def differences(duck: Any, spark: Any, path: str = "$") -> list[str]:
    """Every place where the two JSON-ready values differ beyond the tolerance (empty = equal).

    Money is exact: two Decimals must be equal exactly (a Decimal on one engine and a float on the
    other is a difference of type)."""
    if isinstance(duck, dict) and isinstance(spark, dict):
        if list(duck) != list(spark):
            return [f"{path}: keys {list(duck)} != {list(spark)}"]
        return [d for k in duck for d in differences(duck[k], spark[k], f"{path}.{k}")]
    if isinstance(duck, list) and isinstance(spark, list):
        if len(duck) != len(spark):
            return [f"{path}: {len(duck)} items != {len(spark)}"]
        return [d for i, (a, b) in enumerate(zip(duck, spark, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    if type(duck) is not type(spark):
        return [f"{path}: {duck!r} ({type(duck).__name__}) != {spark!r} ({type(spark).__name__})"]
    if isinstance(duck, decimal.Decimal):
        return [] if duck == spark else [f"{path}: {duck!r} != {spark!r} (money is exact)"]
    if isinstance(duck, float):
        if not math.isclose(duck, spark, rel_tol=REL, abs_tol=1e-12):
            return [f"{path}: {duck!r} != {spark!r}"]
        return []
    return [] if duck == spark else [f"{path}: {duck!r} != {spark!r}"]


def test_differences_catches_what_matters() -> None:
    base = {"a": 1, "b": [1.0, None], "c": {"d": "x"}}
    assert differences(base, {"a": 1, "b": [1.0 + 1e-12, None], "c": {"d": "x"}}) == []
    assert differences(base, {"a": 1.0, "b": [1.0, None], "c": {"d": "x"}})  # int vs float prints differently
    assert differences(base, {"a": 1, "b": [1.0 + 1e-6, None], "c": {"d": "x"}})
    assert differences(base, {"a": 1, "b": [1.0, 0.0], "c": {"d": "x"}})
    assert differences(base, {"a": 1, "b": [1.0], "c": {"d": "x"}})
    assert differences(base, {"a": 1, "b": [1.0, None], "c": {"e": "x"}})
    money = {"m": decimal.Decimal("1500.00")}
    assert differences(money, {"m": decimal.Decimal("1500.0000")}) == []  # the same amount, any scale
    assert differences(money, {"m": decimal.Decimal("1500.0001")})  # exact: no tolerance for money
    assert differences(money, {"m": 1500.0})  # a float where a Decimal belongs


# ---- data -----------------------------------------------------------------------------------

ROUGHEN = [
    # sub-second instants, and a microsecond either side of midnight on the period bounds used below
    "UPDATE deals SET created_at = created_at + to_microseconds(CAST(hash(deal_id) % 997003 AS BIGINT)),"
    " closed_at = closed_at + to_microseconds(CAST(hash(deal_id || 'c') % 59000001 AS BIGINT))"
    " WHERE hash(deal_id) % 3 = 0",
    "UPDATE deals SET created_at = TIMESTAMP '2025-06-30 23:59:59.999999' WHERE hash(deal_id) % 97 = 1",
    "UPDATE deals SET created_at = TIMESTAMP '2025-01-01 00:00:00' WHERE hash(deal_id) % 97 = 2",
    "UPDATE deals SET created_at = TIMESTAMP '2024-12-31 23:59:59.999999' WHERE hash(deal_id) % 97 = 3",
    # what exports lack
    "UPDATE deals SET amount = NULL WHERE hash(deal_id) % 11 = 0",
    "UPDATE deals SET created_at = NULL WHERE hash(deal_id) % 41 = 0",
    "UPDATE deals SET closed_at = NULL WHERE hash(deal_id) % 43 = 0",
    "UPDATE deals SET account_id = NULL WHERE hash(deal_id) % 47 = 0",
    "UPDATE deals SET status = NULL WHERE hash(deal_id) % 5 = 0",
    "UPDATE deals SET owner_rep_id = NULL WHERE hash(deal_id) % 53 = 0",
    # stage history: fractions of a second, and two entries at the same instant (window order ties)
    "UPDATE deal_stage_history SET entered_at = entered_at + to_microseconds(CAST(hash(deal_id || stage) % 1000000"
    " AS BIGINT)) WHERE hash(deal_id) % 4 = 0",
    "UPDATE deal_stage_history h SET entered_at = (SELECT min(entered_at) FROM deal_stage_history g"
    " WHERE g.deal_id = h.deal_id) WHERE hash(h.deal_id) % 13 = 0 AND h.stage IN ('qualified', 'lost')",
    # tickets: replies at exactly the SLA, a microsecond after it, fractional hours, unanswered
    "UPDATE tickets SET first_response_at = opened_at + INTERVAL 24 HOUR WHERE hash(ticket_id) % 17 = 0",
    "UPDATE tickets SET first_response_at = opened_at + INTERVAL 24 HOUR + INTERVAL 1 MICROSECOND"
    " WHERE hash(ticket_id) % 17 = 1",
    "UPDATE tickets SET first_response_at = first_response_at + to_microseconds(CAST(hash(ticket_id) % 3600000000"
    " AS BIGINT)) WHERE hash(ticket_id) % 3 = 0",
    "UPDATE tickets SET first_response_at = NULL WHERE hash(ticket_id) % 19 = 0",
    "UPDATE surveys SET submitted_at = submitted_at + to_microseconds(CAST(hash(response_id) % 1000000 AS BIGINT))",
    # contracts that end on their first day, and ongoing ones
    "UPDATE contracts SET end_date = start_date WHERE hash(contract_id) % 23 = 0",
    "UPDATE contracts SET end_date = NULL WHERE hash(contract_id) % 29 = 0",
    # an empty table: no deal is split
    "DELETE FROM deal_splits",
]


def _export(store: Store, tmp: Path) -> Path:
    out = tmp / "parquet"
    written = export_parquet(store, out)
    assert set(written) == set(EXPORTED)
    return out


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[2] Spark session for the module, its JVM in a zone far from UTC."""
    session = spark_session(MASTER, {"spark.driver.extraJavaOptions": f"-Duser.timezone={JVM_ZONE}"})
    assert session.sparkContext._jvm.java.util.TimeZone.getDefault().getID() == JVM_ZONE
    yield session
    session.stop()


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> dict[str, tuple[Any, Any]]:
    """name -> (ibis DuckDB backend, ibis Spark backend) over the same data."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in ("demo", "rough", "empty"):
        tmp = tmp_path_factory.mktemp(name)
        store = Store.at(tmp / f"{name}.duckdb")
        if name == "empty":
            store.ensure()
        else:
            write_demo(store, seed=7, accounts=300)
        if name == "rough":
            with store.write(relations=RELATIONS) as con:
                for sql in ROUGHEN:
                    con.execute(sql)
        out[name] = (store.ibis(), spark_backend(_export(store, tmp), MASTER))
    return out


def _top_rep(con: Any) -> str:
    deals = con.table("deals")
    owned = deals.filter(deals.owner_rep_id.notnull())
    top = owned.group_by("owner_rep_id").aggregate(n=owned.count())
    return str(top.order_by([top.n.desc(), top.owner_rep_id]).limit(1).execute()["owner_rep_id"].iloc[0])


FILTERS: dict[str, Filters] = {
    "all": Filters(),
    "region": Filters(regions=("华东",)),
    "rep": Filters(reps=("<top rep>",)),
    "combined": Filters(dt.date(2024, 7, 1), dt.date(2025, 12, 31), regions=("华东", "华南"), segments=("中型企业",)),
    "nobody": Filters(regions=("nowhere",)),
}
OTHER_PLAN = Config(region_of="rep", commission=Plan(period="month", mode="retroactive", cap=3000.0,
                                                     default_quota=50000.0, clawback_days=60))
# each case costs Spark 25-60 s in CI: every kind of filter once on the demo ("combined" carries the
# period and the segment), the rough data and the other plan on the cases that reach the most code
CASES = (
    [("demo", f, "default") for f in FILTERS]
    + [("rough", f, "default") for f in ("all", "combined")]
    + [("demo", "region", "other"), ("rough", "all", "other"), ("empty", "all", "default")]
)


def _filters(name: str, con: Any) -> Filters:
    f = FILTERS[name]
    if f.reps:
        f = Filters(f.date_from, f.date_to, f.regions, f.segments, (_top_rep(con),))
    return f


@pytest.mark.parametrize(("dataset", "filters", "config"), CASES, ids=["-".join(c) for c in CASES])
def test_spark_gives_the_same_kpis(datasets: dict[str, tuple[Any, Any]], dataset: str, filters: str,
                                   config: str) -> None:
    duck_con, spark_con = datasets[dataset]
    cfg = Config() if config == "default" else OTHER_PLAN
    f = _filters(filters, duck_con)
    duck = plain(compute_kpis(duck_con, cfg, f))
    spark = plain(compute_kpis(spark_con, cfg, f))
    assert differences(duck, spark) == []
    # money the contract calls exact is a Decimal on both engines
    for family, key in (("funnel", "won_amount"), ("churn", "mrr_start"), ("churn", "mrr_end")):
        assert type(duck[family][key]) is decimal.Decimal and type(spark[family][key]) is decimal.Decimal
    if dataset != "empty" and filters != "nobody":
        # the case is worth its time only when it has numbers to compare
        assert duck["funnel"]["stages"][0]["entered"] > 0
        assert duck["commission"]["rows"], "no commission rows to compare"


def test_spark_prints_the_same_bytes_twice(datasets: dict[str, tuple[Any, Any]]) -> None:
    """Deterministic output on Spark (CONTRACT §4 v2): two runs over the rough data give byte-identical
    JSON, and the money in it is printed exactly (no 18501147.310000002)."""
    _duck_con, spark_con = datasets["rough"]
    first = jsonout.dumps(compute_kpis(spark_con, Config(), Filters()))
    assert jsonout.dumps(compute_kpis(spark_con, Config(), Filters())) == first
    won = json.loads(first, parse_float=decimal.Decimal)["funnel"]["won_amount"]
    assert won == won.quantize(decimal.Decimal("0.01"))  # demo amounts are whole cents: no binary tail


def test_rough_data_is_rough(datasets: dict[str, tuple[Any, Any]]) -> None:
    """The rough copy really has what it is meant to test (fractions, SLA edges, gaps)."""
    con = datasets["rough"][0]
    t = con.table("tickets")
    hours = t.first_response_at.delta(t.opened_at, unit="microsecond") / 3_600_000_000
    row = t.aggregate(at_sla=(hours == 24).sum(), just_after=((hours > 24) & (hours < 24.001)).sum(),
                      fractional=(t.first_response_at.delta(t.opened_at, unit="microsecond") % 1_000_000 != 0).sum()
                      ).execute().iloc[0]
    assert row["at_sla"] > 0 and row["just_after"] > 0 and row["fractional"] > 0
    d = con.table("deals")
    gaps = d.aggregate(no_amount=d.amount.isnull().sum(), no_status=d.status.isnull().sum(),
                       no_created=d.created_at.isnull().sum()).execute().iloc[0]
    assert min(gaps) > 0
    assert con.table("deal_splits").count().execute() == 0


def test_timestamps_come_back_as_wall_clock(datasets: dict[str, tuple[Any, Any]]) -> None:
    """The same instants, to the microsecond, on both engines (no shift by the JVM's zone)."""
    duck_con, spark_con = datasets["rough"]
    q = {
        name: con.table("deals").filter(lambda d: d.created_at.date() == dt.date(2025, 6, 30))
        .select("deal_id", "created_at").order_by("deal_id").execute()
        for name, con in (("duck", duck_con), ("spark", spark_con))
    }
    assert len(q["duck"]) > 0
    assert q["duck"]["deal_id"].tolist() == q["spark"]["deal_id"].tolist()
    assert [str(x) for x in q["duck"]["created_at"]] == [str(x) for x in q["spark"]["created_at"]]


def test_cli_prints_the_same_json(tmp_path: Path, datasets: dict[str, tuple[Any, Any]],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`kpis --engine spark --parquet DIR` and `kpis --db FILE` print the same object."""
    store = Store.at(tmp_path / "cli.duckdb")
    write_demo(store, seed=3, accounts=120)
    parquet = tmp_path / "export"
    assert main(["export", "--db", str(store.path), "--parquet", str(parquet)]) == 0
    assert "wrote" in capsys.readouterr().out
    args = ["kpis", "--from", "2025-01-01", "--to", "2025-09-30", "--region", "华东", "--format", "json"]
    assert main([*args, "--db", str(store.path)]) == 0
    duck = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "spark", "--parquet", str(parquet), "--spark-master", MASTER]) == 0
    spark = json.loads(capsys.readouterr().out)
    assert differences(duck, spark) == []


def test_cli_refuses_a_directory_without_an_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--engine", "spark", "--parquet", str(tmp_path), "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "does not hold an export" in err and "b2bmetrics export" in err
