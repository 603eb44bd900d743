"""An independent oracle for CONTRACT §4/§5: the `kpis` JSON computed in plain Python from table rows.

Written from the data contract (CONTRACT.md, the team's shared copy) alone (not from b2bmetrics/metrics), so a disagreement with
`compute_kpis` points at either a project bug or an ambiguity of the contract. Where the contract is
silent, the oracle follows the choices docs/metrics.md records; each such place says "documented
choice". Input: table name -> list of row dicts (canonical column -> Python value, None = null).

Contract v2: the default period is the 12 months ending on the latest day something happened (§5);
money is exact (§1, §4): money cells are `decimal.Decimal`, every money figure §4 calls exact is a
Decimal sum, commission figures are Decimals rounded to cents half away from zero, and means and
ratios are floats.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from b2bmetrics.config import Config
from b2bmetrics.schema import TABLES

Rows = list[dict[str, Any]]
Tables = dict[str, Rows]
Z = 1.959964
ZERO = Decimal(0)
CENT = Decimal("0.01")

# CONTRACT §5 (v2) "Period": the columns that record something that happened (the default --to)
EVENTS = (("deals", "created_at"), ("deals", "closed_at"), ("deal_stage_history", "entered_at"),
          ("contracts", "start_date"), ("tickets", "opened_at"), ("surveys", "submitted_at"),
          ("activities", "occurred_at"), ("payments", "paid_at"))
# CONTRACT §1: money columns are exact decimals (and a split's share, so amount x share is exact)
MONEY = {("deals", "amount"), ("contracts", "mrr"), ("quotas", "quota_amount"), ("payments", "amount_due"),
         ("payments", "amount_paid"), ("targets", "amount"), ("deal_snapshots", "amount"), ("deal_splits", "share")}


class PeriodRefused(Exception):
    """Documented choice (docs/metrics.md): a --from after the default --to is refused (exit 2)."""


@dataclass(frozen=True)
class OFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    regions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()


# ---- reading ---------------------------------------------------------------------------------


def dec(v: Any) -> Decimal | None:
    """A money cell as an exact Decimal (a float cell by its shortest repr: the decimal it was written as)."""
    if v is None or isinstance(v, Decimal):
        return v
    if isinstance(v, int):
        return Decimal(v)
    return Decimal(repr(float(v)))


def read_tables(ibis_con: Any) -> Tables:
    """Every canonical table of an ibis DuckDB backend as row dicts (plain SQL, no ibis expressions);
    money cells (and shares) as Decimal, as a DECIMAL column reads."""
    raw = ibis_con.con
    out: Tables = {}
    for name, table in TABLES.items():
        cols = table.column_names
        sql = f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{name}"'
        if name == "deal_snapshots":  # stored compactly (valid_until): one canonical row per covered day
            picked = ", ".join("d.snapshot_date" if c == "snapshot_date" else f's."{c}"' for c in cols)
            sql = (f"SELECT {picked} FROM deal_snapshots s JOIN snapshot_days d ON d.snapshot_date >= "
                   "s.snapshot_date AND (s.valid_until IS NULL OR d.snapshot_date < s.valid_until)")
        rows = [dict(zip(cols, r, strict=True)) for r in raw.execute(sql).fetchall()]
        for c in cols:
            if (name, c) in MONEY:
                for r in rows:
                    r[c] = dec(r[c])
        out[name] = rows
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


def _div(a: float | Decimal, b: float | Decimal) -> float | None:
    """A ratio: a float (of the exact quotient when both are Decimal), None when b is 0."""
    return None if b == 0 else float(a / b)


def cents(v: Decimal) -> Decimal:
    """Rounded to cents, half away from zero (CONTRACT §4 v2: -0.125 -> -0.13, as Excel's ROUND)."""
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _median(xs: list[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


# ---- period and filters ----------------------------------------------------------------------


def year_back_next_day(day: dt.date) -> dt.date:
    """The first day of the 12 months ending on `day`: the day after the same calendar day one year
    earlier, 29 February falling back to 28 February (CONTRACT §5 v2)."""
    earlier = dt.date(day.year - 1, 2, 28) if (day.month, day.day) == (2, 29) else dt.date(day.year - 1, day.month, day.day)
    return earlier + dt.timedelta(days=1)


def resolve_period(t: Tables, f: OFilters) -> tuple[dt.date | None, dt.date | None]:
    """CONTRACT §5 v2: --to defaults to the latest event day, --from to the 12 months ending on --to."""
    events = [_day(r[col]) for name, col in EVENTS for r in t.get(name, []) if r[col] is not None]
    # documented choice: data without an event date ends on its latest date of any kind (the v1 columns)
    others = [
        _day(r[c.name])
        for name, table in TABLES.items()
        for c in table.columns
        if c.kind in ("timestamp", "date") and c.in_date_range
        for r in t.get(name, [])
        if r[c.name] is not None
    ]
    hi = f.date_to
    if hi is None:
        hi = max(events) if events else (max(others) if others else None)
        if f.date_from is not None and hi is not None and f.date_from > hi:
            raise PeriodRefused(f"--from {f.date_from} is after the data's latest day {hi}")
    lo = f.date_from
    if lo is None and hi is not None:
        lo = year_back_next_day(hi)
    return lo, hi


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
    won_amounts: list[Decimal] = []
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
                won_amounts.append(dec(d["amount"]))
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
    avg_won = float(sum(won_amounts, ZERO) / len(won_amounts)) if won_amounts else None
    cycle = _mean(cycles)
    velocity = None
    if win_rate is not None and avg_won is not None and cycle:
        velocity = open_deals * win_rate * avg_won / cycle
    # won_amount is 0 when no won deal has an amount (an empty sum; documented); exact (§4 v2)
    return {"stages": rows, "overall_conversion": _div(entered[-1], entered[0]), "win_rate": win_rate,
            "won_deals": won, "won_amount": sum(won_amounts, ZERO), "avg_won_amount": avg_won,
            "avg_sales_cycle_days": cycle, "open_deals": open_deals, "pipeline_velocity_per_day": velocity}


# ---- churn -----------------------------------------------------------------------------------


def _mrr_on(contracts: Rows, day: dt.date) -> dict[Any, Decimal]:
    out: dict[Any, Decimal] = defaultdict(Decimal)
    for c in contracts:
        start, end = _day(c["start_date"]), _day(c["end_date"])
        if start is not None and start <= day and (end is None or end > day):
            out[c["account_id"]] += dec(c["mrr"])
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
        m0: dict[Any, Decimal] = {}
        m1: dict[Any, Decimal] = {}
        active_end: set[Any] = set()
    else:
        start_set = _active_on(contracts, lo)
        active_end = _active_on(contracts, hi)
        m0, m1 = _mrr_on(contracts, lo), _mrr_on(contracts, hi)
    churned = len(start_set - active_end)
    mrr_start = sum((m0.get(a, ZERO) for a in start_set), ZERO)
    mrr_end = sum((m1.get(a, ZERO) for a in start_set), ZERO)
    kept = sum((min(m1.get(a, ZERO), m0.get(a, ZERO)) for a in start_set), ZERO)
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


def tiered(credited: Decimal, quota: Decimal, cfg: Config) -> Decimal:
    """The tiered commission on `credited`, unrounded (exact: bands compared as credited against
    up_to x quota, the same as attainment against up_to). Rates, bands and cap as the config writes them."""
    plan = cfg.commission
    tiers = [(None if tier.up_to is None else dec(tier.up_to), dec(tier.rate)) for tier in plan.tiers]
    if quota == 0:
        pay = credited * tiers[-1][1]
    elif plan.mode == "retroactive":
        rate = tiers[-1][1]
        for up_to, r in tiers:
            if up_to is not None and credited <= up_to * quota:  # bands (prev, up_to] (documented)
                rate = r
                break
        pay = credited * rate
    else:
        pay, low = ZERO, ZERO
        for up_to, r in tiers:
            high = credited if up_to is None else min(credited, up_to * quota)
            if high > low:
                pay += (high - low) * r
            if up_to is None or credited <= up_to * quota:
                break
            low = up_to * quota
    cap = dec(plan.cap)
    if cap is not None and cap > 0:
        pay = min(pay, cap)
    return pay


def commission(t: Tables, cfg: Config, f: OFilters, lo: dt.date | None, hi: dt.date | None) -> dict[str, Any]:
    plan = cfg.commission
    kind = plan.period
    rate = dec(plan.referral_rate)
    won = [d for d in t["deals"] if status_of(d, cfg) == "won" and d["closed_at"] is not None]
    splits: dict[Any, list[tuple[Any, Decimal]]] = defaultdict(list)
    for s in t["deal_splits"]:
        splits[s["deal_id"]].append((s["rep_id"], dec(s["share"])))
    quotas = {(q["rep_id"], _day(q["period_start"])): dec(q["quota_amount"]) for q in t["quotas"]}
    default_quota = dec(plan.default_quota)
    credited: dict[tuple[Any, dt.date], Decimal] = defaultdict(Decimal)
    referral: dict[tuple[Any, dt.date], Decimal] = defaultdict(Decimal)
    clawback: dict[tuple[Any, dt.date], Decimal] = defaultdict(Decimal)
    credit_lines: dict[Any, list[tuple[Any, Decimal]]] = {}
    keys: set[tuple[Any, dt.date]] = set()
    for d in won:
        p = _period_start(_day(d["closed_at"]), kind)
        lines = splits.get(d["deal_id"]) or ([(d["owner_rep_id"], Decimal(1))] if d["owner_rep_id"] is not None else [])
        credit_lines[d["deal_id"]] = lines
        for rep, share in lines:
            keys.add((rep, p))
            if d["amount"] is not None:
                credited[(rep, p)] += dec(d["amount"]) * share  # exact: DECIMAL(18,4) x DECIMAL(12,10)
        # documented choice: a deal without an owner pays its referrer
        if d["referrer_id"] is not None and d["referrer_id"] != d["owner_rep_id"]:
            keys.add((d["referrer_id"], p))
            if d["amount"] is not None:
                referral[(d["referrer_id"], p)] += rate * dec(d["amount"])
    pay: dict[tuple[Any, dt.date], Decimal] = {}

    def quota_of(key: tuple[Any, dt.date]) -> Decimal:
        return quotas.get(key, default_quota)

    def pay_of(key: tuple[Any, dt.date]) -> Decimal:
        """The row's commission, unrounded (what the clawback's effective rate reads)."""
        if key not in pay:
            pay[key] = tiered(credited.get(key, ZERO), quota_of(key), cfg)
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
        amount = dec(d["amount"])
        if amount is None:
            continue
        for rep, share in credit_lines[d["deal_id"]]:
            c = credited.get((rep, p), ZERO)
            if c:
                # its credited share x the effective rate (unrounded commission / credited)
                clawback[(rep, back)] += share * amount * pay_of((rep, p)) / c
                keys.add((rep, back))
        if d["referrer_id"] is not None and d["referrer_id"] != d["owner_rep_id"]:
            clawback[(d["referrer_id"], back)] += rate * amount
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
            quota = quota_of(key)
            cr = credited.get(key, ZERO)
            # §4 v2: each part unrounded, then rounded to cents; the payout adds the rounded parts
            com = cents(pay_of(key))
            ref = cents(referral.get(key, ZERO))
            cb = cents(clawback.get(key, ZERO))
            rows.append({"rep_id": rep, "period_start": p.isoformat(), "credited_revenue": cr, "quota": quota,
                         "attainment": _div(cr, quota), "commission": com, "referral_commission": ref,
                         "clawback": cb, "payout": com + ref - cb})
    rows.sort(key=lambda r: (r["period_start"], r["rep_id"]))
    return {"total_payout": sum((r["payout"] for r in rows), ZERO), "rows": rows}


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
    """The v1 sections of the `kpis` JSON; raises PeriodRefused where the CLI exits 2."""
    lo, hi = resolve_period(t, f)
    # 60 significant digits: sums and products of money are exact; only the clawback's effective
    # rate (a quotient) is not, far below a cent
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        return {
            "period": {"from": lo.isoformat() if lo else None, "to": hi.isoformat() if hi else None},
            "funnel": funnel(t, cfg, f, lo, hi),
            "churn": churn(t, cfg, f, lo, hi),
            "satisfaction": satisfaction(t, cfg, f, lo, hi),
            "commission": commission(t, cfg, f, lo, hi),
            "quality": quality(t, present),
        }
