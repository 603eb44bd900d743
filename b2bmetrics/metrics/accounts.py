"""One customer on one screen: the account list, an account's profile, and ownership views.

These are lookups rather than KPIs: each returns small frames (one account's rows, or one row per
account after aggregation in the database).

"MRR now" (the list's `mrr_now`, ownership's `active_mrr`) is MRR on the data's as-of day,
`filters.data_as_of` (the latest day something happened, the day the accounts page scores health on), by the churn
rule of `_rules`: contracts with `start_date ≤ d` and (`end_date` empty or `end_date > d`). A
contract ending next year counts today; one starting next month does not yet.

Money: MRR is summed exactly (DECIMAL in the database, Decimal in Python); the frames a page shows
(`account_list`, `profile`, `ownership`, `mrr_over_time`) carry it as floats, each the float of an
exact amount or sum.

Two more factors of the accounts at risk (`at_risk`: `churn.at_risk` plus these columns), each as of
the end of a day D, with only what is known by then:

* late 回款 (`late_payments`): installments overdue on D by collection's rule
  (`collection.with_overdue` with `to` = D: due before D, less paid by the end of D than due);
  `late_installments`, `overdue_amount` (exact) and `max_days_overdue` (D − the oldest such due date);
* slow first response (`slow_responses`): tickets opened in the 90 days up to the end of D whose
  first response missed `first_response_sla_hours` (`satisfaction.first_response_hours` > SLA), or
  that are still unanswered by the end of D more than SLA hours after opening (an unanswered
  ticket has not met the SLA, as in satisfaction); `tickets_90d`, `slow_tickets`.

They are flags beside the score (`late_payment`, `slow_response`), not part of it: the score is
`churn`'s; whether they separate churners is what `health_backtest` measures (docs/metrics.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period, data_as_of
from b2bmetrics.metrics import churn
from b2bmetrics.metrics._rules import MONEY_ZERO, active_on, deal_status, hours_between, mrr_on
from b2bmetrics.metrics.cells import float_columns, money
from b2bmetrics.metrics.collection import with_overdue
from b2bmetrics.metrics.filtering import accounts_in_scope
from b2bmetrics.metrics.satisfaction import first_response_hours

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


def _mrr_now(con: Backend, as_of: dt.date | None) -> ir.Table:
    """Per account with a contract: `mrr` on `as_of` (default `data_as_of`); NULL when none is active."""
    day = ibis.date(as_of or data_as_of(con))
    contracts = con.table("contracts")
    return contracts.group_by("account_id").aggregate(mrr=mrr_on(contracts, day))


def account_list(con: Backend, cfg: Config, filters: Filters, search: str = "", limit: int = 500,
                 as_of: dt.date | None = None) -> pd.DataFrame:
    """Accounts in scope matching `search` (id, name, industry or owner), with `mrr_now` (MRR on
    `as_of`, by default the data's as-of day; NULL without an active contract) and open deals."""
    acc = con.table("accounts")
    scope = accounts_in_scope(con, cfg, filters, with_rep=True)
    if scope is not None:
        acc = acc.filter(acc.account_id.isin(scope.account_id))
    reps = con.table("reps").select(owner_rep_id="rep_id", owner_name="rep_name")
    acc = acc.left_join(reps, "owner_rep_id").drop("owner_rep_id_right")
    if search.strip():
        needle = search.strip().lower()
        acc = acc.filter(
            acc.account_id.lower().contains(needle)
            | acc.account_name.fillna("").lower().contains(needle)
            | acc.industry.fillna("").lower().contains(needle)
            | acc.owner_name.fillna("").lower().contains(needle)
        )
    mrr = _mrr_now(con, as_of).rename(mrr_now="mrr")
    deals = con.table("deals")
    still_open = deals.filter(deal_status(cfg.pipeline, deals) == "open")
    open_deals = still_open.group_by("account_id").aggregate(open_deals=still_open.count())
    out = (acc.left_join(mrr, "account_id").drop("account_id_right")
           .left_join(open_deals, "account_id").drop("account_id_right"))
    out = out.order_by([ibis.desc(out.mrr_now), out.account_id]).limit(limit)
    return float_columns(out.execute(), "mrr_now")


def profile(con: Backend, account_id: str) -> dict[str, pd.DataFrame]:
    """Everything about one account: the account row, owner and team, contracts, deals with stage
    paths, tickets with response hours, surveys and activities."""
    def rows(table: str) -> ir.Table:
        t = con.table(table)
        return t.filter(t.account_id == account_id)

    reps = con.table("reps")
    account = rows("accounts").execute()
    contracts = rows("contracts").order_by("start_date").execute()
    deals_t = rows("deals")
    deals = deals_t.order_by(ibis.desc(deals_t.created_at)).execute()
    hist = con.table("deal_stage_history")
    paths = (hist.filter(hist.deal_id.isin(deals_t.deal_id)).order_by(["deal_id", "entered_at"]).execute())
    if len(deals):
        path_text = paths.groupby("deal_id")["stage"].agg(" → ".join)
        deals["stage_path"] = deals["deal_id"].map(path_text)
    tickets_t = rows("tickets")
    tickets = tickets_t.mutate(first_response_hours=first_response_hours(tickets_t)).order_by(
        ibis.desc(tickets_t.opened_at)).execute()
    surveys = rows("surveys").order_by(ibis.desc(con.table("surveys").submitted_at)).execute()
    activities = rows("activities").order_by("occurred_at").execute()
    # the team: the owner plus everyone who worked the account (activities, tickets, deals)
    people: set[str] = set()
    for frame, col in ((account, "owner_rep_id"), (activities, "rep_id"), (tickets, "assignee_id"),
                       (deals, "owner_rep_id"), (surveys, "rep_id")):
        if col in frame:
            people.update(str(v) for v in frame[col].dropna())
    team = reps.filter(reps.rep_id.isin(sorted(people))).execute() if people else reps.limit(0).execute()
    if len(team) and len(account):
        owner = account["owner_rep_id"].iloc[0]
        team["is_owner"] = team["rep_id"] == owner
        team = team.sort_values(["is_owner", "rep_id"], ascending=[False, True])
    float_columns(contracts, "mrr")
    float_columns(deals, "amount")
    return {"account": account, "team": team, "contracts": contracts, "deals": deals, "stage_history": paths,
            "tickets": tickets, "surveys": surveys, "activities": activities}


def mrr_over_time(contracts: pd.DataFrame) -> pd.DataFrame:
    """Month-end MRR of one account from its (few) contract rows, for a step chart."""
    if contracts.empty:
        return pd.DataFrame({"month": [], "mrr": []})
    start = pd.Timestamp(contracts["start_date"].min()).to_period("M").to_timestamp()
    last = contracts["end_date"].dropna()
    end = max([pd.Timestamp(contracts["start_date"].max()), *(pd.Timestamp(d) for d in last)])
    months = pd.date_range(start, end + pd.offsets.MonthEnd(1), freq="ME")
    starts = pd.to_datetime(contracts["start_date"])
    ends = pd.to_datetime(contracts["end_date"])
    mrr = [float(_exact_sum(contracts.loc[active_on(starts, ends, m), "mrr"])) for m in months]
    return pd.DataFrame({"month": months, "mrr": mrr})


def mrr_on_day(contracts: pd.DataFrame, day: dt.date) -> float | None:
    """One account's MRR on `day` from its (few) contract rows (`_rules.active_on`): the figure the
    account list calls `mrr_now` when `day` is the data's as-of day; None without contracts."""
    if contracts.empty:
        return None
    starts, ends = pd.to_datetime(contracts["start_date"]), pd.to_datetime(contracts["end_date"])
    return float(_exact_sum(contracts.loc[active_on(starts, ends, pd.Timestamp(day)), "mrr"]))


def _exact_sum(mrr: pd.Series) -> Decimal:
    """The exact sum of a few MRR cells (Decimal, or the floats of `profile`'s frame by their shortest
    repr), so the result does not depend on the order of the rows."""
    return sum((money(v) or Decimal(0) for v in mrr), Decimal(0))


def ownership(con: Backend, cfg: Config, filters: Filters, as_of: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """Accounts without an owner, and per owner the accounts and their `active_mrr` (MRR on `as_of`,
    by default the data's as-of day)."""
    acc = con.table("accounts")
    scope = accounts_in_scope(con, cfg, filters, with_rep=False)
    if scope is not None:
        acc = acc.filter(acc.account_id.isin(scope.account_id))
    reps = con.table("reps")
    unowned = acc.filter(acc.owner_rep_id.isnull() | ~acc.owner_rep_id.isin(reps.rep_id))
    owned = acc.filter(acc.owner_rep_id.notnull()).left_join(_mrr_now(con, as_of), "account_id")
    per_owner = owned.group_by("owner_rep_id").aggregate(accounts=owned.account_id.nunique(),
                                                         active_mrr=owned.mrr.sum())
    per_owner = per_owner.left_join(reps.select("rep_id", "rep_name", "region", "role"),
                                    per_owner.owner_rep_id == reps.rep_id).drop("rep_id")
    if filters.reps:
        per_owner = per_owner.filter(per_owner.owner_rep_id.isin(list(filters.reps)))
    return {"unowned": unowned.order_by("account_id").limit(1000).execute(),
            "per_owner": float_columns(
                per_owner.order_by([ibis.desc(per_owner.accounts), per_owner.owner_rep_id]).execute(), "active_mrr")}


# ---- the at-risk list's late 回款 and slow first response (see the module docstring) -------------

SLOW_RESPONSE_LOOKBACK_DAYS = 90
FACTOR_COLUMNS = ["late_payment", "late_installments", "overdue_amount", "max_days_overdue",
                  "slow_response", "slow_tickets", "tickets_90d"]
AT_RISK_COLUMNS = [*churn.HEALTH_COLUMNS, *FACTOR_COLUMNS]


def _end_of(day: dt.date) -> ir.Value:
    """Midnight after `day`: what happened before it is known at the end of `day`."""
    return ibis.timestamp(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))


def late_payments(con: Backend, accounts: ir.Table, as_of: dt.date) -> ir.Table:
    """Per account of `accounts` (a column `account_id`) with an installment overdue on `as_of`
    (`collection.with_overdue`): `late_installments`, `overdue_amount` (DECIMAL), `max_days_overdue`."""
    p = con.table("payments")
    p = with_overdue(p.filter(p.account_id.isin(accounts.account_id)), Period(None, as_of, False))
    late = p.filter(p.outstanding.notnull())
    return late.group_by("account_id").aggregate(
        late_installments=late.count(), overdue_amount=late.outstanding.sum(),
        max_days_overdue=ibis.date(as_of).delta(late.due_date.min(), unit="day").cast("int64"))


def slow_responses(con: Backend, cfg: Config, accounts: ir.Table, as_of: dt.date) -> ir.Table:
    """Per account of `accounts` with a ticket opened in the `SLOW_RESPONSE_LOOKBACK_DAYS` days up to
    the end of `as_of`: `tickets_90d`, and `slow_tickets`, those whose first response missed the SLA
    as known by then (answered later than SLA hours, or unanswered for longer)."""
    ref = _end_of(as_of)
    since = _end_of(as_of - dt.timedelta(days=SLOW_RESPONSE_LOOKBACK_DAYS))
    t = con.table("tickets")
    t = t.filter(t.account_id.isin(accounts.account_id), t.opened_at >= since, t.opened_at < ref)
    answered = t.first_response_at.notnull() & (t.first_response_at < ref)
    hours = ibis.ifelse(answered, first_response_hours(t), hours_between(t.opened_at, ref))
    sla = cfg.first_response_sla_hours
    return t.group_by("account_id").aggregate(tickets_90d=t.count(), slow_tickets=t.count(where=hours > sla))


def with_factors(con: Backend, cfg: Config, rows: ir.Table, as_of: dt.date,
                 accounts: ir.Table | None = None) -> ir.Table:
    """`rows` (one per account, a column `account_id`) with `FACTOR_COLUMNS` as of `as_of`:
    counts 0 and `overdue_amount` 0 where nothing is late or slow. `accounts`: a table of the same
    account ids to look the payments and tickets up by (default: those of `rows`)."""
    base = rows.select("account_id").distinct() if accounts is None else accounts
    late = late_payments(con, base, as_of).rename(_l_acc="account_id")
    slow = slow_responses(con, cfg, base, as_of).rename(_s_acc="account_id")
    j = rows.left_join(late, rows.account_id == late._l_acc)
    j = j.left_join(slow, j.account_id == slow._s_acc)
    n_late = ibis.coalesce(j.late_installments, 0).cast("int64")
    n_slow = ibis.coalesce(j.slow_tickets, 0).cast("int64")
    return j.mutate(late_payment=n_late > 0, late_installments=n_late,
                    overdue_amount=ibis.coalesce(j.overdue_amount, MONEY_ZERO),
                    max_days_overdue=j.max_days_overdue,
                    slow_response=n_slow > 0, slow_tickets=n_slow,
                    tickets_90d=ibis.coalesce(j.tickets_90d, 0).cast("int64")).drop("_l_acc", "_s_acc")


def at_risk(con: Backend, cfg: Config, filters: Filters, period: Period, limit: int = 50) -> pd.DataFrame:
    """`churn.at_risk` (lowest health score first) with the late 回款 and slow first response
    factors as of the period's last day: columns `AT_RISK_COLUMNS` (`overdue_amount` a float of an
    exact sum). One more query, for the `limit` accounts listed."""
    risky = churn.at_risk(con, cfg, filters, period, limit)
    if risky.empty or period.end is None:
        return risky.reindex(columns=AT_RISK_COLUMNS)
    ids = ibis.memtable(pd.DataFrame({"account_id": risky["account_id"].astype(str)}),
                        schema={"account_id": "string"})
    got = with_factors(con, cfg, ids, period.end).execute().set_index("account_id")
    out = risky.join(got, on="account_id")
    return float_columns(out, "overdue_amount")[AT_RISK_COLUMNS].reset_index(drop=True)
