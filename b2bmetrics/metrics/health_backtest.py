"""Is the health score right? The accounts-at-risk score checked against what really happened.

For every month-end M of the data (the last day of each month from the data's first date to its
as-of day T, `filters.data_dates`), every account active on M (`_rules` active rule) is scored as
of M with only what was known by the end of M: `churn`'s health score and its four penalties, and
the at-risk list's late 回款 and slow first response flags (`accounts.with_factors`). Then:

* churn within the horizon: the account stops being active (the first day after M on which none
  of its contracts is active, by the same rule; all contracts, including those signed after M,
  decide it) within `HORIZON_DAYS` = 90 days, i.e. on a day of (M, M + 90]. Only month-ends with
  the whole horizon observed (M + 90 ≤ T) count: a later M could not yet show its churn. A stop
  after M + 90 is not churn within the horizon; a contract end after T is a plan, not yet a churn.
* score bands (`BANDS`, of the score as the list shows it, one decimal): per band the pairs
  (account, M) scored, those churned within the horizon and `churn_rate` = churned / scored.
* Kaplan–Meier per band: duration = days from M to the stop day when it falls on or before
  min(T, M + `KM_DAYS`), an event; else censored at min(T, M + KM_DAYS) − M days. Every pair counts
  (censoring covers the month-ends near T). The product-limit estimate S(t) = Π (1 − d_i / n_i)
  over event times t_i ≤ t, n_i the pairs still followed at t_i (duration ≥ t_i). An account
  contributes one observation per month-end: the curve describes scored account-months.
* AUC: the probability that a churned pair scored lower than a pair that did not churn, ties
  (equal shown scores) counted half: the Mann–Whitney U / (churned × not churned), computed
  exactly from counts per score value (`auc_from_counts`, a Fraction turned into a float once).
* factors: per factor, the churn rate of the pairs it penalised (penalty > 0, or the flag set)
  and of the others, and the factor's own AUC (a higher penalty ranking as riskier).
* fit: a logistic regression of churn within the horizon on the six factors (the four penalties
  as fractions of their maxima, rounded to 0.1, and the two flags), weighted by the count of each
  distinct row, fitted by `FIT_ITERATIONS` Newton steps from all-zero coefficients with a ridge of
  `FIT_RIDGE` (no randomness: the same counts give the same weights). Fitted on the first two
  thirds of the observed month-ends, AUC reported on those (in sample) and on the last third (out
  of time), beside the current score's AUC on the same month-ends; `points` turns the positive
  coefficients into 100 points of penalty as the current weights are (a suggestion, not applied).

Every scan, join and count runs in the backend, in one expression for all month-ends (`_Shifted`:
each month-end's rows with their dates moved to one reference day, which a score cannot tell from
the real rows on their own day), kept as a temporary table for three small aggregates; only counts
per score value, per (band, duration) and per distinct factor row come back. Deterministic:
integer counts sorted by their keys, exact fractions for the AUC, a fixed-iteration fit.

It reads `churn._health_table` (the score's one home) and `accounts.with_factors` (the new
factors, on `collection.with_overdue` and `satisfaction.first_response_hours`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, data_dates
from b2bmetrics.metrics import churn
from b2bmetrics.metrics._rules import active_on, contract_active_on, contract_has_days
from b2bmetrics.metrics.accounts import with_factors
from b2bmetrics.metrics.filtering import accounts_in_scope, scope_by_account

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

HORIZON_DAYS = 90
KM_DAYS = 365
# score bands: key, lowest score, highest score (exclusive; None = through 100)
BANDS: tuple[tuple[str, float, float | None], ...] = (("0_40", 0.0, 40.0), ("40_60", 40.0, 60.0),
                                                      ("60_80", 60.0, 80.0), ("80_100", 80.0, None))
# the six factors: name, the column of a pair (a fraction 0–1 or a flag 0/1)
FACTORS: tuple[str, ...] = ("activity", "satisfaction", "tickets", "mrr", "late_payment", "slow_response")
FIT_ITERATIONS = 25
FIT_RIDGE = 1e-3
FIT_SHARE = Fraction(2, 3)  # the first two thirds of the observed month-ends are the fit's

BAND_COLUMNS = ["band", "score_from", "score_to", "scored", "churned", "churn_rate"]
KM_COLUMNS = ["band", "days", "survival", "at_risk", "events", "censored"]
FACTOR_COLUMNS = ["factor", "auc", "flagged", "flagged_churned", "flagged_churn_rate", "other", "other_churned",
                  "other_churn_rate", "current_points", "fitted_coefficient", "fitted_points"]


@dataclass(frozen=True)
class Backtest:
    """What `backtest` found (see the module docstring); empty frames and None AUCs without data."""

    as_of: dt.date | None
    month_ends: tuple[dt.date, ...]
    observed_month_ends: tuple[dt.date, ...]
    scored: int  # pairs (account, month-end) with the whole horizon observed
    churned: int
    auc: float | None
    bands: pd.DataFrame
    km: pd.DataFrame
    factors: pd.DataFrame
    fit: dict[str, Any] = field(default_factory=dict)


# ---- month-ends and the day an account stops ------------------------------------------------

def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last day of every month from `first`'s month whose last day is on or before `last`."""
    out: list[dt.date] = []
    m = first.replace(day=1)
    while True:
        end = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        if end > last:
            return out
        out.append(end)
        m = end + dt.timedelta(days=1)


def stop_days(contracts: ir.Table) -> ir.Table:
    """(account_id, stop_day): the days on which an account stops being active, i.e. a contract of
    it ends on that day and none of its contracts is active then (`_rules.active_on`). Activity can
    only end on an end date, so the first stop day after M is the first inactive day after M."""
    c = contracts.filter(contract_has_days(contracts.start_date, contracts.end_date))
    ends = c.filter(c.end_date.notnull()).select("account_id", stop_day=c.end_date).distinct()
    other = c.select(_o_acc="account_id", _o_start="start_date", _o_end="end_date")
    covered = ends.join(other, [ends.account_id == other._o_acc,
                                active_on(other._o_start, other._o_end, ends.stop_day)])
    covered = covered.select("account_id", "stop_day").distinct()
    return ends.anti_join(covered, ["account_id", "stop_day"])


def _band_of(score: ir.FloatingValue) -> ir.StringValue:
    return ibis.cases(*[(score < hi, key) for key, _, hi in BANDS if hi is not None], else_=BANDS[-1][0])


# the date columns of the tables a score reads, shifted by `_Shifted`
SHIFTED: dict[str, tuple[str, ...]] = {
    "contracts": ("start_date", "end_date"), "activities": ("occurred_at",), "surveys": ("submitted_at",),
    "tickets": ("opened_at", "first_response_at", "resolved_at"), "payments": ("due_date", "paid_at"),
}
SEPARATOR = "|"  # a scored pair's id: account_id|month-end (ISO)


class _Shifted:
    """The data as of every month-end at once, seen as of one reference day R (the last month-end).

    A score as of a day depends only on how far each date lies from that day (days idle, tickets
    open at the end of the day, MRR then and 90 days before, the latest answer, installments due
    before it, tickets opened in the 90 days before it): so month-end M's rows, with every date
    moved R − M days later (whole days: durations are unchanged to the microsecond) and each
    account renamed `account_id|M`, score as of R exactly as the real rows score as of M. Each
    month-end's copy holds only the accounts active on it (`pairs`). One expression, compiled
    once, scores every month-end (`tests/test_health_backtest.py` checks it against scoring each
    month-end on its own)."""

    def __init__(self, con: Backend, pairs: ir.Table, days: tuple[dt.date, ...], ref: dt.date) -> None:
        self._con, self._pairs, self._days, self._ref = con, pairs, days, ref

    @property
    def name(self) -> str:
        return self._con.name

    def list_tables(self, *args: Any, **kwargs: Any) -> list[str]:
        return self._con.list_tables(*args, **kwargs)

    def table(self, name: str, /, *args: Any, **kwargs: Any) -> ir.Table:
        t = self._con.table(name, *args, **kwargs)
        if name not in SHIFTED:
            return t
        parts = []
        for day in self._days:
            shift = ibis.interval(days=(self._ref - day).days)
            on_day = self._pairs.filter(self._pairs.month_end == ibis.date(day))
            part = t.filter(t.account_id.isin(on_day.account_id))
            kind = {c: part[c].type() for c in SHIFTED[name]}
            part = part.mutate(account_id=part.account_id.concat(SEPARATOR + day.isoformat()),
                               **{c: (part[c] + shift).cast(kind[c]) for c in SHIFTED[name]})
            parts.append(part)
        return ibis.union(*parts, distinct=False)


def _pairs(contracts: ir.Table, p: Plan) -> ir.Table:
    """(account_id, month_end, pair_id, observed, train): the accounts active on each month-end."""
    parts = []
    for day in p.month_ends:
        active = contracts.filter(contract_active_on(contracts, ibis.date(day))).select("account_id").distinct()
        parts.append(active.select(
            "account_id", month_end=ibis.date(day), pair_id=active.account_id.concat(SEPARATOR + day.isoformat()),
            observed=ibis.literal(day in p.observed), train=ibis.literal(day in p.train)))
    return ibis.union(*parts, distinct=False)


def _scored(con: Backend, cfg: Config, pairs: ir.Table, stops: ir.Table, p: Plan) -> ir.Table:
    """Every pair scored as of its month-end, with its outcome (one row per pair)."""
    assert p.as_of is not None
    ref = p.month_ends[-1]
    shifted = _Shifted(con, pairs, p.month_ends, ref)
    ids = pairs.select(account_id=pairs.pair_id)
    h = churn._health_table(shifted, ids, ref)
    h = with_factors(shifted, cfg, h.select("account_id", "health_score", "penalty_activity", "penalty_satisfaction",
                                            "penalty_tickets", "penalty_mrr"), ref, accounts=ids)
    h = h.rename(pair_id="account_id")
    after = pairs.join(stops, [pairs.account_id == stops.account_id, stops.stop_day > pairs.month_end])
    first_stop = after.group_by(_st_pair=after.pair_id).aggregate(stop_day=after.stop_day.min())
    j = pairs.join(h, "pair_id")
    j = j.left_join(first_stop, j.pair_id == first_stop._st_pair)
    horizon = ibis.least(j.month_end + ibis.interval(days=HORIZON_DAYS), ibis.date(p.as_of)).cast("date")
    km_end = ibis.least(j.month_end + ibis.interval(days=KM_DAYS), ibis.date(p.as_of)).cast("date")
    event = j.stop_day.notnull() & (j.stop_day <= km_end)
    duration = ibis.ifelse(event, j.stop_day, km_end).delta(j.month_end, unit="day")
    score = j.health_score.round(1)
    return j.select(
        account_id=j.account_id, month_end=j.month_end, score=score, band=_band_of(score),
        observed=j.observed, train=j.train,
        churned=j.stop_day.notnull() & (j.stop_day <= horizon),
        duration=duration.cast("int64"), event=event,
        activity=(j.penalty_activity / churn.W_ACTIVITY).round(1),
        satisfaction=(j.penalty_satisfaction / churn.W_SATISFACTION).round(1),
        tickets=(j.penalty_tickets / churn.W_TICKETS).round(1),
        mrr=(j.penalty_mrr / churn.W_MRR).round(1),
        late_payment=j.late_payment.cast("int64"), slow_response=j.slow_response.cast("int64"),
    )


@dataclass(frozen=True)
class Plan:
    """What `plan` chose: the data's as-of day, every month-end scored, those with the whole
    horizon observed, and the first `FIT_SHARE` of those (the fit's)."""

    as_of: dt.date | None
    month_ends: tuple[dt.date, ...]
    observed: tuple[dt.date, ...]
    train: tuple[dt.date, ...]


def plan(con: Backend) -> Plan:
    """The month-ends of the data (see the module docstring)."""
    lo, _hi, as_of = data_dates(con)
    if lo is None:
        return Plan(None, (), (), ())
    ends = month_ends(lo, as_of)
    observed = [d for d in ends if d + dt.timedelta(days=HORIZON_DAYS) <= as_of]
    n_train = int(len(observed) * FIT_SHARE) if len(observed) >= 3 else len(observed)
    return Plan(as_of, tuple(ends), tuple(observed), tuple(observed[:n_train]))


# the counts each month-end contributes: name, group keys, only pairs with the horizon observed
AGGREGATES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("by_score", ("score", "observed", "train", "churned"), False),
    ("by_duration", ("band", "duration", "event"), False),
    ("by_factor", ("train", *FACTORS, "churned"), True),
)


def counts(con: Backend, cfg: Config, filters: Filters | None = None) -> tuple[Plan, dict[str, pd.DataFrame]]:
    """The plan and, per `AGGREGATES` entry, the pair counts (integer counts, sorted by their keys).
    The pairs and their scores are kept as temporary tables for the three small aggregates."""
    p = plan(con)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name, _, _ in AGGREGATES}
    if p.as_of is not None and p.month_ends:
        scope = accounts_in_scope(con, cfg, filters, with_rep=True) if filters is not None else None
        contracts = scope_by_account(con.table("contracts"), scope)
        with stop_days(contracts).cache() as stops, _pairs(contracts, p).cache() as pairs:
            with _scored(con, cfg, pairs, stops, p).cache() as t:
                for name, keys, observed_only in AGGREGATES:
                    src = t.filter(t.observed) if observed_only else t
                    parts[name].append(src.group_by(list(keys)).aggregate(n=src.count()).execute())
    out = {}
    for name, keys, _ in AGGREGATES:
        found = [f for f in parts[name] if len(f)]
        frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=[*keys, "n"])
        frame = frame.astype({"n": "int64"})
        for col in ("observed", "train", "churned", "event"):
            if col in frame:
                frame[col] = frame[col].astype(bool)
        frame = frame.groupby(list(keys), as_index=False, sort=True)["n"].sum()
        out[name] = frame.reset_index(drop=True)
    return p, out


def pair_frame(con: Backend, cfg: Config, filters: Filters | None = None) -> pd.DataFrame:
    """Every scored pair as a frame (account_id, month_end, score, band, observed, train, churned,
    duration, event and the six factors), sorted by month-end and account: for a look at small data
    and the tests; the page reads only `backtest`'s counts."""
    p = plan(con)
    if p.as_of is None or not p.month_ends:
        return pd.DataFrame()
    scope = accounts_in_scope(con, cfg, filters, with_rep=True) if filters is not None else None
    contracts = scope_by_account(con.table("contracts"), scope)
    pairs = _pairs(contracts, p)
    t = _scored(con, cfg, pairs, stop_days(contracts), p)
    return t.order_by(["month_end", "account_id"]).execute()


# ---- statistics on the counts ----------------------------------------------------------------

def auc_from_counts(scores: Any, churned: Any, n: Any, *, higher_is_riskier: bool = False) -> float | None:
    """Exact Mann–Whitney AUC from counts: P(a churned pair is riskier than one that did not churn)
    + ½ P(tie), riskier = a lower score (or a higher one with `higher_is_riskier`). None when either
    group is empty. The sum runs over integer counts (a Fraction), so no float depends on the order."""
    frame = pd.DataFrame({"s": np.asarray(scores, dtype=float), "c": np.asarray(churned, dtype=bool),
                          "n": np.asarray(n, dtype=np.int64)})
    if higher_is_riskier:
        frame["s"] = -frame["s"]
    per = frame.groupby(["s", "c"])["n"].sum().unstack(fill_value=0).sort_index()
    pos = [int(v) for v in (per[True] if True in per else pd.Series(0, index=per.index))]
    neg = [int(v) for v in (per[False] if False in per else pd.Series(0, index=per.index))]
    n_pos, n_neg = sum(pos), sum(neg)
    if n_pos == 0 or n_neg == 0:
        return None
    u2, neg_above = 0, n_neg  # twice U; stayers scoring higher than the current score
    for p, q in zip(pos, neg, strict=True):  # ascending score: the riskiest first
        neg_above -= q
        u2 += p * (2 * neg_above + q)
    return float(Fraction(u2, 2 * n_pos * n_neg))


def kaplan_meier(durations: Any, events: Any, n: Any) -> pd.DataFrame:
    """Product-limit survival from counts per (duration, event): columns days, survival, at_risk,
    events, censored; the first row is day 0 at survival 1, then one row per distinct duration."""
    frame = pd.DataFrame({"d": np.asarray(durations, dtype=np.int64), "e": np.asarray(events, dtype=bool),
                          "n": np.asarray(n, dtype=np.int64)})
    total = int(frame["n"].sum())
    rows = [{"days": 0, "survival": 1.0, "at_risk": total, "events": 0, "censored": 0}]
    surv = Fraction(1)
    left = total
    for d, part in frame.groupby("d", sort=True):
        ev = int(part.loc[part["e"], "n"].sum())
        cen = int(part.loc[~part["e"], "n"].sum())
        if left > 0 and ev:
            surv *= Fraction(left - ev, left)
        if int(d) == 0:
            rows[0].update(events=ev, censored=cen)
        else:
            rows.append({"days": int(d), "survival": float(surv), "at_risk": left, "events": ev, "censored": cen})
        left -= ev + cen
    return pd.DataFrame(rows, columns=["days", "survival", "at_risk", "events", "censored"])


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, iterations: int = FIT_ITERATIONS,
                 ridge: float = FIT_RIDGE) -> np.ndarray:
    """Weighted logistic regression (intercept first) by `iterations` Newton steps from zero with
    an L2 `ridge` on the slopes: the same rows in the same order give the same coefficients."""
    xs = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(xs.shape[1])
    penalty = np.full(xs.shape[1], ridge)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(xs @ beta)))
        grad = xs.T @ (w * (y - p)) - penalty * beta
        hess = (xs * (w * p * (1 - p))[:, None]).T @ xs + np.diag(penalty)
        beta = beta + np.linalg.solve(hess, grad)
    return beta


# ---- the backtest ------------------------------------------------------------------------------

def _band_frame(by_score: pd.DataFrame) -> pd.DataFrame:
    obs = by_score[by_score["observed"]]
    rows = []
    for key, lo, hi in BANDS:
        inside = (obs["score"] >= lo) & ((obs["score"] < hi) if hi is not None else True)
        part = obs[inside]
        scored, churned_n = int(part["n"].sum()), int(part.loc[part["churned"], "n"].sum())
        rows.append({"band": key, "score_from": lo, "score_to": 100.0 if hi is None else hi, "scored": scored,
                     "churned": churned_n, "churn_rate": churned_n / scored if scored else None})
    return pd.DataFrame(rows, columns=BAND_COLUMNS)


def _km_frame(by_duration: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for key, _, _ in BANDS:
        part = by_duration[by_duration["band"] == key]
        if len(part):
            parts.append(kaplan_meier(part["duration"], part["event"], part["n"]).assign(band=key))
    return pd.concat(parts, ignore_index=True)[KM_COLUMNS] if parts else pd.DataFrame(columns=KM_COLUMNS)


def _current_points() -> dict[str, float]:
    return {"activity": churn.W_ACTIVITY, "satisfaction": churn.W_SATISFACTION, "tickets": churn.W_TICKETS,
            "mrr": churn.W_MRR, "late_payment": 0.0, "slow_response": 0.0}


def _fit(by_factor: pd.DataFrame, by_score: pd.DataFrame) -> dict[str, Any]:
    train = by_factor[by_factor["train"]]
    test = by_factor[~by_factor["train"]]
    out: dict[str, Any] = {"iterations": FIT_ITERATIONS, "ridge": FIT_RIDGE, "fit_pairs": int(train["n"].sum()),
                           "test_pairs": int(test["n"].sum())}
    s_train, s_test = by_score[by_score["observed"] & by_score["train"]], by_score[by_score["observed"]
                                                                                   & ~by_score["train"]]
    out["auc_before"] = auc_from_counts(s_train["score"], s_train["churned"], s_train["n"])
    out["auc_before_test"] = auc_from_counts(s_test["score"], s_test["churned"], s_test["n"])
    if train.empty or train["churned"].nunique() < 2:
        out.update(auc_after=None, auc_after_test=None, coefficients=None, points=None)
        return out
    cols = list(FACTORS)
    beta = fit_logistic(train[cols].to_numpy(float), train["churned"].to_numpy(float), train["n"].to_numpy(float))
    risk_train = train[cols].to_numpy(float) @ beta[1:]
    out["auc_after"] = auc_from_counts(risk_train, train["churned"], train["n"], higher_is_riskier=True)
    risk_test = test[cols].to_numpy(float) @ beta[1:]
    out["auc_after_test"] = (auc_from_counts(risk_test, test["churned"], test["n"], higher_is_riskier=True)
                             if len(test) else None)
    positive = np.clip(beta[1:], 0, None)
    points = 100 * positive / positive.sum() if positive.sum() > 0 else np.zeros_like(positive)
    out["intercept"] = float(beta[0])
    out["coefficients"] = {f: float(b) for f, b in zip(cols, beta[1:], strict=True)}
    out["points"] = {f: float(p) for f, p in zip(cols, points, strict=True)}
    return out


def _factor_frame(by_factor: pd.DataFrame, fit: dict[str, Any]) -> pd.DataFrame:
    rows = []
    current = _current_points()
    for f in FACTORS:
        flagged = by_factor[f] > 0
        fl, ot = by_factor[flagged], by_factor[~flagged]
        fl_n, ot_n = int(fl["n"].sum()), int(ot["n"].sum())
        fl_c, ot_c = int(fl.loc[fl["churned"], "n"].sum()), int(ot.loc[ot["churned"], "n"].sum())
        rows.append({
            "factor": f,
            "auc": auc_from_counts(by_factor[f], by_factor["churned"], by_factor["n"], higher_is_riskier=True),
            "flagged": fl_n, "flagged_churned": fl_c, "flagged_churn_rate": fl_c / fl_n if fl_n else None,
            "other": ot_n, "other_churned": ot_c, "other_churn_rate": ot_c / ot_n if ot_n else None,
            "current_points": current[f],
            "fitted_coefficient": (fit.get("coefficients") or {}).get(f),
            "fitted_points": (fit.get("points") or {}).get(f),
        })
    return pd.DataFrame(rows, columns=FACTOR_COLUMNS)


def backtest(con: Backend, cfg: Config, filters: Filters | None = None) -> Backtest:
    """Score every account active on every month-end as of that day and compare with who churned
    within the next `HORIZON_DAYS` days (see the module docstring). `filters` (region, segment,
    owner) choose the accounts; its dates play no part (every month-end of the data is scored)."""
    p, got = counts(con, cfg, filters)
    by_score, by_duration, by_factor = got["by_score"], got["by_duration"], got["by_factor"]
    obs_s = by_score[by_score["observed"].astype(bool)]
    fit = _fit(by_factor, by_score) if len(by_factor) else {}
    return Backtest(
        as_of=p.as_of, month_ends=p.month_ends, observed_month_ends=p.observed,
        scored=int(obs_s["n"].sum()), churned=int(obs_s.loc[obs_s["churned"].astype(bool), "n"].sum()),
        auc=auc_from_counts(obs_s["score"], obs_s["churned"], obs_s["n"]) if len(obs_s) else None,
        bands=_band_frame(by_score), km=_km_frame(by_duration), factors=_factor_frame(by_factor, fit), fit=fit,
    )
