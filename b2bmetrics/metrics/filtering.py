"""How the filters select rows (CONTRACT §5 "Filters"), and what a filter can be set to.

Region and segment select accounts, and every family keeps only rows of those accounts (with
`region_of = "rep"`, region selects deals and accounts by their owner's `reps.region` instead,
`_rules.account_in_regions` / `deal_in_regions`). Rep selects deals owned by the rep (funnel) and
accounts whose owner is the rep (churn, satisfaction). Commission chooses its rows by person
instead (`commission.facts`). The helpers build ibis expressions; nothing is executed until a
metric asks for its small result, except the two lists the sidebar offers (`region_choices`,
`people_by_region`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters
from b2bmetrics.metrics._rules import account_in_regions, deal_in_regions

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


def accounts_in_scope(con: Backend, cfg: Config, filters: Filters, *, with_rep: bool) -> ir.Table | None:
    """Account ids selected by region/segment (and, when `with_rep`, by owner rep); None = all accounts."""
    if not (filters.scopes_accounts or (with_rep and filters.reps)):
        return None
    acc = con.table("accounts")
    cond = []
    if filters.segments:
        cond.append(acc.segment.isin(list(filters.segments)))
    if filters.regions:
        cond.append(account_in_regions(con, cfg.region_of, acc, filters.regions))
    if with_rep and filters.reps:
        cond.append(acc.owner_rep_id.isin(list(filters.reps)))
    return acc.filter(*cond).select("account_id").distinct()


def scope_by_account(table: ir.Table, scope: ir.Table | None) -> ir.Table:
    """Keep the rows of `table` whose account_id is in `scope` (all rows when scope is None)."""
    if scope is None:
        return table
    return table.filter(table.account_id.isin(scope.account_id))


def deals_in_scope(con: Backend, cfg: Config, filters: Filters, deals: ir.Table | None = None) -> ir.Table:
    """Deals selected by region, segment and rep for the funnel (rep = the deal's owner), from
    `deals` (a table with the `deals` columns; the `deals` table itself by default)."""
    deals = con.table("deals") if deals is None else deals
    cond = []
    if filters.segments:
        acc = con.table("accounts")
        cond.append(deals.account_id.isin(acc.filter(acc.segment.isin(list(filters.segments))).account_id))
    if filters.regions:
        cond.append(deal_in_regions(con, cfg.region_of, deals, filters.regions))
    if filters.reps:
        cond.append(deals.owner_rep_id.isin(list(filters.reps)))
    return deals.filter(*cond) if cond else deals


# ---- what the filters can be set to (the sidebar's lists) --------------------------------------


def region_choices(con: Backend, region_of: str) -> list[str]:
    """The regions a region filter can name, sorted: those of `accounts.region`, or with
    `region_of = "rep"` of `reps.region` (one small query)."""
    owner = con.table("reps") if region_of == "rep" else con.table("accounts")
    regions = owner.select(v=owner.region).distinct().execute()["v"].dropna().tolist()
    return sorted(str(r) for r in regions)


def people_by_region(con: Backend, region_of: str) -> dict[str, set[str]]:
    """Who a rep filter can mean in each region: its people (`reps.region`, what commission and
    `region_of = "rep"` go by) and, with regions of accounts, the owners of its accounts and of
    their deals. One query."""
    reps = con.table("reps")
    pairs = [reps.select(region=reps.region, rep_id=reps.rep_id)]
    if region_of != "rep":
        acc, deals = con.table("accounts"), con.table("deals")
        pairs.append(acc.select(region=acc.region, rep_id=acc.owner_rep_id))
        homes = acc.select(_a=acc.account_id, region=acc.region)
        owned = deals.join(homes, deals.account_id == homes._a)
        pairs.append(owned.select(region=owned.region, rep_id=owned.owner_rep_id))
    u = ibis.union(*pairs).distinct()
    frame = u.filter(u.region.notnull(), u.rep_id.notnull()).execute()
    out: dict[str, set[str]] = {}
    for region, rep_id in zip(frame["region"], frame["rep_id"], strict=True):
        out.setdefault(region, set()).add(rep_id)
    return out
