"""Customer churn and retention from contracts (CONTRACT §5 "Churn"), survival, and account health.

An account is active on day d when one of its contracts has `start_date ≤ d` and (`end_date`
empty or `end_date > d`): a contract ending on d is already over on d. Its MRR on d is the sum of
those contracts' MRR. For a period [from, to]: S = accounts active on `from`; churned = accounts
of S not active on `to`; mrr_start / mrr_end = Σ MRR(a, from) / Σ MRR(a, to) over S; GRR =
Σ min(MRR(a, to), MRR(a, from)) / mrr_start; NRR = mrr_end / mrr_start. Accounts new in the
period are outside all of them. The filters choose accounts (`accounts_in_scope(with_rep=True)`:
region, segment, owner rep); contracts follow their account. Every number is computed by the
backend; pandas and scipy only see per-month, per-cohort or per-duration aggregates.

Choices where the contract is silent:

* `monthly`: one row per calendar month overlapping the period, evaluated from the month's first
  day to its last day, both clipped to the period (a period ending on the 15th ends its last
  month on the 15th). Besides the summary numbers it reports the accounts and MRR active on the
  month's last day (new accounts included) and how many of them are new.
* `cohort_matrix`: an account's cohort is the month of its first contract start (first start
  within the period); at month offset k it counts as retained when it is active on the last day
  of month cohort + k, clipped to the period end for the last, partial month.
* lifetimes / Kaplan–Meier: the period chooses the customers (first contract start within the
  period, like the funnel's cohort of deals created in the period) and its last day is the
  observation day. A customer active on that day is censored there; otherwise it churned on the
  day its last contract ended (gaps between contracts are not churn: a customer who came back is
  one lifetime). Durations are whole days between dates, which is exact for dates. Contracts
  that end on or before their start are never active and are ignored. The 95 % band is scipy's
  "log-log" interval (lifelines' default; it stays inside [0, 1]).

Health score (`at_risk`, `health`), 0–100, as of a day D (the period's last day), using what is
known by the end of D. 100 minus four penalties whose maxima add up to 100:

* activity, up to 30: none for ≤ 30 days since the last activity, then linear to 30 at ≥ 90 days
  (exact fractional days to the end of D); an account with no activity at all gets 30;
* satisfaction, up to 25: the larger of the latest NPS answer's penalty (detractor 0–6: 25,
  passive 7–8: 10, promoter: 0) and the latest CSAT answer's (1–2: 25, 3: 10, 4–5: 0); no answer:
  0 (unknown is not bad news);
* open tickets, up to 20: 5 per ticket opened by the end of D and not resolved by then;
* MRR trend, up to 25: MRR on D against MRR on D − 90 days; a fall of x % costs 25 × x / 50,
  capped at 25 (a fall of half or more); growth, flat MRR or no MRR 90 days ago costs nothing.

`reasons` lists the factors with a penalty, worst first, as `Reason` codes with the number each
quotes; `REASON_TEXT` (beside the weights) says each in English and Chinese, and `reasons_text`
writes them out, e.g. "no activity for 74 days; MRR down 30%; 2 open tickets; NPS detractor (4)"
or "74 天未跟进；MRR 下降 30%；2 个未结工单；NPS 贬损者（4 分）".
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period, data_as_of, resolve_period
from b2bmetrics.metrics._rules import (
    MONEY_ZERO,
    active_during,
    contract_active_on,
    contract_has_days,
    days_between,
    mrr_on,
)
from b2bmetrics.metrics.cells import Decimal, money
from b2bmetrics.metrics.cells import count as _count
from b2bmetrics.metrics.cells import num as _num
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import accounts_in_scope, scope_by_account

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

SUMMARY_KEYS: tuple[str, ...] = ("active_accounts_start", "churned_accounts", "logo_churn_rate", "mrr_start",
                                 "mrr_end", "gross_revenue_retention", "net_revenue_retention")

# health score weights (see the module docstring)
W_ACTIVITY, W_SATISFACTION, W_TICKETS, W_MRR = 30.0, 25.0, 20.0, 25.0
ACTIVITY_GRACE_DAYS, ACTIVITY_FULL_DAYS = 30.0, 90.0
TICKET_PENALTY = 5.0
MRR_LOOKBACK_DAYS = 90
MRR_FULL_DROP = 0.5


@dataclass(frozen=True)
class Reason:
    """One thing that lowered a health score: `code` (a key of `REASON_TEXT`), the number it quotes,
    and the penalty factor it belongs to (activity, mrr, tickets, satisfaction)."""

    factor: str
    code: str
    value: int | float | None = None


# what each reason says, in English and Chinese; `{value}` is the number it quotes
REASON_TEXT: dict[str, tuple[str, str]] = {
    "no_activity": ("no activity on record", "无跟进记录"),
    "idle_days": ("no activity for {value} days", "{value} 天未跟进"),
    "mrr_down": ("MRR down {value}%", "MRR 下降 {value}%"),
    "open_ticket": ("{value} open ticket", "{value} 个未结工单"),
    "open_tickets": ("{value} open tickets", "{value} 个未结工单"),
    "nps_detractor": ("NPS detractor ({value:g})", "NPS 贬损者（{value:g} 分）"),
    "nps_passive": ("NPS passive ({value:g})", "NPS 中立者（{value:g} 分）"),
    "csat_low": ("CSAT {value:g}/5", "CSAT {value:g}/5"),
}
# between the factors, and between two reasons of one factor (an NPS and a CSAT answer)
REASON_SEPARATORS: dict[str, tuple[str, str]] = {"en": ("; ", ", "), "zh": ("；", "，")}


# ---- small helpers ---------------------------------------------------------------------------


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def _month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], _month_start(start)
    while m <= end:
        out.append(m)
        m = _month_end(m) + dt.timedelta(days=1)
    return out


def _month_index(d: ir.DateValue) -> ir.IntegerValue:
    return (d.year() * 12 + d.month() - 1).cast("int64")


def _contracts(con: Backend, cfg: Config, filters: Filters) -> ir.Table:
    return scope_by_account(con.table("contracts"), accounts_in_scope(con, cfg, filters, with_rep=True))


# ---- retention over windows ----------------------------------------------------------------

def _retention(contracts: ir.Table, windows: ir.Table) -> ir.Table:
    """Per window (columns key, d_from, d_to): the churn numbers as aggregates (one row each).

    Contracts are joined to the windows they can matter for (active on some day of [d_from, d_to]),
    reduced to one row per (window, account), then to one row per window.
    """
    j = contracts.join(windows, active_during(contracts.start_date, contracts.end_date, windows.d_from,
                                              windows.d_to))
    per = j.group_by(["key", "account_id"]).aggregate(
        n_from=j.count(where=contract_active_on(j, j.d_from)), mrr_from=mrr_on(j, j.d_from),
        n_to=j.count(where=contract_active_on(j, j.d_to)), mrr_to=mrr_on(j, j.d_to),
    )
    # DECIMAL throughout: every sum is exact, whatever the order of the rows
    mrr_from, mrr_to = ibis.coalesce(per.mrr_from, MONEY_ZERO), ibis.coalesce(per.mrr_to, MONEY_ZERO)
    in_s = per.n_from > 0
    return per.group_by("key").aggregate(
        active_accounts_start=per.count(where=in_s),
        churned_accounts=per.count(where=in_s & (per.n_to == 0)),
        mrr_start=mrr_from.sum(where=in_s),
        mrr_end=mrr_to.sum(where=in_s),
        grr_num=ibis.least(mrr_to, mrr_from).sum(where=in_s),
        active_accounts_end=per.count(where=per.n_to > 0),
        new_accounts=per.count(where=(per.n_to > 0) & ~in_s),
        mrr_total_end=mrr_to.sum(where=per.n_to > 0),
    )


def _windows(rows: list[tuple[dt.date, dt.date, dt.date]]) -> ir.Table:
    frame = pd.DataFrame(rows, columns=["key", "d_from", "d_to"])
    return ibis.memtable(frame, schema={"key": "date", "d_from": "date", "d_to": "date"})


def _numbers(rec: dict[str, Any]) -> dict[str, Any]:
    s, churned = _count(rec.get("active_accounts_start")), _count(rec.get("churned_accounts"))
    mrr_start = money(rec.get("mrr_start")) or Decimal(0)
    mrr_end = money(rec.get("mrr_end")) or Decimal(0)
    grr_num = money(rec.get("grr_num")) or Decimal(0)
    return {
        "active_accounts_start": s,
        "churned_accounts": churned,
        "logo_churn_rate": _ratio(churned, s),
        "mrr_start": mrr_start,
        "mrr_end": mrr_end,
        "gross_revenue_retention": _ratio(grr_num, mrr_start),
        "net_revenue_retention": _ratio(mrr_end, mrr_start),
    }


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "churn" for the period, in one query; ratios are None when |S| or mrr_start is 0."""
    if period.empty_data or period.start is None or period.end is None:
        return _numbers({})
    out = _retention(_contracts(con, cfg, filters), _windows([(period.start, period.start, period.end)])).execute()
    return _numbers(out.iloc[0].to_dict() if len(out) else {})


MONTHLY_COLUMNS = ["month", "from", "to", *SUMMARY_KEYS, "active_accounts_end", "new_accounts", "mrr_total_end"]


def monthly(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """The churn numbers per calendar month overlapping the period (one query; see the module docstring).

    Columns: month (first day, datetime64), from, to (dates), the seven summary numbers,
    active_accounts_end, new_accounts, mrr_total_end (MRR of every account active on `to`).
    """
    if period.empty_data or period.start is None or period.end is None or period.start > period.end:
        return pd.DataFrame(columns=MONTHLY_COLUMNS)
    rows = [(m, max(m, period.start), min(_month_end(m), period.end)) for m in _month_starts(period.start, period.end)]
    df = _retention(_contracts(con, cfg, filters), _windows(rows)).execute()
    found = {pd.Timestamp(r["key"]).date(): r for r in df.to_dict("records")}
    out = []
    for m, d_from, d_to in rows:
        rec = found.get(m, {})
        out.append({"month": pd.Timestamp(m), "from": d_from, "to": d_to, **_numbers(rec),
                    "active_accounts_end": _count(rec.get("active_accounts_end")),
                    "new_accounts": _count(rec.get("new_accounts")),
                    "mrr_total_end": money(rec.get("mrr_total_end")) or Decimal(0)})
    frame = pd.DataFrame(out, columns=MONTHLY_COLUMNS)
    # a page's columns: floats (each the float of an exact sum; plotly and pandas arithmetic want floats)
    for col in ("logo_churn_rate", "gross_revenue_retention", "net_revenue_retention", "mrr_start", "mrr_end",
                "mrr_total_end"):
        frame[col] = frame[col].astype("float64")
    return frame


# ---- cohorts -------------------------------------------------------------------------------

COHORT_COLUMNS = ["cohort", "month_offset", "observed_on", "active", "size", "retention"]


def cohort_matrix(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Retention by acquisition month, long format, in one query.

    Columns: cohort (first day of the month of the account's first contract), month_offset (0 =
    that month), observed_on (last day of month cohort + offset, clipped to the period end),
    active (cohort accounts active on observed_on), size (accounts in the cohort), retention
    (active / size). Only cohorts whose first contract starts within the period.
    """
    if period.empty_data or period.start is None or period.end is None or period.start > period.end:
        return pd.DataFrame(columns=COHORT_COLUMNS)
    start, end = period.start, period.end
    c = _contracts(con, cfg, filters)
    first = c.group_by("account_id").aggregate(first_start=c.start_date.min())
    first = first.filter(first.first_start >= start, first.first_start <= end)
    first = first.mutate(cidx=_month_index(first.first_start))
    sizes = first.group_by("cidx").aggregate(size=first.count())
    months = ibis.memtable(
        pd.DataFrame([(m.year * 12 + m.month - 1, min(_month_end(m), end)) for m in _month_starts(start, end)],
                     columns=["midx", "obs"]),
        schema={"midx": "int64", "obs": "date"})
    pairs = first.join(months, first.cidx <= months.midx)
    cs = c.select(_c_acc="account_id", start_date="start_date", end_date="end_date")
    hits = pairs.join(cs, pairs.account_id == cs._c_acc)
    hits = hits.filter(contract_active_on(hits, hits.obs))
    active = hits.group_by(["cidx", "midx"]).aggregate(active=hits.account_id.nunique())
    grid = sizes.join(months, sizes.cidx <= months.midx)
    grid = grid.left_join(active, [grid.cidx == active.cidx, grid.midx == active.midx])
    df = grid.select(cidx=grid.cidx, midx=grid.midx, obs=grid.obs, size=grid.size,
                     active=ibis.coalesce(grid.active, 0)).execute()
    if df.empty:
        return pd.DataFrame(columns=COHORT_COLUMNS)
    cidx = df["cidx"].astype("int64")
    out = pd.DataFrame({
        "cohort": pd.to_datetime({"year": cidx // 12, "month": cidx % 12 + 1, "day": 1}),
        "month_offset": (df["midx"].astype("int64") - cidx).astype("int64"),
        "observed_on": pd.to_datetime(df["obs"]).dt.date,
        "active": df["active"].astype("int64"),
        "size": df["size"].astype("int64"),
    })
    out["retention"] = out["active"] / out["size"]
    return out.sort_values(["cohort", "month_offset"]).reset_index(drop=True)[COHORT_COLUMNS]


# ---- lifetimes and survival ----------------------------------------------------------------

def _lifetime_table(con: Backend, cfg: Config, filters: Filters, start: dt.date, as_of: dt.date) -> ir.Table:
    """One row per customer whose first contract starts in [start, as_of]: first_start, churned,
    end_day (churn day, or as_of when still active) and duration_days (integer days)."""
    c = _contracts(con, cfg, filters)
    c = c.filter(contract_has_days(c.start_date, c.end_date), c.start_date <= as_of)
    day = ibis.date(as_of)
    per = c.group_by("account_id").aggregate(
        first_start=c.start_date.min(),
        active=c.count(where=contract_active_on(c, day)),
        last_end=c.end_date.max(),
    )
    per = per.filter(per.first_start >= start)
    churned = per.active == 0
    end_day = ibis.ifelse(churned, per.last_end, day)
    return per.mutate(churned=churned, end_day=end_day,
                      duration_days=end_day.delta(per.first_start, unit="day").cast("int64")).drop("active")


def lifetimes(con: Backend, cfg: Config, filters: Filters, period: Period | None = None) -> pd.DataFrame:
    """Per customer (first contract start within the period), observed on the period's last day:
    account_id, first_start, last_active_day, duration_days, churned. One row per account."""
    period = period or resolve_period(con, filters)
    cols = ["account_id", "first_start", "last_active_day", "duration_days", "churned"]
    if period.empty_data or period.start is None or period.end is None:
        return pd.DataFrame(columns=cols)
    t = _lifetime_table(con, cfg, filters, period.start, period.end)
    df = t.order_by("account_id").execute()
    if df.empty:
        return pd.DataFrame(columns=cols)
    end_day = pd.to_datetime(df["end_day"])
    churned = df["churned"].astype(bool)
    # a churned customer's last active day is the day before its last contract's end_date
    last = end_day.where(~churned, end_day - pd.Timedelta(days=1))
    return pd.DataFrame({
        "account_id": df["account_id"],
        "first_start": pd.to_datetime(df["first_start"]).dt.date,
        "last_active_day": last.dt.date,
        "duration_days": df["duration_days"].astype("int64"),
        "churned": churned,
    })


KM_COLUMNS = ["days", "survival", "ci_low", "ci_high", "at_risk", "events", "censored"]


def kaplan_meier(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Kaplan–Meier customer survival (scipy.stats.ecdf on right-censored lifetimes).

    The database returns one row per (duration, churned) with a count; the curve, its 95 %
    log-log band, and the numbers at risk / churned / censored at each duration are computed on
    that. Columns: days, survival, ci_low, ci_high, at_risk, events, censored; the first row is
    day 0 at survival 1. Empty when no customer starts in the period.
    """
    if period.empty_data or period.start is None or period.end is None:
        return pd.DataFrame(columns=KM_COLUMNS)
    t = _lifetime_table(con, cfg, filters, period.start, period.end)
    agg = t.group_by(["duration_days", "churned"]).aggregate(n=t.count()).execute()
    if agg.empty:
        return pd.DataFrame(columns=KM_COLUMNS)
    days = agg["duration_days"].to_numpy(dtype=float)
    churned = agg["churned"].to_numpy(dtype=bool)
    n = agg["n"].to_numpy(dtype=np.int64)
    sample = np.repeat(days, n)
    censored_flags = np.repeat(~churned, n)
    from scipy import stats  # here, not at the top: it takes ≈0.6 s to import and `kpis` never needs it

    data = stats.CensoredData.right_censored(sample, censored_flags)
    res = stats.ecdf(data)
    with warnings.catch_warnings():
        # undefined at observations where survival hits 0 (NaN there); scipy warns about it
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = res.sf.confidence_interval(0.95, method="log-log")
    times = np.asarray(res.sf.quantiles, dtype=float)
    surv = np.asarray(res.sf.probabilities, dtype=float)
    # the log-log band is undefined where survival is exactly 1 or 0: there it is that point
    low = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, np.asarray(ci.low.probabilities, dtype=float)))
    high = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, np.asarray(ci.high.probabilities, dtype=float)))
    ev = np.array([n[(days == x) & churned].sum() for x in times], dtype=np.int64)
    cen = np.array([n[(days == x) & ~churned].sum() for x in times], dtype=np.int64)
    at_risk = np.array([n[days >= x].sum() for x in times], dtype=np.int64)
    out = pd.DataFrame({
        "days": times, "survival": surv, "ci_low": low, "ci_high": high,
        "at_risk": at_risk, "events": ev, "censored": cen,
    })
    if not len(out) or out["days"].iloc[0] > 0:
        head = pd.DataFrame({"days": [0.0], "survival": [1.0], "ci_low": [1.0], "ci_high": [1.0],
                             "at_risk": [int(n.sum())], "events": [0], "censored": [0]})
        out = pd.concat([head, out], ignore_index=True)
    return out[KM_COLUMNS]


# ---- health --------------------------------------------------------------------------------

def _health_table(con: Backend, base: ir.Table, as_of: dt.date) -> ir.Table:
    """Health of the accounts in `base` (one column, account_id) as of the end of `as_of`."""
    day = ibis.date(as_of)
    before = ibis.date(as_of - dt.timedelta(days=MRR_LOOKBACK_DAYS))
    ref = ibis.timestamp(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))  # end of as_of

    c = con.table("contracts")
    c = c.filter(c.account_id.isin(base.account_id))
    mrr = c.group_by(_m_acc=c.account_id).aggregate(
        active_contracts=c.count(where=contract_active_on(c, day)), mrr=mrr_on(c, day), mrr_before=mrr_on(c, before))

    a = con.table("activities")
    a = a.filter(a.account_id.isin(base.account_id), a.occurred_at < ref)
    act = a.group_by(_a_acc=a.account_id).aggregate(last_activity_at=a.occurred_at.max())

    s = con.table("surveys")
    s = s.filter(s.account_id.isin(base.account_id), s.submitted_at < ref, s.score.notnull())
    sat = s.group_by(_s_acc=s.account_id).aggregate(
        last_nps=s.score.argmax(s.submitted_at, where=s.kind == "nps"),
        last_csat=s.score.argmax(s.submitted_at, where=s.kind == "csat"))

    t = con.table("tickets")
    t = t.filter(t.account_id.isin(base.account_id), t.opened_at < ref,
                 t.resolved_at.isnull() | (t.resolved_at >= ref))
    tix = t.group_by(_t_acc=t.account_id).aggregate(open_tickets=t.count())

    acc = con.table("accounts").select(_acc_id="account_id", account_name="account_name", region="region",
                                       segment="segment", owner_rep_id="owner_rep_id")
    reps = con.table("reps").select(_r_id="rep_id", owner_name="rep_name")
    j = base.select("account_id")
    j = j.left_join(acc, j.account_id == acc._acc_id)
    j = j.left_join(reps, j.owner_rep_id == reps._r_id)
    j = j.left_join(mrr, j.account_id == mrr._m_acc)
    j = j.left_join(act, j.account_id == act._a_acc)
    j = j.left_join(sat, j.account_id == sat._s_acc)
    j = j.left_join(tix, j.account_id == tix._t_acc)

    days_idle = days_between(j.last_activity_at, ref)
    ramp = ((days_idle - ACTIVITY_GRACE_DAYS) / (ACTIVITY_FULL_DAYS - ACTIVITY_GRACE_DAYS)).clip(lower=0, upper=1)
    p_activity = ibis.coalesce(ramp * W_ACTIVITY, W_ACTIVITY)
    nps_pen = ibis.cases((j.last_nps <= 6, W_SATISFACTION), (j.last_nps <= 8, 10.0), else_=0.0)
    csat_pen = ibis.cases((j.last_csat <= 2, W_SATISFACTION), (j.last_csat <= 3, 10.0), else_=0.0)
    p_sat = ibis.greatest(nps_pen, csat_pen)
    open_t = ibis.coalesce(j.open_tickets, 0)
    p_tickets = (open_t * TICKET_PENALTY).clip(upper=W_TICKETS).cast("float64")
    # per account (exact DECIMAL sums), as floats: the score's arithmetic is float, and no sum follows
    mrr_now = ibis.coalesce(j.mrr.cast("float64"), 0.0)
    mrr_before = ibis.coalesce(j.mrr_before.cast("float64"), 0.0)
    change = ibis.ifelse(mrr_before > 0, (mrr_now - mrr_before) / mrr_before, ibis.null().cast("float64"))
    drop = ibis.coalesce((-change).clip(lower=0), 0.0)
    p_mrr = (drop / MRR_FULL_DROP).clip(upper=1) * W_MRR
    score = (100.0 - p_activity - p_sat - p_tickets - p_mrr).clip(lower=0, upper=100)
    return j.select(
        "account_id", "account_name", "owner_rep_id", "owner_name", "region", "segment",
        active=ibis.coalesce(j.active_contracts, 0) > 0,
        mrr=mrr_now, mrr_90d_ago=mrr_before, mrr_change=change,
        last_activity_at=j.last_activity_at, days_since_activity=days_idle,
        last_nps=j.last_nps, last_csat=j.last_csat, open_tickets=open_t.cast("int64"),
        penalty_activity=p_activity, penalty_satisfaction=p_sat, penalty_tickets=p_tickets, penalty_mrr=p_mrr,
        health_score=score,
    )


def _reasons(rec: dict[str, Any]) -> tuple[Reason, ...]:
    """The factors that lowered the score, worst first (ties in the order of the docstring's list)."""
    found: list[tuple[float, list[Reason]]] = []
    if rec["penalty_activity"] > 0:
        idle = _num(rec["days_since_activity"])
        found.append((rec["penalty_activity"], [Reason("activity", "no_activity") if idle is None
                                                else Reason("activity", "idle_days", int(idle))]))
    if rec["penalty_mrr"] > 0 and _num(rec["mrr_change"]) is not None:
        found.append((rec["penalty_mrr"], [Reason("mrr", "mrr_down", round(-100 * float(rec["mrr_change"])))]))
    if rec["penalty_tickets"] > 0:
        n = int(rec["open_tickets"])
        found.append((rec["penalty_tickets"], [Reason("tickets", "open_ticket" if n == 1 else "open_tickets", n)]))
    if rec["penalty_satisfaction"] > 0:
        parts = []
        nps, csat = _num(rec["last_nps"]), _num(rec["last_csat"])
        if nps is not None and nps <= 8:
            parts.append(Reason("satisfaction", "nps_detractor" if nps <= 6 else "nps_passive", nps))
        if csat is not None and csat <= 3:
            parts.append(Reason("satisfaction", "csat_low", csat))
        found.append((rec["penalty_satisfaction"], parts))
    found.sort(key=lambda x: -x[0])
    return tuple(reason for _, reasons in found for reason in reasons)


def reason_text(reason: Reason, lang: str = "en") -> str:
    """What one reason says in `lang` ("en" or "zh")."""
    en, zh = REASON_TEXT[reason.code]
    return (zh if lang == "zh" else en).format(value=reason.value)


def reasons_text(reasons: tuple[Reason, ...], lang: str = "en") -> str:
    """The reasons of one account as a line of text in `lang`: factors apart, the reasons of one
    factor together ("NPS detractor (4), CSAT 3/5"); "" when nothing lowered the score."""
    between, within = REASON_SEPARATORS["zh" if lang == "zh" else "en"]
    factors: list[list[str]] = []
    previous = None
    for reason in reasons:
        if reason.factor != previous:
            factors.append([])
            previous = reason.factor
        factors[-1].append(reason_text(reason, lang))
    return between.join(within.join(parts) for parts in factors)


def with_reason_text(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """`at_risk` rows with `reasons` written out in `lang`, as a page shows and downloads them."""
    if "reasons" not in frame:
        return frame
    return frame.assign(reasons=[reasons_text(r, lang) for r in frame["reasons"]])


HEALTH_COLUMNS = ["account_id", "account_name", "owner_rep_id", "owner_name", "region", "segment", "health_score",
                  "reasons", "mrr", "mrr_90d_ago", "mrr_change", "days_since_activity", "last_nps", "last_csat",
                  "open_tickets", "penalty_activity", "penalty_satisfaction", "penalty_tickets", "penalty_mrr"]


def _health_frame(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=HEALTH_COLUMNS)
    df = df.copy()
    df["reasons"] = pd.Series([_reasons(r) for r in df.to_dict("records")], index=df.index, dtype=object)
    df["health_score"] = df["health_score"].astype("float64").round(1)
    return df[HEALTH_COLUMNS].reset_index(drop=True)


def at_risk(con: Backend, cfg: Config, filters: Filters, period: Period, limit: int = 50) -> pd.DataFrame:
    """Accounts active on the period's last day, lowest health score first (ties: larger MRR first).

    Columns: account_id, account_name, owner_rep_id, owner_name, region, segment, health_score,
    reasons, mrr, mrr_90d_ago, mrr_change (fraction), days_since_activity, last_nps, last_csat,
    open_tickets, and the four penalties. Score and ranking run in the database; `reasons` is
    written for the `limit` rows returned.
    """
    if period.empty_data or period.end is None:
        return pd.DataFrame(columns=HEALTH_COLUMNS)
    c = _contracts(con, cfg, filters)
    base = c.filter(contract_active_on(c, ibis.date(period.end))).select("account_id").distinct()
    h = _health_table(con, base, period.end)
    h = h.order_by([h.health_score, ibis.desc(h.mrr), h.account_id]).limit(limit)
    return _health_frame(h.execute())


def health(con: Backend, cfg: Config, account_id: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """Health score and reasons of one account as of `as_of` (default: `filters.data_as_of`,
    the latest day something happened).

    Returns the at_risk row as a dict plus `active` and `as_of`; {} for an unknown account.
    """
    if as_of is None:
        as_of = data_as_of(con)
    acc = con.table("accounts")
    base = acc.filter(acc.account_id == account_id).select("account_id")
    c = con.table("contracts")
    base = ibis.union(base, c.filter(c.account_id == account_id).select("account_id")).distinct()
    df = _health_table(con, base, as_of).execute()
    if df.empty:
        return {}
    active = bool(df["active"].iloc[0])
    rec = _health_frame(df).iloc[0].to_dict()
    out: dict[str, Any] = {k: (None if not isinstance(v, str | tuple) and pd.isna(v) else v) for k, v in rec.items()}
    out.update({"active": active, "as_of": as_of})
    return out
