"""The demo's entry points: `generate` (every canonical table as Arrow) and `write_demo` (into a store)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import Clock, labels, numbers, timestamps
from b2bmetrics.demo.contracts import customer_windows, make_contracts
from b2bmetrics.demo.deals import make_deals, make_quotas, make_splits
from b2bmetrics.demo.payments import make_payments
from b2bmetrics.demo.people import make_accounts, make_people
from b2bmetrics.demo.pipeline import FORECAST_CATEGORIES, make_timeline
from b2bmetrics.demo.service import make_activities, make_surveys, make_tickets
from b2bmetrics.demo.snapshots import make_snapshots
from b2bmetrics.demo.targets import make_targets
from b2bmetrics.errors import B2BError
from b2bmetrics.metrics.materialized import RELATIONS
from b2bmetrics.schema import SQL_TYPE, TABLES
from b2bmetrics.store import Store

Progress = Callable[[str, float], None]

DEFAULT_TODAY = dt.date(2026, 10, 31)
HISTORY_DAYS = 3 * 365 + 1  # the data covers three years up to `today`
# the compact snapshot format's list of snapshot days (schema.SNAPSHOT_DAYS_DDL), written with deal_snapshots
STORAGE_TABLES: dict[str, tuple[tuple[str, pa.DataType], ...]] = {"snapshot_days": (("snapshot_date", pa.date32()),)}
ARROW_TYPE = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32(), "DOUBLE": pa.float64(),
              "DECIMAL(18,4)": pa.decimal128(18, 4), "DECIMAL(12,10)": pa.decimal128(12, 10)}


# ---- public API ---------------------------------------------------------------------------------
def generate(seed: int = 7, accounts: int = 2000, today: dt.date | None = None) -> dict[str, pa.Table]:
    """Every canonical table of a realistic demo dataset, keyed by table name, then `snapshot_days`.

    Each table has exactly the columns the database stores (`schema.TABLES[name].stored_names`: the
    canonical ones, then deal_snapshots' `valid_until`), typed as the database types them;
    `deal_snapshots` is in the compact storage format over the days of `snapshot_days`.
    The same `seed`, `accounts` and `today` always give identical tables. Refuses `accounts < 1`.
    """
    return _generate(seed, accounts, today or DEFAULT_TODAY, None)


def write_demo(store: Store, seed: int = 7, accounts: int = 2000,
               progress: Progress | None = None) -> dict[str, int]:
    """Replace every canonical table of `store` with the demo dataset, in one atomic write.

    Records one `loads` row per canonical table (file name `demo:seed=N,accounts=M`, mode
    `replace`) and returns the row count of each table written (`snapshot_days` too). `progress(label, fraction)` is called as the work advances.
    """
    report: Progress = progress or (lambda _label, _fraction: None)
    tables = _generate(seed, accounts, DEFAULT_TODAY, report)
    file_name = f"demo:seed={seed},accounts={accounts}"
    counts: dict[str, int] = {}
    with store.write(relations=RELATIONS) as con:
        row = con.execute("SELECT coalesce(max(load_id), 0) FROM loads").fetchone()
        load_id = int(row[0]) if row else 0
        loaded_at = dt.datetime.now().replace(microsecond=0)
        for i, (name, table) in enumerate(tables.items()):
            label = TABLES[name].label_zh if name in TABLES else "快照日期"
            report(f"Writing {name} … / 写入{label} …", 0.75 + 0.2 * i / len(tables))
            columns = ", ".join(f'"{c}"' for c in table.column_names)
            view = f"_demo_{name}"
            con.register(view, table)
            try:
                con.execute(f'DELETE FROM "{name}"')
                con.execute(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{view}"')
            finally:
                con.unregister(view)
            counts[name] = table.num_rows
            if name in STORAGE_TABLES:  # part of deal_snapshots' storage, not a table of its own to load
                continue
            load_id += 1
            digest = hashlib.sha256(f"{file_name},table={name}".encode()).hexdigest()
            con.execute("INSERT INTO loads (load_id, table_name, file_name, sha256, rows, rejected, mode, "
                        "loaded_at, mapping) VALUES (?, ?, ?, ?, ?, 0, 'replace', ?, NULL)",
                        [load_id, name, file_name, digest, table.num_rows, loaded_at])
        report("Saving and updating the derived tables … / 保存并更新汇总表 …", 0.98)
    report("Demo dataset written / 演示数据已写入", 1.0)
    return counts


# ---- the generator -------------------------------------------------------------------------------
def _generate(seed: int, accounts: int, today: dt.date, report: Progress | None) -> dict[str, pa.Table]:
    if isinstance(accounts, bool) or not isinstance(accounts, int | np.integer) or accounts < 1:
        raise B2BError(f"the demo needs at least one account, got accounts = {accounts!r}",
                       fix="pass a positive whole number, e.g. --accounts 2000")
    accounts = int(accounts)
    say: Progress = report or (lambda _label, _fraction: None)
    seed_key = int(seed) % 2**63
    rngs = {part: np.random.default_rng([seed_key, i]) for i, part in enumerate(
        ("people", "accounts", "deals", "splits", "contracts", "tickets", "surveys", "activities", "quotas",
         "pipeline", "payments"))}
    today_day = float((np.datetime64(today, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
    clock = Clock(start=today_day - HISTORY_DAYS + 1, now=today_day + 0.75)

    say("Generating people … / 生成人员 …", 0.0)
    people = make_people(rngs["people"], accounts, clock)
    say("Generating accounts … / 生成客户 …", 0.05)
    accts = make_accounts(rngs["accounts"], accounts, clock, people)
    say("Generating deals … / 生成商机 …", 0.10)
    deals = make_deals(rngs["deals"], clock, people, accts)
    splits = make_splits(rngs["splits"], people, deals)
    say("Generating contracts … / 生成合同 …", 0.35)
    contracts = make_contracts(rngs["contracts"], clock, accts, deals)
    window = customer_windows(clock, accts, contracts)
    say("Generating tickets … / 生成工单 …", 0.42)
    tickets = make_tickets(rngs["tickets"], clock, people, accts, window)
    say("Generating surveys … / 生成回访 …", 0.50)
    surveys = make_surveys(rngs["surveys"], clock, people, accts, window, tickets)
    say("Generating activities … / 生成跟进记录 …", 0.55)
    activities = make_activities(rngs["activities"], clock, people, accts, deals, window)
    quotas = make_quotas(rngs["quotas"], clock, people, deals)
    say("Generating forecasts and payments … / 生成预测与回款 …", 0.60)
    timeline = make_timeline(rngs["pipeline"], clock, people, accts, deals)
    payments = make_payments(rngs["payments"], clock, people, accts, deals, contracts, window)
    targets = make_targets(people, quotas)
    say("Generating deal snapshots … / 生成商机快照 …", 0.65)
    days, snapshots = make_snapshots(clock, people, deals, timeline)
    say("Assembling tables … / 整理数据表 …", 0.70)

    deal_table = deals.table(people, accts)
    for name, column in (
        ("expected_close_at", timestamps(timeline.expected_close, ~np.isnan(timeline.expected_close))),
        ("probability", numbers(timeline.probability, ~np.isnan(timeline.probability))),
        ("forecast_category", labels(FORECAST_CATEGORIES, np.nan_to_num(timeline.category_now).astype(np.int64),
                                     ~np.isnan(timeline.category_now))),
    ):
        deal_table = deal_table.append_column(name, column)
    del timeline  # every deal's events: the largest arrays, no longer needed
    out = {
        "accounts": accts.table(people), "reps": people.table(), "quotas": quotas.table(people),
        "deals": deal_table, "deal_stage_history": deals.history_table(),
        "deal_splits": splits, "contracts": contracts.table(accts), "tickets": tickets.arrow,
        "surveys": surveys, "activities": activities, "payments": payments, "targets": targets,
        "deal_snapshots": snapshots, "snapshot_days": days,
    }
    return {name: _conform(name, out[name]) for name in (*TABLES, *STORAGE_TABLES)}


def _conform(name: str, table: pa.Table) -> pa.Table:
    """Exactly the canonical columns (then the storage ones), in order, with the database's types."""
    if name in STORAGE_TABLES:
        fields = [pa.field(c, t) for c, t in STORAGE_TABLES[name]]
    else:
        spec = TABLES[name]
        fields = [pa.field(c.name, ARROW_TYPE[SQL_TYPE[c.kind]]) for c in (*spec.columns, *spec.storage)]
    schema = pa.schema(fields)
    assert set(schema.names) <= set(table.column_names), (name, table.column_names)
    return table.select(schema.names).cast(schema)
