"""Customer satisfaction and service (CONTRACT §5 "Satisfaction"): CSAT, NPS, CES, first response, SLA.

Surveys count when submitted in the period and tickets when opened in it. Region, segment and rep
select accounts (`accounts_in_scope(with_rep=True)`); surveys and tickets follow their `account_id`.
Counting, means and the median run in the database; only the confidence intervals are computed
in Python, on the handful of counts that come back.

Choices where the contract is silent:

* first-response hours are exact (`_rules.hours_between`: `first_response_at − opened_at` in
  fractional hours); a ticket meets the SLA when answered in at most `first_response_sla_hours`
  (a reply at exactly 24 h is within a 24 h SLA);
* a ticket without `first_response_at` is unanswered: it counts in `tickets` and against the SLA,
  and not in the median;
* surveys whose score is missing are left out (ingest refuses them anyway).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import SCORE_SUM, hours_between, with_region
from b2bmetrics.metrics.cells import count as _count
from b2bmetrics.metrics.cells import mean as _mean
from b2bmetrics.metrics.cells import num as _num
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import accounts_in_scope, scope_by_account

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

Z95 = 1.959964
SMALL_SAMPLE = 30  # fewer answers than this: the page marks the group instead of ranking it
GroupBy = Literal["channel", "region", "rep", "month", "segment"]
GROUPS: tuple[str, ...] = ("channel", "region", "rep", "month", "segment")


# ---- statistics on small aggregated results -------------------------------------------------

def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """95 % Wilson score interval of a proportion; (None, None) when n is 0."""
    if n <= 0:
        return (None, None)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0)) / denom
    # at p = 0 (p = 1) the lower (upper) bound is exactly 0 (1); elsewhere clamp rounding noise only
    lo = 0.0 if successes <= 0 else max(centre - half, 0.0)
    hi = 1.0 if successes >= n else min(centre + half, 1.0)
    return (lo, hi)


def nps_interval(promoters: int, detractors: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """NPS ± 100·z·sqrt((p + q − (p − q)²)/n), p and q the promoter and detractor shares."""
    if n <= 0:
        return (None, None)
    p, q = promoters / n, detractors / n
    nps = 100.0 * (p - q)
    half = 100.0 * z * math.sqrt(max(p + q - (p - q) ** 2, 0.0) / n)
    return (nps - half, nps + half)


# ---- expressions ----------------------------------------------------------------------------

def first_response_hours(tickets: ir.Table) -> ir.FloatingValue:
    """Exact hours from opening to the first response (`_rules.hours_between`); NULL when unanswered."""
    return hours_between(tickets.opened_at, tickets.first_response_at)


def _surveys(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    s = scope_by_account(con.table("surveys"), accounts_in_scope(con, cfg, filters, with_rep=True))
    return s.filter(period.contains(s.submitted_at), s.score.notnull())


def _tickets(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    t = scope_by_account(con.table("tickets"), accounts_in_scope(con, cfg, filters, with_rep=True))
    return t.filter(period.contains(t.opened_at))


def _survey_measures(s: ir.Table) -> dict[str, ir.Value]:
    csat, nps, ces = s.kind == "csat", s.kind == "nps", s.kind == "ces"
    return {
        "csat_n": s.count(where=csat),
        "csat_pos": s.count(where=csat & (s.score >= 4)),
        "nps_n": s.count(where=nps),
        "nps_pro": s.count(where=nps & (s.score >= 9)),
        "nps_det": s.count(where=nps & (s.score <= 6)),
        "ces_n": s.count(where=ces),
        # the mean is one division of an exact sum (`_rules.SCORE_SUM`), whatever the order of the rows
        "ces_sum": s.score.cast(SCORE_SUM).sum(where=ces),
    }


def _ticket_measures(t: ir.Table, hours: ir.FloatingValue, sla: float) -> dict[str, ir.Value]:
    return {
        "tickets": t.count(),
        "answered": t.count(where=hours.notnull()),
        # exact median (DuckDB quantile_cont / Spark percentile): the mean of the middle two
        "median_hours": hours.median(),
        "sla_met": t.count(where=hours <= sla),
    }


# ---- KPIs -----------------------------------------------------------------------------------

def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "satisfaction": the ten numbers, in one query; ratios and means are None when undefined."""
    s = _surveys(con, cfg, filters, period)
    t = _tickets(con, cfg, filters, period)
    t = t.mutate(hours=first_response_hours(t))
    survey_row = s.aggregate(**_survey_measures(s))
    ticket_row = t.aggregate(**_ticket_measures(t, t.hours, cfg.first_response_sla_hours))
    row = survey_row.cross_join(ticket_row).execute().iloc[0]

    csat_n, nps_n, tickets = _count(row["csat_n"]), _count(row["nps_n"]), _count(row["tickets"])
    csat_pos, pro, det = _count(row["csat_pos"]), _count(row["nps_pro"]), _count(row["nps_det"])
    return {
        "csat": _ratio(csat_pos, csat_n),
        "csat_ci": list(wilson_interval(csat_pos, csat_n)),
        "csat_responses": csat_n,
        "nps": None if nps_n == 0 else 100.0 * (pro - det) / nps_n,
        "nps_ci": list(nps_interval(pro, det, nps_n)),
        "nps_responses": nps_n,
        "ces": _mean(row["ces_sum"], row["ces_n"]),
        "median_first_response_hours": _num(row["median_hours"]),
        "sla_met_rate": _ratio(_count(row["sla_met"]), tickets),
        "tickets": tickets,
    }


def _keyed(con: Backend, cfg: Config, rows: ir.Table, by: GroupBy, *, surveys: bool) -> ir.Table:
    """`rows` (surveys or tickets) with a `grp` column for `by`.

    channel: the ticket's channel; a survey takes the channel of the ticket it names (NULL when it
    names none). region/segment: the account's (region_of = "rep": the account owner's
    reps.region). rep: a ticket's account owner; a survey's own `rep_id` when given (the person
    the customer rated), else the account owner. month: first day of the calendar month.
    """
    if by == "month":
        ts = rows.submitted_at if surveys else rows.opened_at
        return rows.mutate(grp=ts.truncate("M").cast("date"))
    if by == "region":
        return with_region(con, cfg.region_of, rows, name="grp")
    if by == "channel":
        if not surveys:
            return rows.mutate(grp=rows.channel)
        tk = con.table("tickets").select(_tk_id="ticket_id", _tk_channel="channel").distinct()
        joined = rows.left_join(tk, rows.ticket_id == tk._tk_id)
        return joined.mutate(grp=joined._tk_channel).drop("_tk_id", "_tk_channel")
    acc = con.table("accounts").select(_acc_id="account_id", _acc_segment="segment", _acc_owner="owner_rep_id")
    j = rows.left_join(acc, rows.account_id == acc._acc_id)
    helpers = ["_acc_id", "_acc_segment", "_acc_owner"]
    if by == "segment":
        key: ir.Value = j._acc_segment
    else:  # rep
        key = ibis.coalesce(j.rep_id, j._acc_owner) if surveys else j._acc_owner
    return j.mutate(grp=key).drop(*helpers)


def by_group(con: Backend, cfg: Config, filters: Filters, period: Period, by: GroupBy) -> pd.DataFrame:
    """Per group: CSAT (+ Wilson CI, n), NPS (+ CI, n), CES (n), tickets, median first response, SLA rate.

    One query. The first column is named after `by` (NULL = unknown: no channel, unlinked survey,
    no account row). `small_sample` is True when any measure the group has is based on fewer than
    30 answers or tickets (per-measure flags `*_small` say which), so the page marks rather than
    ranks it. Rows are sorted by the group key, unknown last.
    """
    if by not in GROUPS:
        raise ValueError(f"by must be one of {GROUPS}, not {by!r}")
    sla = cfg.first_response_sla_hours
    s = _keyed(con, cfg, _surveys(con, cfg, filters, period), by, surveys=True)
    t = _tickets(con, cfg, filters, period)
    t = _keyed(con, cfg, t.mutate(hours=first_response_hours(t)), by, surveys=False)
    # one long table: a survey row carries kind/score, a ticket row carries hours
    null_f, null_s = ibis.null().cast("float64"), ibis.null().cast("string")
    long = ibis.union(
        s.select(grp=s.grp.cast("string") if by != "month" else s.grp, is_ticket=ibis.literal(False),
                 kind=s.kind, score=s.score.cast("float64"), hours=null_f),
        t.select(grp=t.grp.cast("string") if by != "month" else t.grp, is_ticket=ibis.literal(True),
                 kind=null_s, score=null_f, hours=t.hours.cast("float64")),
        distinct=False,
    )
    measures = _survey_measures(long)
    ticket = long.is_ticket
    measures.update({
        "tickets": long.count(where=ticket),
        "answered": long.count(where=ticket & long.hours.notnull()),
        "median_hours": long.hours.median(),  # NULL on survey rows, so only tickets count
        "sla_met": long.count(where=ticket & (long.hours <= sla)),
    })
    df = long.group_by("grp").aggregate(**measures).execute()
    return _group_frame(df, by)


def _group_frame(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Counts per group -> the page's table, with intervals and small-sample flags."""
    out: list[dict[str, Any]] = []
    for rec in df.to_dict("records"):
        csat_n, nps_n, ces_n, tickets = (_count(rec[k]) for k in ("csat_n", "nps_n", "ces_n", "tickets"))
        csat_lo, csat_hi = wilson_interval(_count(rec["csat_pos"]), csat_n)
        nps_lo, nps_hi = nps_interval(_count(rec["nps_pro"]), _count(rec["nps_det"]), nps_n)
        small = {name: 0 < n < SMALL_SAMPLE for name, n in
                 (("csat", csat_n), ("nps", nps_n), ("ces", ces_n), ("tickets", tickets))}
        key = rec["grp"]
        if by == "month" and key is not None and not pd.isna(key):
            key = pd.Timestamp(key).date()  # a calendar month is a date, not a timestamp
        out.append({
            by: None if key is None or (not isinstance(key, str) and pd.isna(key)) else key,
            "csat": _ratio(_count(rec["csat_pos"]), csat_n), "csat_lo": csat_lo, "csat_hi": csat_hi,
            "csat_n": csat_n,
            "nps": None if nps_n == 0 else 100.0 * (_count(rec["nps_pro"]) - _count(rec["nps_det"])) / nps_n,
            "nps_lo": nps_lo, "nps_hi": nps_hi, "nps_n": nps_n,
            "ces": _mean(rec["ces_sum"], ces_n), "ces_n": ces_n,
            "tickets": tickets, "answered": _count(rec["answered"]),
            "median_first_response_hours": _num(rec["median_hours"]),
            "sla_met_rate": _ratio(_count(rec["sla_met"]), tickets),
            **{f"{name}_small": flag for name, flag in small.items()},
            "small_sample": any(small.values()),
        })
    columns = [by, "csat", "csat_lo", "csat_hi", "csat_n", "nps", "nps_lo", "nps_hi", "nps_n", "ces", "ces_n",
               "tickets", "answered", "median_first_response_hours", "sla_met_rate",
               "csat_small", "nps_small", "ces_small", "tickets_small", "small_sample"]
    frame = pd.DataFrame(out, columns=columns)
    if len(frame):
        frame = frame.sort_values(by, na_position="last", kind="stable", key=lambda c: c.astype("string"))
    return frame.reset_index(drop=True)


def response_times(con: Backend, cfg: Config, filters: Filters, period: Period, *, bins: int = 12,
                   width_hours: float | None = None) -> pd.DataFrame:
    """Histogram of first-response hours per ticket channel, binned in the database.

    Bins are (start, end] (the first is [0, width]), so a reply at exactly the SLA falls in the
    last bin within it; the default width is SLA / 4, which puts the SLA on a bin edge. The last
    bin is open (`bin_end` NaN) and collects everything slower. Unanswered tickets are not in the
    histogram. Columns: channel, bin, bin_start, bin_end, tickets, within_sla; `attrs["sla_hours"]`
    and the `sla_hours` column carry the SLA line.
    """
    sla = cfg.first_response_sla_hours
    width = width_hours if width_hours and width_hours > 0 else (sla / 4 if sla > 0 else 1.0)
    t = _tickets(con, cfg, filters, period)
    t = t.mutate(hours=first_response_hours(t)).filter(lambda r: r.hours.notnull())
    # ceil − 1 makes the bins closed on the right: hours == k·width lands in bin k − 1
    b = ((t.hours / width).ceil() - 1).cast("int64").clip(lower=0, upper=bins - 1)
    binned = t.mutate(bin=b)
    df = binned.group_by(["channel", "bin"]).aggregate(tickets=binned.count()).execute()
    df["bin"] = df["bin"].astype("int64")
    df["tickets"] = df["tickets"].astype("int64")
    df["bin_start"] = df["bin"] * width
    df["bin_end"] = np.where(df["bin"] == bins - 1, np.nan, (df["bin"] + 1) * width)
    df["within_sla"] = df["bin_end"] <= sla
    df["sla_hours"] = sla
    df = df.sort_values(["channel", "bin"], na_position="last").reset_index(drop=True)
    df = df[["channel", "bin", "bin_start", "bin_end", "tickets", "within_sla", "sla_hours"]]
    df.attrs["sla_hours"] = sla
    return df
