"""The sales funnel (CONTRACT §5 "Funnel", cohort view): reach, conversion, win rate, cycle, velocity.

The cohort is the deals created in the period, after the region / segment / rep filters
(`filtering.deals_in_scope`). A deal without `created_at` belongs to it only when no period was
given. Each cohort deal gets a `reach`: the highest position in `[pipeline] stages` that appears in
its stage history or as its current stage (a won deal reaches the last stage); the lost stage has
no position and every deal reaches at least position 0. Every number here is an ibis expression
run by the backend; only aggregates become pandas frames.

Choices where the contract is silent:

* status: `_rules.deal_status`, the `status` column; when it is empty, it is derived from the
  current stage exactly as ingest does (won stage -> won, lost stage -> lost, otherwise open).
* stage visits: history entries are ordered per deal by `entered_at`, ties broken by pipeline
  position (the lost stage and unknown stages last), so two entries at the same instant give the
  earlier stage a 0-day visit. A visit of stage i lasts from its entry to the deal's next history
  entry, whatever that is (a later stage, an earlier one on a back-move, the lost stage, or the
  same stage logged again). A deal that enters a stage twice contributes one visit per entry
  that has a next entry; the last entry of a deal has no end and is left out (the deal is still
  there, or closed without a recorded move). `median_days_in_stage` is the exact median over those visits.
* durations are exact fractional days (`_rules.days_between`), never calendar-day counts.
* `won_amount` is exact (a Decimal: DECIMAL amounts summed by the backend) and 0 (an empty sum) when
  no won deal has an amount; means and ratios are floats, each one division of exact sums
  (`avg_won_amount` = won_amount / won deals with an amount, `avg_sales_cycle_days` = Σ microseconds
  / n), so they never depend on the order the backend added the rows; None when undefined. Frames
  for pages (breakdown, monthly_trend, deals_behind, open_pipeline) carry money as floats, each the
  float of an exact sum.
* transitions count consecutive history entries only; a close that was never written to the
  history (no `lost` entry) is not invented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import (
    MICROS_PER_DAY,
    days_between,
    deal_status,
    exact_sum,
    micros_between,
    with_region,
)
from b2bmetrics.metrics.cells import Decimal, float_columns, money
from b2bmetrics.metrics.cells import count as _count
from b2bmetrics.metrics.cells import mean as _mean
from b2bmetrics.metrics.cells import num as _num
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import deals_in_scope
from b2bmetrics.store.materialize import Relation, lookup

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

BreakdownBy = Literal["region", "segment", "rep"]
BREAKDOWNS: tuple[str, ...] = ("region", "segment", "rep")


# ---- expressions ---------------------------------------------------------------------------

def stage_position(cfg: Config, stage: ir.StringValue) -> ir.IntegerValue:
    """Position of `stage` in `[pipeline] stages`; NULL for the lost stage and anything unknown."""
    stages = cfg.pipeline.stages
    return stage.cases(*[(s, i) for i, s in enumerate(stages)], else_=ibis.null()).cast("int64")


def _stage_name(cfg: Config, position: ir.IntegerValue) -> ir.StringValue:
    stages = cfg.pipeline.stages
    return position.cases(*[(i, s) for i, s in enumerate(stages)], else_=ibis.null()).cast("string")


def _in_cohort(deals: ir.Table, period: Period) -> ir.BooleanValue:
    """Created on a day of the period; undated deals only when no period was given."""
    cond: ir.BooleanValue = ibis.literal(False)
    if not period.empty_data:
        cond = deals.created_at.notnull() & period.contains(deals.created_at)
    if not period.given:
        cond = cond | deals.created_at.isnull()
    return cond


def _cohort_deals(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """The cohort's `deals` rows as they are (no reach): what selects their stage history."""
    deals = deals_in_scope(con, cfg, filters)
    return deals.filter(_in_cohort(deals, period))


def _whole(filters: Filters, period: Period) -> bool:
    """The cohort is every deal: no filter and no period at all. (The default period is the 12 months
    ending on the latest day something happened, CONTRACT §5 v2: it need not span every `created_at`,
    so only a period without ends is known to take every deal.)"""
    return not (filters.scopes_accounts or filters.reps or period.given) and period.start is None and period.end is None


def history_reach(con: Backend, cfg: Config, deals: ir.Table | None) -> ir.Table:
    """Per deal in the stage history (of `deals`, or all): `_h_deal` and `_h_top`, the highest
    pipeline position it shows (NULL when only lost / unknown stages)."""
    hist = con.table("deal_stage_history")
    if deals is not None:
        hist = hist.filter(hist.deal_id.isin(deals.deal_id))
    return hist.group_by(_h_deal=hist.deal_id).aggregate(_h_top=stage_position(cfg, hist.stage).max())


def cohort(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """The cohort deals (every `deals` column) with `status` filled in and `reach` (int position).

    Building block of every funnel number; nothing is executed. Read from the store's derived
    `deal_facts` (every deal with its status and reach) when it has them.
    """
    facts = lookup(con, DEAL_FACTS, cfg)
    if facts is not None:
        d = deals_in_scope(con, cfg, filters, facts)
        return d.filter(_in_cohort(d, period))
    deals = _cohort_deals(con, cfg, filters, period)
    # a part of the deals: aggregate only their history (the join keeps the same rows; without
    # this DuckDB aggregates the whole history first). All deals: no semi-join needed.
    return _with_reach(con, cfg, deals, history_reach(con, cfg, None if _whole(filters, period) else deals))


def deal_facts_live(con: Backend, cfg: Config) -> ir.Table:
    """Every deal with `status` filled in and `reach`: what `cohort` selects from."""
    return _with_reach(con, cfg, con.table("deals"), history_reach(con, cfg, None))


def _with_reach(con: Backend, cfg: Config, deals: ir.Table, top: ir.Table) -> ir.Table:
    j = deals.left_join(top, deals.deal_id == top._h_deal)
    last = len(cfg.pipeline.stages) - 1
    status = deal_status(cfg.pipeline, j)
    reach = ibis.greatest(
        ibis.coalesce(j._h_top, 0),
        ibis.coalesce(stage_position(cfg, j.stage), 0),
        ibis.ifelse(status == "won", last, 0),
    ).cast("int64")
    return j.mutate(status=status, reach=reach).drop("_h_deal", "_h_top")


def stage_visits_live(con: Backend, cfg: Config, deals: ir.Table | None = None) -> ir.Table:
    """History entries (of `deals`, or all) with the deal's next entry, derived from the raw
    history: deal_id, stage, pos, next_stage, micros (whole microseconds to the next entry) and days
    (NULL when the entry is the deal's last).
    Entries without `entered_at` are left out."""
    hist = con.table("deal_stage_history")
    if deals is not None:
        hist = hist.filter(hist.deal_id.isin(deals.deal_id))
    hist = hist.filter(hist.entered_at.notnull())
    pos = stage_position(cfg, hist.stage)
    # ties on entered_at: pipeline order, lost / unknown last, so the order is deterministic
    hist = hist.mutate(pos=pos, _ord=ibis.coalesce(pos, len(cfg.pipeline.stages)))
    w = ibis.window(group_by=hist.deal_id, order_by=[hist.entered_at, hist._ord, hist.stage])
    micros = micros_between(hist.entered_at, hist.entered_at.lead().over(w))
    return hist.select("deal_id", "stage", "pos", next_stage=hist.stage.lead().over(w),
                       micros=micros, days=micros / MICROS_PER_DAY)


# ---- relations the store keeps beside the data (store.materialize) ---------------------------

# the deal columns the cohort and the view select visits by (`_in_cohort`, `deals_in_scope`)
_DEAL_KEYS = ("created_at", "account_id", "owner_rep_id")


def _kept_visits(con: Backend, cfg: Config) -> ir.Table:
    """`stage_visits_live` of the known deals, only the visits with a next entry: every reader
    keeps only those (a length, a transition), and a deal's last entry is a quarter of the rows.
    Each visit carries its deal's `_DEAL_KEYS`, so a reader selects a cohort's visits by these
    columns instead of a semi-join of millions of visits against the cohort's deal ids (deal ids
    are unique in `deals`: the join keeps each visit once)."""
    v = stage_visits_live(con, cfg)
    v = v.filter(v.days.notnull() | v.next_stage.notnull())
    d = con.table("deals").select("deal_id", *_DEAL_KEYS).rename(_d_deal="deal_id")
    j = v.join(d, v.deal_id == d._d_deal)
    return j.drop("_d_deal")


def _cohort_visits(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table | None:
    """The stored visits of the cohort's deals (the rows `stage_visits_live` of `_cohort_deals`
    keeps), selected by the deal columns each visit carries; None when the store has none."""
    stored = lookup(con, STAGE_VISITS, cfg)
    if stored is None:
        return None
    if _whole(filters, period):
        return stored
    v = deals_in_scope(con, cfg, filters, stored)
    return v.filter(_in_cohort(v, period))


def _pipeline_key(cfg: Config) -> tuple[object, ...]:
    """What of the configuration the kept relations read: the stage order, won and lost stages."""
    p = cfg.pipeline
    return (tuple(p.stages), p.won_stage, p.lost_stage)


_HISTORY = frozenset({"deals", "deal_stage_history"})
# without any stage history both are a plain scan of the deals live, and a copy only slows loads
DEAL_FACTS = Relation("deal_facts", deal_facts_live, inputs=_HISTORY, config_key=_pipeline_key,
                      needs_rows=frozenset({"deal_stage_history"}))
STAGE_VISITS = Relation("stage_visits", _kept_visits, inputs=_HISTORY, config_key=_pipeline_key,
                        needs_rows=frozenset({"deal_stage_history"}))


def stage_visits(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """`stage_visits_live` of the cohort's deals (`_cohort_deals`), read from the store's derived
    copy when it has one: only the visits with a next entry (the only ones any caller reads: a
    length or a transition)."""
    stored = _cohort_visits(con, cfg, filters, period)
    if stored is None:
        return stage_visits_live(con, cfg, _cohort_deals(con, cfg, filters, period))
    return stored.select("deal_id", "stage", "pos", "next_stage", "micros", "days")


def _visit_days(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """`pos` and `days` of each history entry of the cohort's deals: what the medians need of
    `stage_visits`.

    Read from the store's derived `stage_visits` when it has one. Derived live, the same days as
    `stage_visits` at about half the cost: the window orders by entered_at and pipeline position
    only, and leads one column. The stage name that `stage_visits` also orders by only separates
    entries that tie on both, and those are lost / unknown stages (their days are in no median,
    and the entry before them sees the same instant either way) or duplicate rows.
    """
    stored = _cohort_visits(con, cfg, filters, period)
    if stored is not None:
        return stored.select("pos", "days")
    deals = _cohort_deals(con, cfg, filters, period)
    hist = con.table("deal_stage_history")
    hist = hist.filter(hist.deal_id.isin(deals.deal_id), hist.entered_at.notnull())
    pos = stage_position(cfg, hist.stage)
    hist = hist.mutate(pos=pos, _ord=ibis.coalesce(pos, len(cfg.pipeline.stages)))
    w = ibis.window(group_by=hist.deal_id, order_by=[hist.entered_at, hist._ord])
    return hist.select(pos=hist.pos, days=days_between(hist.entered_at, hist.entered_at.lead().over(w)))


def _measures(c: ir.Table, cfg: Config) -> dict[str, ir.Value]:
    """The cohort aggregates every view shares (one row per group)."""
    won = c.status == "won"
    cycle = micros_between(c.created_at, c.closed_at)
    out: dict[str, ir.Value] = {f"entered_{i}": c.count(where=c.reach >= i) for i in range(len(cfg.pipeline.stages))}
    out.update({
        "won_deals": c.count(where=won),
        "lost_deals": c.count(where=c.status == "lost"),
        "open_deals": c.count(where=c.status == "open"),
        # sums over won deals skip NULL amounts / dates by SQL semantics; the means are exact sums
        # and their counts, divided once in `_derived` (no order-dependent float sum)
        "won_amount": c.amount.sum(where=won),
        "won_amount_n": c.amount.count(where=won),
        "cycle_micros": exact_sum(cycle, where=won),
        "cycle_n": cycle.count(where=won),
    })
    return out


def _derived(rec: dict[str, Any], n_stages: int) -> dict[str, Any]:
    """Ratios and counts from one aggregated row (plain Python values)."""
    entered = [_count(rec[f"entered_{i}"]) for i in range(n_stages)]
    won, lost, open_ = _count(rec["won_deals"]), _count(rec["lost_deals"]), _count(rec["open_deals"])
    win_rate = _ratio(won, won + lost)
    won_amount = money(rec["won_amount"])
    avg_won = _mean(won_amount, rec["won_amount_n"])
    cycle = _mean(rec["cycle_micros"], rec["cycle_n"], MICROS_PER_DAY)
    velocity = None
    if win_rate is not None and avg_won is not None and cycle:
        velocity = open_ * win_rate * avg_won / cycle
    return {
        "entered": entered,
        "overall_conversion": _ratio(entered[-1], entered[0]),
        "win_rate": win_rate,
        "won_deals": won,
        "lost_deals": lost,
        "won_amount": Decimal(0) if won_amount is None else won_amount,
        "avg_won_amount": avg_won,
        "avg_sales_cycle_days": cycle,
        "open_deals": open_,
        "pipeline_velocity_per_day": velocity,
    }


# ---- KPIs ----------------------------------------------------------------------------------

def summary(con: Backend, cfg: Config, filters: Filters, period: Period, *, medians: bool = True) -> dict[str, Any]:
    """CONTRACT §4 "funnel": stages with entered / conversion / median days, and the cohort KPIs.

    One query: the cohort aggregate cross-joined with the per-stage medians of stage visits. With
    `medians=False` the medians are None and the stage history is read only for the reach: the
    cheap headline a page shows beside `time_in_stage`, which has the medians anyway.
    """
    stages = cfg.pipeline.stages
    c = cohort(con, cfg, filters, period)
    agg = c.aggregate(**_measures(c, cfg))
    if medians:
        # the history of the cohort's deals, selected by the plain cohort rows (not `c`, whose reach
        # would join the history a second time inside the subquery)
        v = _visit_days(con, cfg, filters, period)
        # one median per stage, pivoted into one row: seven masked medians would each pass over every
        # visit (and Spark refuses `median(where=)`, compiled to a percentile with a non-constant fraction)
        g = v.filter(v.pos.notnull(), v.days.notnull()).group_by("pos").aggregate(m=v.days.median())
        agg = agg.cross_join(g.aggregate(**{f"median_{i}": g.m.max(where=g.pos == i) for i in range(len(stages))}))
    row = agg.execute().iloc[0].to_dict()
    d = _derived(row, len(stages))
    entered = d["entered"]
    stage_rows = [
        {
            "stage": s,
            "phase": cfg.pipeline.phase_of(s),
            "entered": entered[i],
            "conversion_to_next": _ratio(entered[i + 1], entered[i]) if i + 1 < len(stages) else None,
            "median_days_in_stage": _num(row[f"median_{i}"]) if medians else None,
        }
        for i, s in enumerate(stages)
    ]
    return {
        "stages": stage_rows,
        **{k: d[k] for k in ("overall_conversion", "win_rate", "won_deals", "won_amount", "avg_won_amount",
                             "avg_sales_cycle_days", "open_deals", "pipeline_velocity_per_day")},
    }


def _group_key(con: Backend, cfg: Config, c: ir.Table, by: str) -> ir.Table:
    """`c` with `group` (and `rep_name` for by="rep")."""
    if by == "rep":
        reps = con.table("reps").select(_r_id="rep_id", rep_name="rep_name")
        j = c.left_join(reps, c.owner_rep_id == reps._r_id)
        return j.mutate(group=j.owner_rep_id).drop("_r_id")
    if by == "region":
        return with_region(con, cfg.region_of, c, name="group", owner="owner_rep_id")
    acc = con.table("accounts").select(_a_id="account_id", _a_key=by)
    j = c.left_join(acc, c.account_id == acc._a_id)
    return j.mutate(group=j._a_key).drop("_a_id", "_a_key")


def breakdown(con: Backend, cfg: Config, filters: Filters, period: Period, by: BreakdownBy) -> pd.DataFrame:
    """The funnel per region, segment or owner rep, in one query.

    Columns: `group` (NULL = unknown: no account, no owner, or no region/segment), `rep_name`
    (by="rep" only), `entered_<stage>` for every stage, overall_conversion, win_rate, won_deals,
    lost_deals, open_deals, won_amount, avg_won_amount, avg_sales_cycle_days. Region is the deal's
    account's region, or its owner's `reps.region` when `region_of = "rep"`. Sorted by won_amount
    (largest first), unknown last.
    """
    if by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {BREAKDOWNS}, not {by!r}")
    stages = cfg.pipeline.stages
    c = _group_key(con, cfg, cohort(con, cfg, filters, period), by)
    keys = ["group", "rep_name"] if by == "rep" else ["group"]
    df = c.group_by(keys).aggregate(**_measures(c, cfg)).execute()
    rows = []
    for rec in df.to_dict("records"):
        d = _derived(rec, len(stages))
        row: dict[str, Any] = {k: (None if rec[k] is None or pd.isna(rec[k]) else rec[k]) for k in keys}
        row.update({f"entered_{s}": d["entered"][i] for i, s in enumerate(stages)})
        row.update({k: v for k, v in d.items() if k != "entered"})
        rows.append(row)
    columns = [*keys, *(f"entered_{s}" for s in stages), "overall_conversion", "win_rate", "won_deals",
               "lost_deals", "open_deals", "won_amount", "avg_won_amount", "avg_sales_cycle_days",
               "pipeline_velocity_per_day"]
    out = pd.DataFrame(rows, columns=columns)
    out["won_amount"] = out["won_amount"].astype("float64")  # a page's column: the float of each exact sum
    if len(out):
        out = out.assign(_unknown=out["group"].isna()).sort_values(
            ["_unknown", "won_amount", "group"], ascending=[True, False, True], kind="stable").drop(columns="_unknown")
    return out.reset_index(drop=True)


def _months(period: Period) -> list[pd.Timestamp]:
    if period.empty_data or period.start is None or period.end is None:
        return []
    return list(pd.date_range(pd.Timestamp(period.start).to_period("M").to_timestamp(),
                              pd.Timestamp(period.end), freq="MS"))


def open_pipeline(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """The pipeline as it stood at the end of the period (a snapshot, not the cohort): deals created
    by then and not yet closed — `closed_at` after the period, or no `closed_at` and still open.

    {"open_deals": count, "open_amount": Σ amount (exact, a Decimal; 0 when none has one)}; both None
    without data.
    Two periods' snapshots compare like for like, which the cohort's `open_deals` cannot: an older
    cohort has had longer to close. The dashboard's tile; not part of the CONTRACT §4 JSON.
    """
    if period.empty_data:
        return {"open_deals": None, "open_amount": None}
    d = deals_in_scope(con, cfg, filters)
    end = period.end_exclusive_ts()
    still_open = ibis.ifelse(d.closed_at.isnull(), deal_status(cfg.pipeline, d) == "open", d.closed_at >= end)
    d = d.filter(d.created_at.notnull(), d.created_at < end, still_open)
    row = d.aggregate(n=d.count(), amount=d.amount.sum()).execute().iloc[0]
    return {"open_deals": _count(row["n"]), "open_amount": money(row["amount"]) or Decimal(0)}


def monthly_trend(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Cohort deals by creation month: month (first day), created, won_deals, lost_deals, open_deals,
    win_rate, won_amount. Every month of the period has a row (zeros when nothing was created);
    deals without `created_at` have no month and are left out."""
    deals = _cohort_deals(con, cfg, filters, period)  # no reach needed: the stage history is not read
    c = deals.mutate(status=deal_status(cfg.pipeline, deals))
    c = c.filter(c.created_at.notnull())
    c = c.mutate(month=c.created_at.truncate("M").cast("date"))
    won = c.status == "won"
    df = c.group_by("month").aggregate(
        created=c.count(), won_deals=c.count(where=won), lost_deals=c.count(where=c.status == "lost"),
        open_deals=c.count(where=c.status == "open"), won_amount=c.amount.sum(where=won),
    ).execute()
    df["month"] = pd.to_datetime(df["month"])
    grid = pd.DataFrame({"month": pd.to_datetime(sorted(set(_months(period)) | set(df["month"])))})
    out = grid.merge(df, on="month", how="left")
    for col in ("created", "won_deals", "lost_deals", "open_deals"):
        out[col] = out[col].fillna(0).astype("int64")
    out["won_amount"] = out["won_amount"].fillna(0.0).astype("float64")
    decided = out["won_deals"] + out["lost_deals"]
    out["win_rate"] = (out["won_deals"] / decided.where(decided > 0)).astype("float64")
    return out[["month", "created", "won_deals", "lost_deals", "open_deals", "win_rate", "won_amount"]]


def transitions(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Stage-to-stage moves between consecutive history entries of cohort deals (a Sankey's links).

    Columns: source, target, deals (distinct deals that made the move), moves (times it was made;
    a deal that goes back and forth counts each move), back (target earlier in the pipeline than
    the source), to_lost. Sorted by source position, then deals.
    """
    # the plain cohort rows select the history (the reach of `cohort` is not needed here)
    v = stage_visits(con, cfg, filters, period)
    v = v.filter(v.next_stage.notnull())
    df = v.group_by(source=v.stage, target=v.next_stage).aggregate(
        deals=v.deal_id.nunique(), moves=v.count()).execute()
    order = {s: i for i, s in enumerate(cfg.pipeline.stages)}
    lost_pos = len(order)
    src = df["source"].map(order).fillna(lost_pos)
    tgt = df["target"].map(order).fillna(lost_pos)
    df["back"] = (tgt < src) & df["target"].isin(list(order))
    df["to_lost"] = df["target"] == cfg.pipeline.lost_stage
    df["deals"] = df["deals"].astype("int64")
    df["moves"] = df["moves"].astype("int64")
    df = df.assign(_s=src, _t=tgt).sort_values(["_s", "deals", "_t"], ascending=[True, False, True])
    return df[["source", "target", "deals", "moves", "back", "to_lost"]].reset_index(drop=True)


def deals_behind(con: Backend, cfg: Config, filters: Filters, period: Period, stage: str | None = None,
                 status: str | None = None, limit: int = 5000) -> pd.DataFrame:
    """The cohort deals behind a number: reach ≥ `stage` (the lost stage means status lost) and/or
    `status` (open / won / lost). Columns: deal_id, account_id, account_name, owner_rep_id,
    owner_name, amount, created_at, closed_at, status, stage (current), reach_stage. Newest first.
    Raises ValueError for a stage or status that does not exist."""
    p = cfg.pipeline
    c = cohort(con, cfg, filters, period)
    if stage is not None:
        if stage == p.lost_stage:
            status = status or "lost"
            if status != "lost":
                return _deal_frame(con, cfg, c.filter(ibis.literal(False)), limit)
        elif stage in p.stages:
            c = c.filter(c.reach >= p.stages.index(stage))
        else:
            raise ValueError(f"unknown stage {stage!r}: use one of {', '.join((*p.stages, p.lost_stage))}")
    if status is not None:
        if status not in ("open", "won", "lost"):
            raise ValueError(f"status must be open, won or lost, not {status!r}")
        c = c.filter(c.status == status)
    return _deal_frame(con, cfg, c, limit)


def _deal_frame(con: Backend, cfg: Config, c: ir.Table, limit: int) -> pd.DataFrame:
    acc = con.table("accounts").select(_a_id="account_id", account_name="account_name")
    reps = con.table("reps").select(_r_id="rep_id", owner_name="rep_name")
    j = c.left_join(acc, c.account_id == acc._a_id)
    j = j.left_join(reps, j.owner_rep_id == reps._r_id)
    j = j.mutate(reach_stage=_stage_name(cfg, j.reach))
    j = j.order_by([ibis.desc(j.created_at), j.deal_id]).limit(limit)
    return float_columns(j.select("deal_id", "account_id", "account_name", "owner_rep_id", "owner_name", "amount",
                                  "created_at", "closed_at", "status", "stage", "reach_stage").execute(), "amount")


def time_in_stage(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Per stage, over the visits of cohort deals that left it (see the module docstring):
    stage, phase, visits, deals, median_days, mean_days, p25_days, p75_days (exact quantiles).
    One row per pipeline stage; a stage nobody left has 0 visits and NULL durations."""
    # the plain cohort rows select the history (the reach of `cohort` is not needed here)
    v = stage_visits(con, cfg, filters, period)
    v = v.filter(v.days.notnull(), v.pos.notnull())
    df = v.group_by("stage").aggregate(
        visits=v.count(), deals=v.deal_id.nunique(), median_days=v.days.median(), _micros=exact_sum(v.micros),
        p25_days=v.days.quantile(0.25), p75_days=v.days.quantile(0.75),
    ).execute()
    # the mean: the exact sum of microseconds divided once (a float sum would depend on the row order)
    df["mean_days"] = [_mean(t, n, MICROS_PER_DAY) for t, n in zip(df["_micros"], df["visits"], strict=True)]
    df = df.drop(columns="_micros")
    grid = pd.DataFrame({"stage": list(cfg.pipeline.stages)})
    grid["phase"] = [cfg.pipeline.phase_of(s) for s in cfg.pipeline.stages]
    out = grid.merge(df, on="stage", how="left")
    for col in ("visits", "deals"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("median_days", "mean_days", "p25_days", "p75_days"):
        out[col] = out[col].astype("float64")
    return out
