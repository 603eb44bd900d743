"""What the pages show of the rows: one person's statement, deal by deal; the leaderboard, the
referral earnings by role and the what-if comparison, each derived from already computed rows
(`rows.attainment` or `rows.all_rows`), so a page that has the rows asks no further query.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters
from b2bmetrics.metrics._rules import period_of, period_start_of
from b2bmetrics.metrics.commission.facts import (
    WEIGHT_DIGITS,
    _as_date,
    _clawed,
    _credit_lines,
    _facts,
    _lines_source,
    _referral_lines,
    _unscale,
    _window,
    claw_days,
)
from b2bmetrics.metrics.commission.plan import EXACT, cents, numbers
from b2bmetrics.metrics.commission.rows import _rows, effective_rate, total_payout

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


LINE_ORDER = {"credit": 0, "referral": 1, "clawback": 2, "referral_clawback": 3}
STATEMENT_COLUMNS = ["line", "deal_id", "account_id", "account_name", "closed_at", "origin_period", "amount",
                     "share", "credited", "rate", "commission", "referral", "clawback"]
# under basis = "collected": one line per payment (`amount` its amount_paid, credited at `paid_at`)
COLLECTED_STATEMENT_COLUMNS = ["line", "deal_id", "payment_id", "account_id", "account_name", "paid_at", "origin_period",
                               "amount", "share", "credited", "rate", "commission", "referral", "clawback"]


def statement(con: Backend, cfg: Config, rep_id: str, period_start: dt.date, plan: Plan | None = None) -> pd.DataFrame:
    """Deal by deal, what one person earns in one commission period; its columns sum to the row.

    `line` is "credit" (a deal credited to the person; `rate` is the period's effective rate and
    `commission` credited × rate, so with a cap the commission is allocated pro rata), "referral"
    (`rate` = referral_rate), "clawback" or "referral_clawback" (a deal of an earlier period,
    `origin_period`, reversed here at that period's rate). Money is Decimal: `amount`, `share` and
    `credited` exact, Σ credited = credited_revenue of the person's row; `commission`, `referral`
    and `clawback` in cents, apportioned (`apportion`) so that each column sums exactly to the
    row's rounded figure. `rate` is a float. Lines are ordered credits, referrals, then the
    reversals of earlier periods, each by close time and deal id. Two queries: the person's
    aggregates (for the rates) and the deal lines.

    Under `basis = "collected"` a line is one payment (`COLLECTED_STATEMENT_COLUMNS`): "credit"
    (a payment of a deal credited to the person, `amount` its amount_paid, `paid_at` in the
    period) or "referral" (a payment of a deal the person referred); there are no clawback lines,
    and lines are ordered credits, then referrals, each by paid_at, deal id and payment id.
    """
    plan = plan or cfg.commission
    unit = plan.period
    start = period_start_of(period_start, unit)
    facts = _facts(con, cfg, plan, [start], Filters(), only=rep_id)

    collected = plan.basis == "collected"
    lo, hi = _window([start], unit, claw_days(plan))
    won = _lines_source(con, cfg, plan, lo, hi)
    credit = _credit_lines(con, won)
    credit = credit.filter(credit.person == rep_id).mutate(origin=period_of(credit.closed_at, unit))
    refs = _referral_lines(won)
    refs = refs.filter(refs.person == rep_id).mutate(weight=ibis.null().cast("int64"))
    refs = refs.mutate(origin=period_of(refs.closed_at, unit))
    cols = ["line", *(["payment_id"] if collected else []), "deal_id", "account_id", "closed_at", "origin", "amount",
            "weight", "scaled"]
    in_period = [credit.filter(credit.origin == start).mutate(line=ibis.literal("credit")).select(*cols),
                 refs.filter(refs.origin == start).mutate(line=ibis.literal("referral")).select(*cols)]
    if claw_days(plan) > 0:
        clawed = _clawed(con, won, plan.clawback_days)
        clawed = clawed.filter(period_of(clawed.clawback_date, unit) == start).select(_cl_deal="deal_id")
        for line, t in (("clawback", credit), ("referral_clawback", refs)):
            j = t.join(clawed, t.deal_id == clawed._cl_deal)
            in_period.append(j.mutate(line=ibis.literal(line)).select(*cols))
    lines = ibis.union(*in_period, distinct=False)
    acc = con.table("accounts").select(_acc_id="account_id", account_name="account_name").distinct()
    lines = lines.left_join(acc, lines.account_id == acc._acc_id).drop("_acc_id")
    df = lines.order_by(["closed_at", "deal_id", *(["payment_id"] if collected else [])]).execute()
    # credits first, then referrals, then the reversals of earlier periods
    df = df.sort_values("line", key=lambda c: c.map(LINE_ORDER), kind="stable").reset_index(drop=True)

    referral_rate = numbers(plan).referral_rate
    rate = effective_rate(facts, plan, (rep_id, start))
    kinds = df["line"].tolist()
    origins = [_as_date(v) for v in df["origin"]]
    amounts = [_amount(v) for v in df["amount"]]
    shares = [None if _missing(w) else Decimal(int(w)).scaleb(-WEIGHT_DIGITS, context=EXACT) for w in df["weight"]]
    # a credit or clawback line's credited share, exactly as the facts sum it
    shared = [None if s is None else _unscale(v) for s, v in zip(shares, df["scaled"], strict=True)]
    rates: list[Fraction | None] = []
    exact: dict[str, list[Fraction]] = {"commission": [], "referral": [], "clawback": []}  # each line's, unrounded
    for line, origin, amount, credited in zip(kinds, origins, amounts, shared, strict=True):
        if line in ("credit", "clawback"):
            line_rate = rate if line == "credit" else effective_rate(facts, plan, (rep_id, origin))
            value = Fraction(credited or 0) * (line_rate or 0)
        else:
            line_rate = Fraction(referral_rate)
            value = Fraction(amount or 0) * line_rate
        rates.append(line_rate)
        for column in exact:
            exact[column].append(value if column == _COLUMN_OF[line] else Fraction(0))
    row = next(iter(_rows(facts, plan)), None)
    totals = {"commission": row.commission if row else _ZERO_CENTS,
              "referral": row.referral_commission if row else _ZERO_CENTS,
              "clawback": row.clawback if row else _ZERO_CENTS}
    out = pd.DataFrame({
        "line": df["line"], "deal_id": df["deal_id"], "account_id": df["account_id"],
        "account_name": df["account_name"], "closed_at": df["closed_at"],
        "origin_period": origins,
        "amount": pd.Series(amounts, dtype=object), "share": pd.Series(shares, dtype=object),
        # only credit lines carry credited revenue, so the column sums to the row's credited_revenue
        "credited": pd.Series([c if k == "credit" else None for k, c in zip(kinds, shared, strict=True)],
                              dtype=object),
        "rate": pd.Series([None if r is None else float(r) for r in rates], dtype="float64"),
        **{column: pd.Series(apportion(values, totals[column]), dtype=object) for column, values in exact.items()},
    })
    if collected:
        out = out.rename(columns={"closed_at": "paid_at"}).assign(payment_id=df["payment_id"])
        return out[COLLECTED_STATEMENT_COLUMNS]
    return out[STATEMENT_COLUMNS]


_RATIO = Context(prec=34)  # a float's worth of a quotient
_COLUMN_OF = {"credit": "commission", "referral": "referral", "clawback": "clawback",
              "referral_clawback": "clawback"}
_ZERO_CENTS = Decimal("0.00")


def apportion(values: list[Fraction], total: Decimal) -> list[Decimal]:
    """Each exact value in cents so that they sum exactly to `total` (their sum rounded to cents),
    by largest remainder: every value rounded down to a cent, then the cents left over go one each
    to the values with the largest remainders, ties to the earlier value. A value already in whole
    cents is never moved, and every line is within a cent of its exact value.
    """
    if not values:
        return []
    floors = [math.floor(v * 100) for v in values]
    left = int(total.scaleb(2, context=EXACT)) - sum(floors)
    if not 0 <= left <= len(values):
        raise ValueError(f"the lines sum to {sum(values)}, too far from the row's {total} to apportion")
    by_remainder = sorted(range(len(values)), key=lambda i: (-(values[i] * 100 - floors[i]), i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return [Decimal(f).scaleb(-2, context=EXACT) if f else _ZERO_CENTS for f in floors]


def _missing(value: Any) -> bool:
    return value is None or value != value


def _amount(value: Any) -> Decimal | None:
    """An amount cell as the exact Decimal (None when NULL)."""
    return None if _missing(value) else Decimal(value)


# ---- views of computed rows ---------------------------------------------------------------------

_MONEY = ["credited_revenue", "quota", "commission", "referral_commission", "clawback", "payout"]


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """Per person over the shown periods of `attainment` rows: exact sums (Decimal), attainment
    Σcredited/Σquota as a float (None when Σquota is 0), ranked by payout (rank 1 = highest, ties
    by rep_id)."""
    with localcontext(EXACT):  # pandas adds the Decimals of an object column with Python's +
        per = rows.groupby("rep_id", as_index=False, sort=True)[_MONEY].sum()
    with localcontext(_RATIO):
        per["attainment"] = [float(c / q) if q > 0 else None
                             for c, q in zip(per["credited_revenue"], per["quota"], strict=True)]
    people = rows.drop_duplicates("rep_id").set_index("rep_id")
    for col in ("rep_name", "region", "role"):
        per[col] = per["rep_id"].map(people[col]) if col in people else None
    per = per.sort_values(["payout", "rep_id"], ascending=[False, True]).reset_index(drop=True)
    per["rank"] = range(1, len(per) + 1)
    return per


def referral_earnings(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Referral income of `attainment` rows by the referrer's role (sales / employee / partner;
    NULL = not in reps): people, referred_deals, referred_amount, referral_commission (Σ of the
    rows' rounded referral commission), referral_clawback (per row, referral_rate × the referred
    amount clawed back, rounded to cents as the row's figures are), net = commission − clawback.
    Money is Decimal; `plan` is the plan the rows were computed with."""
    cols = ["role", "people", "referred_deals", "referred_amount", "referral_commission", "referral_clawback", "net"]
    refs = rows[(rows["referred_deals"] > 0) | (rows["referred_amount"] != 0) | (rows["referral_clawed_amount"] != 0)]
    if refs.empty:
        return pd.DataFrame(columns=cols)
    rate = numbers(plan).referral_rate
    with localcontext(EXACT):
        refs = refs.assign(referral_clawback=[cents(rate * a) for a in refs["referral_clawed_amount"]])
        per = refs.groupby("rep_id", sort=True).agg(
            role=("role", "first"), referred_deals=("referred_deals", "sum"),
            referred_amount=("referred_amount", "sum"), referral_commission=("referral_commission", "sum"),
            referral_clawback=("referral_clawback", "sum"))
        per["role"] = per["role"].astype(object).where(per["role"].notna(), None)
        per["people"] = ((per["referred_amount"] != 0) | (per["referred_deals"] != 0)).astype("int64")
        out = per.groupby("role", dropna=False, sort=False).agg(
            people=("people", "sum"), referred_deals=("referred_deals", "sum"),
            referred_amount=("referred_amount", "sum"), referral_commission=("referral_commission", "sum"),
            referral_clawback=("referral_clawback", "sum"),
        ).reset_index()
        out["net"] = [c - b for c, b in zip(out["referral_commission"], out["referral_clawback"], strict=True)]
    out["role"] = out["role"].astype(object).where(out["role"].notna(), None)
    out["people"] = out["people"].astype("int64")
    out["referred_deals"] = out["referred_deals"].astype("int64")
    out = out.assign(_order=[-v for v in out["referral_commission"]], _role=out["role"].fillna("").astype(str))
    return out.sort_values(["_order", "_role"]).reset_index(drop=True)[cols]


def what_if(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> pd.DataFrame:
    """Payout per person and period of the rows under the configured plan (`payout_a`) and under a
    second plan (`payout_b`), with `difference` = b − a (all Decimal); a last row (`rep_id`
    "TOTAL", `period_start` None, `is_total` True) holds the totals. A person-period missing under
    one plan pays 0.00 there (with different period units the rows of the two plans do not line up
    and both appear). Rows are ordered by person, then period."""
    a = dict(zip(zip(rows_a["rep_id"], rows_a["period_start"], strict=True), rows_a["payout"], strict=True))
    b = dict(zip(zip(rows_b["rep_id"], rows_b["period_start"], strict=True), rows_b["payout"], strict=True))
    keys = sorted(set(a) | set(b))
    records: list[dict[str, Any]] = [
        {"rep_id": k[0], "period_start": k[1], "payout_a": a.get(k, _ZERO_CENTS), "payout_b": b.get(k, _ZERO_CENTS),
         "is_total": False} for k in keys]
    records.append({"rep_id": "TOTAL", "period_start": None, "payout_a": total_payout(a.values()),
                    "payout_b": total_payout(b.values()), "is_total": True})
    out = pd.DataFrame(records, columns=["rep_id", "period_start", "payout_a", "payout_b", "is_total"])
    with localcontext(EXACT):
        out["difference"] = pd.Series([y - x for x, y in zip(out["payout_a"], out["payout_b"], strict=True)],
                                      dtype=object)
    return out[["rep_id", "period_start", "payout_a", "payout_b", "difference", "is_total"]]
