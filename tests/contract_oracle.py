"""An independent oracle for CONTRACT §4/§5: the `kpis` JSON computed in plain Python from table rows.

Written from the data contract (CONTRACT.md, the team's shared copy) alone (not from b2bmetrics/metrics), so a disagreement with
`compute_kpis` points at either a project bug or an ambiguity of the contract. Where the contract is
silent, the oracle follows the choices docs/metrics.md records; each such place says "documented
choice". Input: table name -> list of row dicts (canonical column -> Python value, None = null).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from b2bmetrics.config import Config
from b2bmetrics.schema import TABLES

Rows = list[dict[str, Any]]
Tables = dict[str, Rows]
Z = 1.959964


@dataclass(frozen=True)
class OFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    regions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()


# ---- reading ---------------------------------------------------------------------------------


def read_tables(ibis_con: Any) -> Tables:
    """Every canonical table of an ibis DuckDB backend as row dicts (plain SQL, no ibis expressions)."""
    raw = ibis_con.con
    out: Tables = {}
    for name, table in TABLES.items():
        cols = table.column_names
        sql = f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{name}"'
        out[name] = [dict(zip(cols, r, strict=True)) for r in raw.execute(sql).fetchall()]
    return out


def complete(tables: Tables) -> Tables:
    """Rows as written in a test (columns left out are null) with every canonical column, every table."""
    return {name: [{c: r.get(c) for c in table.column_names} for r in tables.get(name, [])]
            for name, table in TABLES.items()}


def _day(v: Any) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    return v


def _ts(v: Any) -> dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v
    return dt.datetime.combine(v, dt.time())


def _div(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _median(xs: list[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


# ---- period and filters ----------------------------------------------------------------------


def resolve_period(t: Tables, f: OFilters) -> tuple[dt.date | None, dt.date | None]:
    days = [
        _day(r[c.name])
        for name, table in TABLES.items()
        for c in table.columns
        if c.kind in ("timestamp", "date") and c.in_date_range
        for r in t.get(name, [])
        if r[c.name] is not None
    ]
    lo, hi = (min(days), max(days)) if days else (None, None)
    return (f.date_from if f.date_from is not None else lo, f.date_to if f.date_to is not None else hi)


def _accounts_in_scope(t: Tables, cfg: Config, f: OFilters, with_rep: bool) -> set[Any] | None:
    if not (f.regions or f.segments or (with_rep and f.reps)):
        return None
    rep_region = {r["rep_id"]: r["region"] for r in t["reps"]}
    out = set()
    for a in t["accounts"]:
        if f.segments and a["segment"] not in f.segments:
            continue
        if f.regions:
            region = rep_region.get(a["owner_rep_id"]) if cfg.region_of == "rep" else a["region"]
            if region not in f.regions:
                continue
        if with_rep and f.reps and a["owner_rep_id"] not in f.reps:
            continue
        out.add(a["account_id"])
    return out


def _in(d: dt.date | None, lo: dt.date | None, hi: dt.date | None) -> bool:
    return d is not None and lo is not None and hi is not None and lo <= d <= hi


def status_of(deal: dict[str, Any], cfg: Config) -> str:
    if deal["status"] is not None:
        return str(deal["status"])
    if deal["stage"] == cfg.pipeline.won_stage:
        return "won"
    if deal["stage"] == cfg.pipeline.lost_stage:
        return "lost"
    return "open"


# ---- funnel ----------------------------------------------------------------------------------


def funnel(t: Tables, cfg: Config, f: OFilters, lo: dt.date | None, hi: dt.date | None) -> dict[str, Any]:
    stages = list(cfg.pipeline.stages)
    pos = {s: i for i, s in enumerate(stages)}
    by_account = OFilters(segments=f.segments) if cfg.region_of == "rep" else f
    acc_scope = _accounts_in_scope(t, cfg, by_account, with_rep=False)
    rep_region = {r["rep_id"]: r["region"] for r in t["reps"]}
    period_given = f.date_from is not None or f.date_to is not None
    cohort = []
    for d in t["deals"]:
        # region/segment select accounts (with region_of = "rep": region selects the deal's owner)
        if cfg.region_of == "rep" and f.regions and rep_region.get(d["owner_rep_id"]) not in f.regions:
            continue
        if acc_scope is not None and d["account_id"] not in acc_scope:
            continue
        if f.reps and d["owner_rep_id"] not in f.reps:
            continue
        created = _day(d["created_at"])
        if created is None:
            if period_given:
                continue
        elif not _in(created, lo, hi):
            continue
        cohort.append(d)
    ids = {d["deal_id"] for d in cohort}
    hist: dict[Any, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for h in t["deal_stage_history"]:
        if h["deal_id"] in ids:
            hist[h["deal_id"]].append((_ts(h["entered_at"]), h["stage"]))
    entered = [0] * len(stages)
    durations: list[list[float]] = [[] for _ in stages]
    won = lost = 0
    won_amounts: list[float] = []
    cycles: list[float] = []
    open_deals = 0
    for d in cohort:
        status = status_of(d, cfg)
        reach = 0
        for _, s in hist[d["deal_id"]]:
            reach = max(reach, pos.get(s, 0))
        reach = max(reach, pos.get(d["stage"], 0))
        if status == "won":
            reach = len(stages) - 1
        for i in range(reach + 1):
            entered[i] += 1
        # documented choice (docs/metrics.md): entries in time order, ties by pipeline position
        # (lost and unknown last); every visit that has a next entry counts (a back-move counts twice)
        entries = sorted(hist[d["deal_id"]], key=lambda e: (e[0], pos.get(e[1], len(stages))))
        for (t0, s0), (t1, _) in zip(entries, entries[1:], strict=False):
            if s0 in pos:
                durations[pos[s0]].append((t1 - t0).total_seconds() / 86400)
        if status == "won":
            won += 1
            if d["amount"] is not None:
                won_amounts.append(d["amount"])
            if d["created_at"] is not None and d["closed_at"] is not None:
                cycles.append((_ts(d["closed_at"]) - _ts(d["created_at"])).total_seconds() / 86400)
        elif status == "lost":
            lost += 1
        else:
            open_deals += 1
    rows = []
    for i, s in enumerate(stages):
        conv = None if i == len(stages) - 1 else _div(entered[i + 1], entered[i])
        rows.append({"stage": s, "phase": cfg.pipeline.phase_of(s), "entered": entered[i],
                     "conversion_to_next": conv, "median_days_in_stage": _median(durations[i])})
    win_rate = _div(won, won + lost)
    avg_won = _mean(won_amounts)
    cycle = _mean(cycles)
    velocity = None
    if win_rate is not None and avg_won is not None and cycle:
        velocity = open_deals * win_rate * avg_won / cycle
    # won_amount is 0.0 when no won deal has an amount (an empty sum; documented)
    return {"stages": rows, "overall_conversion": _div(entered[-1], entered[0]), "win_rate": win_rate,
            "won_deals": won, "won_amount": float(sum(won_amounts)), "avg_won_amount": avg_won,
            "avg_sales_cycle_days": cycle, "open_deals": open_deals, "pipeline_velocity_per_day": velocity}


# ---- churn -----------------------------------------------------------------------------------


def _mrr_on(contracts: Rows, day: dt.date) -> dict[Any, float]:
    out: dict[Any, float] = defaultdict(float)
    for c in contracts:
        start, end = _day(c["start_date"]), _day(c["end_date"])
        if start is not None and start <= day and (end is None or end > day):
            out[c["account_id"]] += c["mrr"]
    return out


def _active_on(contracts: Rows, day: dt.date) -> set[Any]:
    out = set()
    for c in contracts:
        start, end = _day(c["start_date"]), _day(c["end_date"])
        if start is not None and start <= day and (end is None or end > day):
            out.add(c["account_id"])
    return out


def churn(t: Tables, cfg: Config, f: OFilters, lo: dt.date | None, hi: dt.date | None) -> dict[str, Any]:
    scope = _accounts_in_scope(t, cfg, f, with_rep=True)
    contracts = [c for c in t["contracts"] if scope is None or c["account_id"] in scope]
    if lo is None or hi is None:
        start_set: set[Any] = set()
        m0: dict[Any, float] = {}
        m1: dict[Any, float] = {}
        active_end: set[Any] = set()
    else:
        start_set = _active_on(contracts, lo)
        active_end = _active_on(contracts, hi)
        m0, m1 = _mrr_on(contracts, lo), _mrr_on(contracts, hi)
    churned = len(start_set - active_end)
    mrr_start = float(sum(m0.get(a, 0.0) for a in start_set))
    mrr_end = float(sum(m1.get(a, 0.0) for a in start_set))
    kept = float(sum(min(m1.get(a, 0.0), m0.get(a, 0.0)) for a in start_set))
    return {"active_accounts_start": len(start_set), "churned_accounts": churned,
            "logo_churn_rate": _div(churned, len(start_set)), "mrr_start": mrr_start, "mrr_end": mrr_end,
            "gross_revenue_retention": _div(kept, mrr_start), "net_revenue_retention": _div(mrr_end, mrr_start)}


# ---- satisfaction ----------------------------------------------------------------------------


def satisfaction(t: Tables, cfg: Config, f: OFilters, lo: dt.date | None, hi: dt.date | None) -> dict[str, Any]:
    scope = _accounts_in_scope(t, cfg, f, with_rep=True)
    surveys = [s for s in t["surveys"] if (scope is None or s["account_id"] in scope)
               and _in(_day(s["submitted_at"]), lo, hi)]
    csat = [s["score"] for s in surveys if s["kind"] == "csat"]
    nps = [s["score"] for s in surveys if s["kind"] == "nps"]
    ces = [s["score"] for s in surveys if s["kind"] == "ces"]
    out: dict[str, Any] = {}
    n = len(csat)
    if n:
        p = sum(1 for x in csat if x >= 4) / n
        denom = 1 + Z * Z / n
        centre = (p + Z * Z / (2 * n)) / denom
        half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
        out["csat"], out["csat_ci"] = p, [centre - half, centre + half]
    else:
        # the project's (undocumented) shape: the interval stays a pair, of nulls
        out["csat"], out["csat_ci"] = None, [None, None]
    out["csat_responses"] = n
    m = len(nps)
    if m:
        p = sum(1 for x in nps if x >= 9) / m
        q = sum(1 for x in nps if x <= 6) / m
        score = 100 * (p - q)
        half = 100 * Z * math.sqrt(max(p + q - (p - q) ** 2, 0.0) / m)  # not clipped (documented)
        out["nps"], out["nps_ci"] = score, [score - half, score + half]
    else:
        out["nps"], out["nps_ci"] = None, [None, None]
    out["nps_responses"] = m
    out["ces"] = _mean(ces)
    tickets = [k for k in t["tickets"] if (scope is None or k["account_id"] in scope)
               and _in(_day(k["opened_at"]), lo, hi)]
    hours = [(_ts(k["first_response_at"]) - _ts(k["opened_at"])).total_seconds() / 3600
             for k in tickets if k["first_response_at"] is not None]
    out["median_first_response_hours"] = _median(hours)
    met = sum(1 for h in hours if h <= cfg.first_response_sla_hours)
    out["sla_met_rate"] = _div(met, len(tickets))
    out["tickets"] = len(tickets)
    return out


# ---- commission ------------------------------------------------------------------------------


def _period_start(day: dt.date, kind: str) -> dt.date:
    if kind == "month":
        return day.replace(day=1)
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_period(start: dt.date, kind: str) -> dt.date:
    months = 1 if kind == "month" else 3
    y, m = divmod(start.month - 1 + months, 12)
    return dt.date(start.year + y, m + 1, 1)


def tiered(credited: float, quota: float, cfg: Config) -> float:
    plan = cfg.commission
    tiers = plan.tiers
    if quota == 0:
        pay = credited * tiers[-1].rate
    else:
        att = credited / quota
        if plan.mode == "retroactive":
            rate = tiers[-1].rate
            for tier in tiers:
                if tier.up_to is not None and att <= tier.up_to:  # bands (prev, up_to] (documented)
                    rate = tier.rate
                    break
            pay = credited * rate
        else:
            pay, low = 0.0, 0.0
            for tier in tiers:
                high = att if tier.up_to is None else min(att, tier.up_to)
                if high > low:
                    pay += (high - low) * quota * tier.rate
                if tier.up_to is None or att <= tier.up_to:
                    break
                low = tier.up_to
    if plan.cap > 0:
        pay = min(pay, plan.cap)
    return pay


def commission(t: Tables, cfg: Config, f: OFilters, lo: dt.date | None, hi: dt.date | None) -> dict[str, Any]:
    plan = cfg.commission
    kind = plan.period
    won = [d for d in t["deals"] if status_of(d, cfg) == "won" and d["closed_at"] is not None]
    splits: dict[Any, list[tuple[Any, float]]] = defaultdict(list)
    for s in t["deal_splits"]:
        splits[s["deal_id"]].append((s["rep_id"], s["share"]))
    quotas = {(q["rep_id"], _day(q["period_start"])): q["quota_amount"] for q in t["quotas"]}
    credited: dict[tuple[Any, dt.date], float] = defaultdict(float)
    referral: dict[tuple[Any, dt.date], float] = defaultdict(float)
    clawback: dict[tuple[Any, dt.date], float] = defaultdict(float)
    credit_lines: dict[Any, list[tuple[Any, float]]] = {}
    keys: set[tuple[Any, dt.date]] = set()
    for d in won:
        p = _period_start(_day(d["closed_at"]), kind)
        lines = splits.get(d["deal_id"]) or ([(d["owner_rep_id"], 1.0)] if d["owner_rep_id"] is not None else [])
        credit_lines[d["deal_id"]] = lines
        for rep, share in lines:
            keys.add((rep, p))
            if d["amount"] is not None:
                credited[(rep, p)] += d["amount"] * share
        # documented choice: a deal without an owner pays its referrer
        if d["referrer_id"] is not None and d["referrer_id"] != d["owner_rep_id"]:
            keys.add((d["referrer_id"], p))
            if d["amount"] is not None:
                referral[(d["referrer_id"], p)] += plan.referral_rate * d["amount"]
    pay: dict[tuple[Any, dt.date], float] = {}

    def pay_of(key: tuple[Any, dt.date]) -> float:
        if key not in pay:
            pay[key] = tiered(credited.get(key, 0.0), quotas.get(key, plan.default_quota), cfg)
        return pay[key]

    for d in won:
        if d["account_id"] is None:
            continue
        acc_contracts = [c for c in t["contracts"] if c["account_id"] == d["account_id"]]
        closed = _day(d["closed_at"])
        last = closed + dt.timedelta(days=plan.clawback_days)
        if _active_on(acc_contracts, last):
            continue
        if not any(_active_on(acc_contracts, closed + dt.timedelta(days=k))
                   for k in range(1, plan.clawback_days + 1)):
            continue
        p = _period_start(closed, kind)
        back = _period_start(last, kind)
        amount = d["amount"]
        if amount is None:
            continue
        for rep, share in credit_lines[d["deal_id"]]:
            c = credited.get((rep, p), 0.0)
            if c:
                clawback[(rep, back)] += share * amount * pay_of((rep, p)) / c
                keys.add((rep, back))
        if d["referrer_id"] is not None and d["referrer_id"] != d["owner_rep_id"]:
            clawback[(d["referrer_id"], back)] += plan.referral_rate * amount
            keys.add((d["referrer_id"], back))
    rep_region = {r["rep_id"]: r["region"] for r in t["reps"]}
    rows = []
    if lo is not None and hi is not None:
        first, last_p = _period_start(lo, kind), _period_start(hi, kind)
        for rep, p in keys:
            if not first <= p <= last_p:
                continue
            if f.regions and rep_region.get(rep) not in f.regions:
                continue
            if f.reps and rep not in f.reps:  # ids missing from reps can be chosen too (documented)
                continue
            key = (rep, p)
            quota = float(quotas.get(key, plan.default_quota))
            cr = credited.get(key, 0.0)
            com = pay_of(key)
            ref = referral.get(key, 0.0)
            cb = clawback.get(key, 0.0)
            rows.append({"rep_id": rep, "period_start": p.isoformat(), "credited_revenue": cr, "quota": quota,
                         "attainment": _div(cr, quota), "commission": com, "referral_commission": ref,
                         "clawback": cb, "payout": com + ref - cb})
    rows.sort(key=lambda r: (r["period_start"], r["rep_id"]))
    return {"total_payout": float(sum(r["payout"] for r in rows)), "rows": rows}


# ---- quality ---------------------------------------------------------------------------------


def quality(t: Tables, present: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Per table: rows, completeness over the columns present (`present`: table -> the canonical
    columns its files had; every column when not given) and orphan rows."""
    keys = {name: {r[table.key[0]] for r in t.get(name, [])} for name, table in TABLES.items()}
    parent_of = {"account_id": "accounts", "deal_id": "deals", "ticket_id": "tickets", "contract_id": "contracts",
                 "owner_rep_id": "reps",
                 "referrer_id": "reps", "rep_id": "reps", "assignee_id": "reps", "manager_id": "reps"}
    out = {}
    for name, table in TABLES.items():
        rows = t.get(name, [])
        cols = (present or {}).get(name, table.column_names)
        fks = [c for c in table.column_names if c in parent_of and parent_of[c] != name]
        filled = sum(1 for r in rows for c in cols if r[c] is not None and r[c] != "")
        orphans = sum(1 for r in rows if any(r[c] is not None and r[c] not in keys[parent_of[c]] for c in fks))
        out[name] = {"rows": len(rows), "completeness": _div(filled, len(rows) * len(cols)), "orphans": orphans}
    return {"tables": out}


def kpis(t: Tables, cfg: Config, f: OFilters, present: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    lo, hi = resolve_period(t, f)
    return {
        "period": {"from": lo.isoformat() if lo else None, "to": hi.isoformat() if hi else None},
        "funnel": funnel(t, cfg, f, lo, hi),
        "churn": churn(t, cfg, f, lo, hi),
        "satisfaction": satisfaction(t, cfg, f, lo, hi),
        "commission": commission(t, cfg, f, lo, hi),
        "quality": quality(t, present),
    }
