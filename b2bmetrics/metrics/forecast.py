"""The sales forecast (销售预测, CONTRACT §5 "(v2) Forecast"): what is won, what is expected to close
in the period by forecast category, and the pipeline weighted by win probability.

Deals as they are now, after the funnel's region, segment and rep filters
(`filtering.deals_in_scope`: rep = the deal's owner), without the cohort: every deal in scope.
Deals expected in the period: open deals with `expected_close_at` on a day of it.

* `closed_won` = Σ amount of won deals with `closed_at` in the period (= `bookings.won_amount`);
* `commit`, `best_case`, `pipeline` = Σ amount of expected deals whose `forecast_category` is that
  (an empty category counts as `pipeline`); `omitted` deals count in none;
* `weighted` = Σ amount × p over expected deals that are not omitted, p = the deal's
  `probability`, else `[forecast] probabilities` for its current stage, else that stage's learned
  probability: among every deal in scope (any date) that is won or lost and whose reach ≥ the
  stage, the share won (reach as in the funnel: `funnel.DEAL_FACTS`). A deal without a p adds
  nothing.

Choices where the contract is silent:

* status is `_rules.deal_status` (as the funnel and bookings); "in the period" is a timestamp on a
  day from `from` to `to`, both inclusive (`Period.contains`). An expected deal past its close date
  but still open counts when that date is in the period.
* Null amounts are left out of every sum (0 when nothing has an amount); such a deal adds nothing
  to `weighted` either.
* `stage_probabilities` lists every stage of `[pipeline] stages`, the won stage too (an open deal
  can only sit there when its `status` says open; its learned p is then the share of decided
  deals reaching the won stage that were won, usually 1.0), with the p a deal there takes without
  a probability of its own: the configured one, else the learned one, else null. The lost stage
  is no pipeline stage and is not listed; an open deal in a stage outside `[pipeline] stages` (the
  lost stage, say) has no stage p, and only its own probability weighs it.
* `weighted` is a float computed exactly: amounts are summed per (stage, probability) in the
  database, each sum times the exact binary value of its p in decimals, and the total rounded
  once to a float, so it never depends on the order of the rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics.cells import Decimal, money
from b2bmetrics.metrics.cells import count as _count
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import deals_in_scope
from b2bmetrics.metrics.funnel import DEAL_FACTS, deal_facts_live
from b2bmetrics.store.materialize import lookup

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

SUMMARY_KEYS: tuple[str, ...] = ("closed_won", "commit", "best_case", "pipeline", "weighted", "stage_probabilities")
CATEGORIES: tuple[str, ...] = ("commit", "best_case", "pipeline")  # empty counts as pipeline; omitted in none
OMITTED = "omitted"
# Σ amount × p exactly: an amount (18 digits) times a float's exact decimal value (≤ 1074 places, < 800
# significant digits), summed over at most millions of groups
_EXACT = decimal.Context(prec=2000, Emin=-9999, traps=[decimal.Inexact, decimal.InvalidOperation,
                                                      decimal.Overflow])


def deals_now(con: Backend, cfg: Config, filters: Filters) -> ir.Table:
    """Every deal in the funnel's scope (no cohort) with `status` and `reach`: the store's derived
    `deal_facts` when it has them, else derived live. Nothing is executed."""
    facts = lookup(con, DEAL_FACTS, cfg)
    return deals_in_scope(con, cfg, filters, deal_facts_live(con, cfg) if facts is None else facts)


def expected_deals(con: Backend, cfg: Config, filters: Filters, period: Period,
                   deals: ir.Table | None = None) -> ir.Table:
    """The deals in scope expected to close in the period: open, `expected_close_at` on a day of it
    (of `deals`, a `deals_now` table, when given)."""
    d = deals_now(con, cfg, filters) if deals is None else deals
    if period.empty_data:
        return d.filter(ibis.literal(False))
    return d.filter(d.status == "open", d.expected_close_at.notnull(), period.contains(d.expected_close_at))


def learned_probabilities(rec: dict[str, Any], n_stages: int) -> list[float | None]:
    """Per stage position, won / decided among deals whose reach ≥ it (None when none is decided)."""
    return [_ratio(_count(rec[f"won_{i}"]), _count(rec[f"decided_{i}"])) if _count(rec[f"decided_{i}"]) else None
            for i in range(n_stages)]


def stage_probabilities(cfg: Config, learned: list[float | None]) -> dict[str, float | None]:
    """The p of each pipeline stage for a deal without its own: configured, else learned."""
    configured = cfg.forecast.probabilities
    return {s: configured.get(s, learned[i]) for i, s in enumerate(cfg.pipeline.stages)}


def _exact(p: float) -> decimal.Decimal:
    return decimal.Decimal(p)  # a float's exact binary value


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "forecast", in two queries: one row (closed won and the learned probabilities'
    counts), and the expected deals' amounts per category, stage and probability."""
    stages = cfg.pipeline.stages
    d = deals_now(con, cfg, filters)
    decided = d.status.isin(["won", "lost"])
    won = d.status == "won"
    in_period = (d.closed_at.notnull() & period.contains(d.closed_at)) if not period.empty_data \
        else ibis.literal(False)
    measures: dict[str, ir.Value] = {"closed_won": d.amount.sum(where=won & in_period)}
    for i in range(len(stages)):
        measures[f"decided_{i}"] = d.count(where=decided & (d.reach >= i))
        measures[f"won_{i}"] = d.count(where=won & (d.reach >= i))
    rec = d.aggregate(**measures).execute().iloc[0].to_dict()
    per_stage = stage_probabilities(cfg, learned_probabilities(rec, len(stages)))

    e = expected_deals(con, cfg, filters, period, d)
    e = e.filter(e.amount.notnull())
    groups = e.group_by(category=e.forecast_category, stage=e.stage, probability=e.probability).aggregate(
        amount=e.amount.sum()).execute()
    totals = dict.fromkeys(CATEGORIES, Decimal(0))
    weighted = Decimal(0)
    for g in groups.to_dict("records"):
        category = g["category"] if isinstance(g["category"], str) else "pipeline"
        if category == OMITTED or category not in totals:
            continue
        amount = money(g["amount"]) or Decimal(0)
        totals[category] = _EXACT.add(totals[category], amount)
        own = g["probability"]
        p = float(own) if own is not None and own == own else per_stage.get(g["stage"])
        if p is not None:
            weighted = _EXACT.add(weighted, _EXACT.multiply(amount, _exact(p)))
    closed_won = money(rec["closed_won"])
    return {
        "closed_won": Decimal(0) if closed_won is None else closed_won,
        **totals,
        "weighted": float(weighted),
        "stage_probabilities": [{"stage": s, "probability": per_stage[s]} for s in stages],
    }


# ---- the page's drill-downs: the evidence behind each stage's p, the deals by category, the goal line

STAGE_COLUMNS: tuple[str, ...] = ("stage", "decided", "won", "learned", "learned_lo", "learned_hi", "configured",
                                  "probability", "small_sample")
OPEN_COLUMNS: tuple[str, ...] = ("forecast_category", "deal_id", "account_id", "owner_rep_id", "stage", "amount",
                                 "probability", "stage_probability", "expected_close_at")


def stage_evidence(con: Backend, cfg: Config, filters: Filters) -> list[dict[str, Any]]:
    """Per pipeline stage, the sample behind its learned probability (one query): `decided` (won or
    lost deals in scope whose reach ≥ the stage), `won`, `learned` (won / decided, None when none),
    its 95 % Wilson interval `learned_lo`/`learned_hi`, `configured` (`[forecast] probabilities`,
    else None), `probability` (the p `summary` uses: configured, else learned) and `small_sample`
    (0 < decided < 30, as the satisfaction groups are flagged)."""
    from b2bmetrics.metrics.satisfaction import SMALL_SAMPLE, wilson_interval

    stages = cfg.pipeline.stages
    d = deals_now(con, cfg, filters)
    decided, won = d.status.isin(["won", "lost"]), d.status == "won"
    measures: dict[str, ir.Value] = {}
    for i in range(len(stages)):
        measures[f"decided_{i}"] = d.count(where=decided & (d.reach >= i))
        measures[f"won_{i}"] = d.count(where=won & (d.reach >= i))
    rec = d.aggregate(**measures).execute().iloc[0].to_dict()
    learned = learned_probabilities(rec, len(stages))
    used = stage_probabilities(cfg, learned)
    out = []
    for i, stage in enumerate(stages):
        n, k = _count(rec[f"decided_{i}"]), _count(rec[f"won_{i}"])
        lo, hi = wilson_interval(k, n)
        out.append({"stage": stage, "decided": n, "won": k, "learned": learned[i], "learned_lo": lo,
                    "learned_hi": hi, "configured": cfg.forecast.probabilities.get(stage),
                    "probability": used[stage], "small_sample": 0 < n < SMALL_SAMPLE})
    return out


def open_deals(con: Backend, cfg: Config, filters: Filters, period: Period,
               stage_p: dict[str, float | None] | None = None) -> ir.Table:
    """The deals expected in the period (`expected_deals`), one row each with OPEN_COLUMNS:
    `forecast_category` with an empty one read as `pipeline` (as `summary` counts it), and
    `stage_probability`, the p of its stage from `stage_p` (`stage_probabilities`; null when not
    given). Ordered commit, best case, pipeline, omitted, then largest amount, then deal_id. Σ amount
    per category (null amounts left out) = that figure of `summary`. Nothing is executed."""
    e = expected_deals(con, cfg, filters, period)
    category = ibis.coalesce(e.forecast_category, "pipeline")
    order = category.cases(*[(c, i) for i, c in enumerate((*CATEGORIES, OMITTED))], else_=len(CATEGORIES) + 1)
    known = {s: p for s, p in (stage_p or {}).items() if p is not None}
    stage_p_col = (e.stage.cases(*known.items(), else_=ibis.null("float64")) if known
                   else ibis.null("float64"))
    rows = e.select(forecast_category=category, deal_id=e.deal_id, account_id=e.account_id,
                    owner_rep_id=e.owner_rep_id, stage=e.stage, amount=e.amount, probability=e.probability,
                    stage_probability=stage_p_col.cast("float64"), expected_close_at=e.expected_close_at,
                    _order=order)
    return rows.order_by(["_order", ibis.desc("amount"), "deal_id"]).drop("_order")


def credit_by_day(con: Backend, cfg: Config, level: str, key: str | None, basis: str, start: dt.date,
                  end: dt.date) -> list[tuple[dt.date, decimal.Decimal]]:
    """What one target counts each day from `start` to `end` (both inclusive), by the targets rule
    (CONTRACT §5 "(v2) Targets": won deals by `closed_at` on the booked basis, payments by `paid_at`
    on the collected basis, credited through `deal_splits` to the target's people; the company
    counts everything): the days with credit, in order, each with its exact credit. Summed from the
    target's `period_start` to min(`to`, its last day), it is that target row's `actual`. One query."""
    from b2bmetrics.metrics import targets as _targets
    from b2bmetrics.metrics._rules import is_won

    table = _targets._tables(con)
    lo = ibis.timestamp(dt.datetime.combine(start, dt.time()))
    hi = ibis.timestamp(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    d = table("deals")
    if basis == "booked":
        w = d.filter(is_won(cfg.pipeline, d), d.amount.notnull(), d.closed_at.notnull(), d.closed_at >= lo,
                     d.closed_at < hi)
        src = w.select(basis=ibis.literal("booked"), deal_id=w.deal_id, owner_rep_id=w.owner_rep_id,
                       month=w.closed_at.date(), amount=w.amount)
    else:
        p = table("payments")
        p = p.filter(p.paid_at.notnull(), p.amount_paid.notnull(), p.paid_at >= lo, p.paid_at < hi)
        owners = d.select(_d_id="deal_id", _d_owner="owner_rep_id")
        j = p.left_join(owners, p.deal_id == owners._d_id)
        src = j.select(basis=ibis.literal("collected"), deal_id=j.deal_id, owner_rep_id=j._d_owner,
                       month=j.paid_at.date(), amount=j.amount_paid)
    if level == "company":
        per_day = src.group_by(day=src.month).aggregate(whole=src.amount.cast("decimal(38, 4)").sum(),
                                                        parts=ibis.null("decimal(38, 4)"))
    else:
        lines = _targets._credit_lines(table, src)  # "month" carries the day through
        if level == "rep":
            people = lines.person == key
        else:
            reps = table("reps")
            people = lines.person.isin(reps.filter(reps[level] == key).rep_id)
        lines = lines.filter(people)
        per_day = lines.group_by(day=lines.month).aggregate(whole=lines.whole.sum(), parts=lines.parts.sum())
    frame = per_day.select(day=per_day.day, whole=per_day.whole.cast("string"),
                           parts=per_day.parts.cast("string")).order_by("day").execute()
    scale = decimal.Decimal(10) ** -_targets._WEIGHT_DIGITS
    out = []
    for day, whole, parts in zip(frame["day"], frame["whole"], frame["parts"], strict=True):
        credit = decimal.Decimal(whole) if isinstance(whole, str) else decimal.Decimal(0)
        if isinstance(parts, str):
            credit = _EXACT.add(credit, _EXACT.multiply(decimal.Decimal(parts), scale))
        out.append((day.date() if hasattr(day, "date") else day, credit))
    return out
