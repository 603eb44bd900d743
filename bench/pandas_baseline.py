"""The baseline a user would otherwise write: the headline KPIs in plain pandas (read, merge, groupby).

`compute(db)` reads every table of a b2bmetrics database into pandas (reading counts in the
benchmark's time) and computes, for the whole period and no filters, the headline numbers of
`compute_kpis` with the same definitions (CONTRACT §5): the funnel's entered counts, win rate, won
deals and amount, cycle, open deals, velocity and median days in stage; churn's seven numbers;
CSAT, NPS, CES, median first response, SLA rate and tickets; the commission total payout and row
count under the default plan; and each table's rows, completeness and orphans. It need not
handle every edge case (it assumes a default config and the demo's clean loads), but on the demo
data it must agree with `compute_kpis`: `headline()` extracts the same numbers from its JSON and
`compare()` reports the largest difference.

It reads the tables from the same DuckDB file with `.df()`, the fastest way into pandas (a user
starting from CSV exports would pay for `read_csv` on top).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

STAGES = ("lead", "qualified", "visit", "needs_analysis", "proposal", "negotiation", "won")
POS = {s: i for i, s in enumerate(STAGES)}
TIERS = ((0.5, 0.04), (1.0, 0.08), (math.inf, 0.12))
REFERRAL_RATE = 0.02
CLAWBACK_DAYS = 90
SLA_HOURS = 24.0
DAY = pd.Timedelta(days=1)


def read(db: Path) -> dict[str, pd.DataFrame]:
    from b2bmetrics.schema import TABLES

    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET enable_progress_bar = false")
    try:
        return {name: con.execute(f'SELECT * FROM "{name}"').df() for name in TABLES}
    finally:
        con.close()


def compute(db: Path) -> dict[str, Any]:
    """Read the tables and compute the headline numbers (a nested dict of plain floats and ints)."""
    f = read(db)
    start, end = _period(f)
    return {
        "funnel": _funnel(f),
        "churn": _churn(f, start, end),
        "satisfaction": _satisfaction(f, start, end),
        "commission": _commission(f, start, end),
        "quality": _quality(f),
    }


def _num(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _period(f: dict[str, pd.DataFrame]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Earliest and latest date in any date column of any table (as dates, at midnight)."""
    from b2bmetrics.schema import TABLES

    lo, hi = [], []
    for name, table in TABLES.items():
        for c in table.columns:
            if c.kind in ("timestamp", "date") and len(f[name]):
                s = pd.to_datetime(f[name][c.name])
                lo.append(s.min())
                hi.append(s.max())
    return pd.Timestamp(min(lo)).normalize(), pd.Timestamp(max(hi)).normalize()


# ---- funnel ---------------------------------------------------------------------------------

def _funnel(f: dict[str, pd.DataFrame]) -> dict[str, Any]:
    d = f["deals"]  # the whole period and no filters: every deal is in the cohort
    derived = np.where(d["stage"] == "won", "won", np.where(d["stage"] == "lost", "lost", "open"))
    status = d["status"].fillna(pd.Series(derived, index=d.index))
    h = f["deal_stage_history"]
    hpos = h["stage"].map(POS)
    top = hpos.groupby(h["deal_id"]).max()
    reach = pd.concat([d["deal_id"].map(top).fillna(0), d["stage"].map(POS).fillna(0),
                       pd.Series(np.where(status == "won", len(STAGES) - 1, 0), index=d.index)], axis=1).max(axis=1)
    entered = [int((reach >= i).sum()) for i in range(len(STAGES))]
    won, lost, open_ = status == "won", status == "lost", status == "open"
    n_won, n_lost, n_open = int(won.sum()), int(lost.sum()), int(open_.sum())
    won_amount = d.loc[won, "amount"]
    avg_won = _num(won_amount.mean())
    cycle = _num(((d.loc[won, "closed_at"] - d.loc[won, "created_at"]).dt.total_seconds() / 86400).mean())
    win_rate = n_won / (n_won + n_lost) if n_won + n_lost else None
    velocity = (n_open * win_rate * avg_won / cycle) if win_rate is not None and avg_won is not None and cycle else None

    # stage visits: each history entry lasts until the deal's next entry (ties: pipeline order)
    v = h[h["entered_at"].notna()].assign(pos=hpos, _ord=hpos.fillna(len(STAGES)))
    v = v.sort_values(["deal_id", "entered_at", "_ord", "stage"], kind="stable")
    nxt = v.groupby("deal_id", sort=False)["entered_at"].shift(-1)
    v = v.assign(days=(nxt - v["entered_at"]).dt.total_seconds() / 86400)
    med = v.dropna(subset=["days", "pos"]).groupby("pos")["days"].median()
    return {
        "entered": entered,
        "median_days_in_stage": [_num(med.get(float(i))) for i in range(len(STAGES))],
        "win_rate": win_rate, "won_deals": n_won, "won_amount": float(won_amount.sum()),
        "avg_won_amount": avg_won, "avg_sales_cycle_days": cycle, "open_deals": n_open,
        "pipeline_velocity_per_day": velocity,
    }


# ---- churn ----------------------------------------------------------------------------------

def _active(c: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    return (c["start_date"] <= day) & (c["end_date"].isna() | (c["end_date"] > day))


def _churn(f: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    c = f["contracts"].copy()
    c["start_date"] = pd.to_datetime(c["start_date"])
    c["end_date"] = pd.to_datetime(c["end_date"])
    per = pd.DataFrame({
        "account_id": c["account_id"],
        "mrr_from": c["mrr"].where(_active(c, start), 0.0), "n_from": _active(c, start).astype(int),
        "mrr_to": c["mrr"].where(_active(c, end), 0.0), "n_to": _active(c, end).astype(int),
    }).groupby("account_id").sum()
    s = per[per["n_from"] > 0]
    mrr_start, mrr_end = float(s["mrr_from"].sum()), float(s["mrr_to"].sum())
    churned = int((s["n_to"] == 0).sum())
    return {
        "active_accounts_start": len(s), "churned_accounts": churned,
        "logo_churn_rate": churned / len(s) if len(s) else None,
        "mrr_start": mrr_start, "mrr_end": mrr_end,
        "gross_revenue_retention": float(np.minimum(s["mrr_to"], s["mrr_from"]).sum()) / mrr_start if mrr_start else None,
        "net_revenue_retention": mrr_end / mrr_start if mrr_start else None,
    }


# ---- satisfaction ---------------------------------------------------------------------------

def _satisfaction(f: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    s = f["surveys"]
    s = s[(s["submitted_at"] >= start) & (s["submitted_at"] < end + DAY) & s["score"].notna()]
    csat = s.loc[s["kind"] == "csat", "score"]
    nps = s.loc[s["kind"] == "nps", "score"]
    ces = s.loc[s["kind"] == "ces", "score"]
    t = f["tickets"]
    t = t[(t["opened_at"] >= start) & (t["opened_at"] < end + DAY)]
    hours = (t["first_response_at"] - t["opened_at"]).dt.total_seconds() / 3600
    return {
        "csat": float((csat >= 4).mean()) if len(csat) else None, "csat_responses": len(csat),
        "nps": 100.0 * (int((nps >= 9).sum()) - int((nps <= 6).sum())) / len(nps) if len(nps) else None,
        "nps_responses": len(nps), "ces": _num(ces.mean()),
        "median_first_response_hours": _num(hours.median()),
        "sla_met_rate": float((hours <= SLA_HOURS).sum()) / len(t) if len(t) else None, "tickets": len(t),
    }


# ---- commission -----------------------------------------------------------------------------

def _quarter(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("Q").dt.start_time


def _tier_commission(credited: pd.Series, quota: pd.Series) -> pd.Series:
    """Marginal tiers on attainment bands × quota; quota 0 pays the last band's rate on everything."""
    out = pd.Series(0.0, index=credited.index)
    lower = pd.Series(0.0, index=credited.index)
    for up_to, rate in TIERS:
        upper = quota * up_to if math.isfinite(up_to) else pd.Series(np.inf, index=credited.index)
        out += (np.minimum(credited, upper) - lower).clip(lower=0) * rate
        lower = upper
    return out.where(quota > 0, credited * TIERS[-1][1]).where(credited > 0, 0.0)


def _commission(f: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    first = pd.Timestamp(start).to_period("Q").start_time
    last = pd.Timestamp(end).to_period("Q").start_time
    hi = (pd.Timestamp(end).to_period("Q") + 1).start_time
    lo = (pd.Timestamp(first - pd.Timedelta(days=CLAWBACK_DAYS))).to_period("Q").start_time
    d = f["deals"]
    won = (d["status"] == "won") | (d["status"].isna() & (d["stage"] == STAGES[-1]))
    w = d[won & d["amount"].notna() & d["closed_at"].notna() & (d["closed_at"] >= lo) & (d["closed_at"] < hi)]
    w = w.assign(period=_quarter(w["closed_at"]))

    sp = f["deal_splits"].dropna(subset=["deal_id", "rep_id", "share"])
    split = w.merge(sp[["deal_id", "rep_id", "share"]], on="deal_id")
    split = split.assign(person=split["rep_id"], credited=split["amount"] * split["share"])
    whole = w[~w["deal_id"].isin(sp["deal_id"]) & w["owner_rep_id"].notna()]
    whole = whole.assign(person=whole["owner_rep_id"], credited=whole["amount"])
    lines = pd.concat([split, whole])[["deal_id", "account_id", "closed_at", "period", "person", "credited"]]
    credit = lines.groupby(["person", "period"])["credited"].sum()

    q = f["quotas"].dropna(subset=["rep_id"])
    q = q.assign(period=pd.to_datetime(q["period_start"]))
    quota = q.groupby(["rep_id", "period"])["quota_amount"].sum()
    quota.index.names = ["person", "period"]
    quota_for_credit = quota.reindex(credit.index).fillna(0.0)
    commission = _tier_commission(credit, quota_for_credit)
    rate = (commission / credit).where(credit != 0)

    ref = w[w["referrer_id"].notna() & (w["referrer_id"] != "")
            & (w["owner_rep_id"].isna() | (w["referrer_id"] != w["owner_rep_id"]))]
    ref = ref.assign(person=ref["referrer_id"])
    referral = ref.groupby(["person", "period"])["amount"].sum() * REFERRAL_RATE

    # clawbacks: the account was active on some day of (d0, d0 + 90] but is not on d0 + 90
    c = f["contracts"][["account_id", "start_date", "end_date"]].copy()
    c["start_date"] = pd.to_datetime(c["start_date"])
    c["end_date"] = pd.to_datetime(c["end_date"])
    ww = w[w["account_id"].notna()][["deal_id", "account_id", "closed_at"]]
    ww = ww.assign(d0=ww["closed_at"].dt.normalize())
    ww = ww.assign(cb=ww["d0"] + pd.Timedelta(days=CLAWBACK_DAYS), d1=ww["d0"] + DAY)
    j = ww.merge(c, on="account_id")
    overlap = (j["start_date"] <= j["cb"]) & (j["end_date"].isna() | ((j["end_date"] > j["start_date"])
                                                                       & (j["end_date"] > j["d1"])))
    at_end = (j["start_date"] <= j["cb"]) & (j["end_date"].isna() | (j["end_date"] > j["cb"]))
    g = j.assign(ov=overlap, end=at_end).groupby(["deal_id", "cb"])[["ov", "end"]].any().reset_index()
    clawed = g[g["ov"] & ~g["end"]]
    clawed = clawed.assign(land=_quarter(clawed["cb"]))
    clawed = clawed[(clawed["land"] >= first) & (clawed["land"] < hi)][["deal_id", "land"]]
    cl = lines.merge(clawed, on="deal_id")
    cl = cl.assign(rate=pd.MultiIndex.from_arrays([cl["person"], cl["period"]]).map(rate).fillna(0.0).to_numpy())
    claw = (cl["credited"] * cl["rate"]).groupby([cl["person"], cl["land"]]).sum()
    cr = ref.merge(clawed, on="deal_id")
    claw_ref = (cr["amount"] * REFERRAL_RATE).groupby([cr["person"], cr["land"]]).sum()
    claw.index.names = claw_ref.index.names = ["person", "period"]

    keys = credit.index.union(referral.index).union(claw.index).union(claw_ref.index)
    keys = keys[(keys.get_level_values("period") >= first) & (keys.get_level_values("period") <= last)]
    payout = (commission.reindex(keys).fillna(0.0) + referral.reindex(keys).fillna(0.0)
              - claw.reindex(keys).fillna(0.0) - claw_ref.reindex(keys).fillna(0.0))
    return {"total_payout": math.fsum(payout.tolist()), "rows": len(keys)}


# ---- quality --------------------------------------------------------------------------------

def _quality(f: dict[str, pd.DataFrame]) -> dict[str, Any]:
    from b2bmetrics.schema import TABLES

    out = {}
    for name, table in TABLES.items():
        df = f[name]
        filled = 0
        orphan = pd.Series(False, index=df.index)
        for col in table.columns:
            s = df[col.name]
            nonempty = s.notna() & (s != "") if col.sql_type == "VARCHAR" else s.notna()
            filled += int(nonempty.sum())
            if col.references:
                parent = TABLES[col.references]
                keys = f[parent.name][parent.key[0]].dropna()
                orphan |= nonempty & ~s.isin(keys)
        cells = len(df) * len(table.columns)
        out[name] = {"rows": len(df), "completeness": filled / cells if cells else None,
                     "orphans": int(orphan.sum())}
    return {"tables": out}


# ---- agreement with compute_kpis -------------------------------------------------------------

def headline(kpis: dict[str, Any]) -> dict[str, Any]:
    """The numbers `compute` computes, taken from compute_kpis's JSON."""
    fu, sa, co = kpis["funnel"], kpis["satisfaction"], kpis["commission"]
    return {
        "funnel": {
            "entered": [s["entered"] for s in fu["stages"]],
            "median_days_in_stage": [s["median_days_in_stage"] for s in fu["stages"]],
            **{k: fu[k] for k in ("win_rate", "won_deals", "won_amount", "avg_won_amount", "avg_sales_cycle_days",
                                  "open_deals", "pipeline_velocity_per_day")},
        },
        "churn": dict(kpis["churn"]),
        "satisfaction": {k: sa[k] for k in ("csat", "csat_responses", "nps", "nps_responses", "ces",
                                            "median_first_response_hours", "sla_met_rate", "tickets")},
        "commission": {"total_payout": co["total_payout"], "rows": len(co["rows"])},
        "quality": kpis["quality"],
    }


def compare(a: Any, b: Any, path: str = "") -> tuple[tuple[str, float] | None, int]:
    """(path and relative difference of the worst number, how many numbers) of two headline dicts."""
    worst: tuple[str, float] | None = None
    n = 0
    if isinstance(a, dict):
        for k in a:
            w, m = compare(a[k], b.get(k) if isinstance(b, dict) else None, f"{path}.{k}" if path else k)
            n += m
            if w and (worst is None or w[1] > worst[1]):
                worst = w
        return worst, n
    if isinstance(a, list):
        for i, x in enumerate(a):
            w, m = compare(x, b[i] if isinstance(b, list) and i < len(b) else None, f"{path}[{i}]")
            n += m
            if w and (worst is None or w[1] > worst[1]):
                worst = w
        return worst, n
    if a is None or b is None:
        return ((path, math.inf) if (a is None) != (b is None) else None), 1
    diff = abs(float(a) - float(b)) / max(abs(float(a)), abs(float(b)), 1e-300)
    return (path, diff), 1
