"""What the pages show of the rows: one person's statement, deal by deal; the leaderboard, the
referral earnings by role and the what-if comparison, each derived from already computed rows
(`rows.attainment` or `rows.all_rows`), so a page that has the rows asks no further query.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters
from b2bmetrics.metrics._rules import period_of, period_start_of
from b2bmetrics.metrics.commission.facts import (
    _as_date,
    _clawed,
    _credit_lines,
    _facts,
    _referral_lines,
    _window,
    _won_deals,
)
from b2bmetrics.metrics.commission.rows import _rows, effective_rate, total_payout

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


LINE_ORDER = {"credit": 0, "referral": 1, "clawback": 2, "referral_clawback": 3}
STATEMENT_COLUMNS = ["line", "deal_id", "account_id", "account_name", "closed_at", "origin_period", "amount",
                     "share", "credited", "rate", "commission", "referral", "clawback"]


def statement(con: Backend, cfg: Config, rep_id: str, period_start: dt.date, plan: Plan | None = None) -> pd.DataFrame:
    """Deal by deal, what one person earns in one commission period; its columns sum to the row.

    `line` is "credit" (a deal credited to the person; `rate` is the period's effective rate and
    `commission` credited × rate, so with a cap the commission is allocated pro rata), "referral"
    (`rate` = referral_rate), "clawback" or "referral_clawback" (a deal of an earlier period,
    `origin_period`, reversed here at that period's rate). Σ credited = credited_revenue,
    Σ commission = commission, Σ referral = referral_commission, Σ clawback = clawback of the
    person's row. Two queries: the person's aggregates (for the rates) and the deal lines.
    """
    plan = plan or cfg.commission
    unit = plan.period
    start = period_start_of(period_start, unit)
    facts = _facts(con, cfg, plan, [start], Filters(), only=rep_id)
    key = (rep_id, start)

    lo, hi = _window([start], unit, plan.clawback_days)
    won = _won_deals(con, cfg, lo, hi)
    credit = _credit_lines(con, won)
    credit = credit.filter(credit.person == rep_id).mutate(origin=period_of(credit.closed_at, unit))
    refs = _referral_lines(won)
    refs = refs.filter(refs.person == rep_id).mutate(share=ibis.null().cast("float64"),
                                                     credited=ibis.null().cast("float64"))
    refs = refs.mutate(origin=period_of(refs.closed_at, unit))
    cols = ["line", "deal_id", "account_id", "closed_at", "origin", "amount", "share", "credited"]
    in_period = [credit.filter(credit.origin == start).mutate(line=ibis.literal("credit")).select(*cols),
                 refs.filter(refs.origin == start).mutate(line=ibis.literal("referral")).select(*cols)]
    if plan.clawback_days > 0:
        clawed = _clawed(con, won, plan.clawback_days)
        clawed = clawed.filter(period_of(clawed.clawback_date, unit) == start).select(_cl_deal="deal_id")
        for line, t in (("clawback", credit), ("referral_clawback", refs)):
            j = t.join(clawed, t.deal_id == clawed._cl_deal)
            in_period.append(j.mutate(line=ibis.literal(line)).select(*cols))
    lines = ibis.union(*in_period, distinct=False)
    acc = con.table("accounts").select(_acc_id="account_id", account_name="account_name").distinct()
    lines = lines.left_join(acc, lines.account_id == acc._acc_id).drop("_acc_id")
    df = lines.order_by(["closed_at", "deal_id"]).execute()
    # credits first, then referrals, then the reversals of earlier periods
    df = df.sort_values("line", key=lambda c: c.map(LINE_ORDER), kind="stable").reset_index(drop=True)

    rate = effective_rate(facts, plan, key)
    out = pd.DataFrame({
        "line": df["line"], "deal_id": df["deal_id"], "account_id": df["account_id"],
        "account_name": df["account_name"], "closed_at": df["closed_at"],
        "origin_period": [_as_date(v) for v in df["origin"]], "amount": df["amount"].astype("float64"),
        "share": df["share"].astype("float64"),
        # only credit lines carry credited revenue, so the column sums to the row's credited_revenue
        "credited": df["credited"].astype("float64").where(df["line"] == "credit"),
    })
    rates: list[float | None] = []
    commission: list[float] = []
    referral: list[float] = []
    clawback: list[float] = []
    for rec in out.to_dict("records"):
        line = rec["line"]
        if line == "credit":
            rates.append(rate)
            commission.append(rec["credited"] * (rate or 0.0))
            referral.append(0.0)
            clawback.append(0.0)
        elif line == "referral":
            rates.append(plan.referral_rate)
            commission.append(0.0)
            referral.append(plan.referral_rate * rec["amount"])
            clawback.append(0.0)
        elif line == "clawback":
            origin_rate = effective_rate(facts, plan, (rep_id, rec["origin_period"]))
            rates.append(origin_rate)
            commission.append(0.0)
            referral.append(0.0)
            clawback.append(rec["amount"] * rec["share"] * (origin_rate or 0.0))
        else:
            rates.append(plan.referral_rate)
            commission.append(0.0)
            referral.append(0.0)
            clawback.append(plan.referral_rate * rec["amount"])
    out["rate"] = pd.Series(rates, dtype="float64")
    row = next(iter(_rows(facts, plan)), None)
    # allocate rounding residue to the largest line, so the columns sum to the row exactly
    out["commission"] = _settle(commission, row.commission if row else 0.0)
    out["referral"] = _settle(referral, row.referral_commission if row else 0.0)
    out["clawback"] = _settle(clawback, row.clawback if row else 0.0)
    return out[STATEMENT_COLUMNS]


def _settle(values: list[float], total: float) -> list[float]:
    """`values` with the largest nudged so that math.fsum equals `total` (a float-rounding residue)."""
    if not values:
        return values
    out = list(values)
    i = max(range(len(out)), key=lambda k: abs(out[k]))
    out[i] += total - math.fsum(out)
    return out


# ---- views of computed rows ---------------------------------------------------------------------

def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """Per person over the shown periods of `attainment` rows: sums, attainment Σcredited/Σquota
    (None when Σquota is 0), ranked by payout (rank 1 = highest)."""
    money = ["credited_revenue", "quota", "commission", "referral_commission", "clawback", "payout"]
    per = rows.groupby("rep_id", as_index=False)[money].sum()
    per["attainment"] = [c / q if q > 0 else None for c, q in zip(per["credited_revenue"], per["quota"], strict=True)]
    people = rows.drop_duplicates("rep_id").set_index("rep_id")
    for col in ("rep_name", "region", "role"):
        per[col] = per["rep_id"].map(people[col]) if col in people else None
    per = per.sort_values(["payout", "rep_id"], ascending=[False, True]).reset_index(drop=True)
    per["rank"] = range(1, len(per) + 1)
    return per




def referral_earnings(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Referral income of `attainment` rows by the referrer's role (sales / employee / partner;
    NULL = not in reps): people, referred_deals, referred_amount, referral_commission,
    referral_clawback, net (`plan` is the plan the rows were computed with)."""
    cols = ["role", "people", "referred_deals", "referred_amount", "referral_commission", "referral_clawback", "net"]
    refs = rows[(rows["referred_deals"] > 0) | (rows["referred_amount"] != 0) | (rows["referral_clawed_amount"] != 0)]
    if refs.empty:
        return pd.DataFrame(columns=cols)
    per = refs.groupby("rep_id", sort=True).agg(
        role=("role", "first"), referred_deals=("referred_deals", "sum"), referred_amount=("referred_amount", "sum"),
        clawed=("referral_clawed_amount", "sum"))
    per["role"] = per["role"].astype(object).where(per["role"].notna(), None)
    per["people"] = ((per["referred_amount"] != 0) | (per["referred_deals"] != 0)).astype("int64")
    per["referral_commission"] = plan.referral_rate * per["referred_amount"]
    per["referral_clawback"] = plan.referral_rate * per["clawed"]
    out = per.groupby("role", dropna=False, sort=False).agg(
        people=("people", "sum"), referred_deals=("referred_deals", "sum"), referred_amount=("referred_amount", "sum"),
        referral_commission=("referral_commission", "sum"), referral_clawback=("referral_clawback", "sum"),
    ).reset_index()
    out["role"] = out["role"].astype(object).where(out["role"].notna(), None)
    out["net"] = out["referral_commission"] - out["referral_clawback"]
    out["people"] = out["people"].astype("int64")
    out["referred_deals"] = out["referred_deals"].astype("int64")
    return out.sort_values("referral_commission", ascending=False).reset_index(drop=True)[cols]




def what_if(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> pd.DataFrame:
    """Payout per person and period of the rows under the configured plan (`payout_a`) and under a
    second plan (`payout_b`), with `difference` = b − a; a last row (`rep_id` "TOTAL",
    `period_start` None, `is_total` True) holds the totals. A person-period missing under one plan
    pays 0 there (with different period units the rows of the two plans do not line up and both
    appear)."""
    a = dict(zip(zip(rows_a["rep_id"], rows_a["period_start"], strict=True), rows_a["payout"], strict=True))
    b = dict(zip(zip(rows_b["rep_id"], rows_b["period_start"], strict=True), rows_b["payout"], strict=True))
    keys = sorted(set(a) | set(b), key=lambda k: (k[1], k[0]))
    records: list[dict[str, Any]] = [
        {"rep_id": k[0], "period_start": k[1], "payout_a": a.get(k, 0.0), "payout_b": b.get(k, 0.0),
         "is_total": False} for k in keys]
    records.append({"rep_id": "TOTAL", "period_start": None, "payout_a": total_payout(a.values()),
                    "payout_b": total_payout(b.values()), "is_total": True})
    out = pd.DataFrame(records, columns=["rep_id", "period_start", "payout_a", "payout_b", "is_total"])
    out["difference"] = out["payout_b"] - out["payout_a"]
    return out[["rep_id", "period_start", "payout_a", "payout_b", "difference", "is_total"]]
