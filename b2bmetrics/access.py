"""Who sees what: roles, the data scope each role grants, and a backend that enforces it.

A roles file (`roles.toml` beside the database, or `$B2BMETRICS_ROLES`) maps a signed-in user's
email to a role. The role becomes a `Scope`, and `ScopedBackend` wraps an ibis backend so that
`table(name)` returns the canonical table already cut to that scope. Every metric reads its data
through `con.table(...)`, so the same metric code runs unchanged and no filter, URL parameter or
download can reach a row outside the scope: the rows are not in the tables it is given.

Scopes (CONTRACT §1 tables):

* executive, analyst: everything (no wrapper at all).
* manager with `regions`: accounts of those regions (`[filters] region_of` decides whether an
  account's region is `accounts.region` or its owner's `reps.region`: `metrics._rules`), their
  deals (with `region_of = "rep"`: deals owned by reps of those regions), the contracts, tickets,
  surveys and activities of those accounts, the stage history, splits and snapshots of those deals,
  the payments of those accounts and deals, the reps of those regions (and whoever else owns one
  of those accounts or deals) and the quotas of the regions' reps.
* rep with `rep_id`: the accounts they own; the deals they own, are split-credited on or referred,
  so their commission is complete; the stage history, splits and snapshots of those deals;
  contracts of their accounts and of their deals' accounts (clawbacks read them) and payments of
  their accounts and of their deals (commission on collected cash reads them); tickets, surveys
  and activities of their accounts; only themselves in reps and quotas.

Targets (CONTRACT §1 v2) follow the people of the scope, as quotas do (a manager: the reps of
their regions; a rep: themselves): their `rep` rows, the `team` rows of the teams those people
are in, a manager's `region` rows of their regions; `company` rows only for all-data roles (a
company target says what everyone sells, outside any one scope).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from b2bmetrics.config import read_toml
from b2bmetrics.errors import B2BError
from b2bmetrics.filters import Filters
from b2bmetrics.metrics._rules import account_in_regions, deal_in_regions, person_in_regions, reps_in_regions
from b2bmetrics.schema import TABLES

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

ROLES_ENV = "B2BMETRICS_ROLES"
ROLES_FILE = "roles.toml"
UNRESTRICTED = ("executive", "analyst")
ROLE_KEYS: dict[str, frozenset[str]] = {
    "executive": frozenset({"role"}),
    "analyst": frozenset({"role"}),
    "manager": frozenset({"role", "regions"}),
    "rep": frozenset({"role", "rep_id"}),
}
ALL_KEYS = frozenset().union(*ROLE_KEYS.values())
EXAMPLE = '[users."li.na@example.com"]\nrole = "manager"\nregions = ["East"]'


class AccessDenied(B2BError, AttributeError):
    """Something outside the user's scope was asked for.

    Also an AttributeError, so `hasattr(scoped_backend, "raw_sql")` is simply False.
    """


@dataclass(frozen=True)
class Scope:
    """The data one user may see: a role, and the regions or the rep it is limited to."""

    role: str
    regions: tuple[str, ...] = ()
    rep_id: str | None = None

    @classmethod
    def everything(cls, role: str = "executive") -> Scope:
        return cls(role)

    @property
    def unrestricted(self) -> bool:
        return self.role in UNRESTRICTED

    @property
    def may_manage_data(self) -> bool:
        """Uploads replace data and the data page downloads whole tables: all-data roles only."""
        return self.unrestricted

    def cache_key(self) -> tuple[Any, ...]:
        """What the data depends on: two users with the same key see the same rows."""
        if self.unrestricted:
            return ("all",)
        if self.role == "manager":
            return ("regions", tuple(sorted(self.regions)))
        return ("rep", self.rep_id)

    def narrow(self, filters: Filters) -> Filters:
        """The filters a view under this scope runs with.

        The backend already holds only in-scope rows; this picks the rows a view shows of what is
        derived from them. A manager with no region chosen sees their own regions (so commission
        lists their people, not everyone credited on their deals); a rep always sees their own
        rows (their deals and accounts, their commission statement). A region outside the scope
        stays as asked and matches nothing.
        """
        if self.role == "manager" and not filters.regions:
            return replace(filters, regions=self.regions)
        if self.role == "rep" and self.rep_id is not None:
            return replace(filters, reps=(self.rep_id,))
        return filters


# ---- the roles file ---------------------------------------------------------------------------

def _err(where: str, what: str, fix: str) -> B2BError:
    return B2BError(f"{where}: {what}", fix=fix)


def parse_user(email: str, raw: Any, source: str) -> Scope:
    """One `[users."email"]` entry as a Scope; refuses unknown roles and keys, missing regions or rep_id."""
    where = f'{source} [users."{email}"]'
    if not isinstance(raw, Mapping):
        raise _err(where, "must be a table", f'write it as\n{EXAMPLE}')
    role = raw.get("role")
    if role not in ROLE_KEYS:
        raise _err(where, f"unknown role {role!r}" if role is not None else "has no role",
                   f"role must be one of {', '.join(repr(r) for r in ROLE_KEYS)}")
    unknown = sorted(set(raw) - ALL_KEYS)
    if unknown:
        raise _err(where, f"unknown key {unknown[0]!r}", f"use only {', '.join(sorted(ALL_KEYS))}")
    misplaced = sorted(set(raw) - ROLE_KEYS[role])
    if misplaced:
        key = misplaced[0]
        owner = next(r for r, keys in ROLE_KEYS.items() if key in keys)
        raise _err(where, f"{key} applies only to role {owner!r}, not {role!r}", f"remove {key} or change the role")
    if role == "manager":
        regions = raw.get("regions")
        if not isinstance(regions, list) or not regions or not all(isinstance(r, str) and r.strip() for r in regions):
            raise _err(where, "a manager needs regions, a non-empty list of region names",
                       'regions = ["East", "North"] (names as in accounts.region or reps.region)')
        return Scope("manager", regions=tuple(dict.fromkeys(r.strip() for r in regions)))
    if role == "rep":
        rep_id = raw.get("rep_id")
        if not isinstance(rep_id, str) or not rep_id.strip():
            raise _err(where, "a rep needs rep_id, their id in the reps table", 'rep_id = "R001"')
        return Scope("rep", rep_id=rep_id.strip())
    return Scope(role)


def parse_roles(raw: Mapping[str, Any], source: str = ROLES_FILE) -> dict[str, Scope]:
    """Lower-cased email -> Scope for every `[users."email"]` entry of a parsed roles file."""
    for section in raw:
        if section != "users":
            raise _err(source, f"unknown section [{section}]", f"put every person under [users], e.g.\n{EXAMPLE}")
    users = raw.get("users", {})
    if not isinstance(users, Mapping):
        raise _err(source, "[users] must be a table of emails", f"e.g.\n{EXAMPLE}")
    out: dict[str, Scope] = {}
    for email, entry in users.items():
        key = email.strip().lower()
        if "@" not in key:
            raise _err(f"{source} [users]", f"{email!r} is not an email address",
                       'name each person by the email they sign in with: [users."li.na@example.com"]')
        if key in out:
            raise _err(f"{source} [users]", f"{email!r} is listed twice (emails are case-insensitive)",
                       "keep one entry per person")
        out[key] = parse_user(email, entry, source)
    return out


def roles_path(db: str | Path) -> Path:
    """`$B2BMETRICS_ROLES`, else `roles.toml` beside the database."""
    env = os.environ.get(ROLES_ENV)
    return Path(env) if env else Path(db).resolve().parent / ROLES_FILE


def load_roles(path: Path) -> dict[str, Scope]:
    """The roles file at `path`; B2BError when it is missing or wrong (sign-in without it grants nothing)."""
    if not path.exists():
        raise B2BError(f"sign-in is configured but the roles file {path} does not exist",
                       fix=f"create it (see docs/access.md) or point {ROLES_ENV} at it")
    return parse_roles(read_toml(path, "roles file", ROLES_ENV), str(path))


def scope_of(email: str | None, roles: Mapping[str, Scope]) -> Scope | None:
    """The signed-in user's scope; None when they are not in the roles file (they see nothing)."""
    if not email:
        return None
    return roles.get(email.strip().lower())


# ---- the scoped backend -----------------------------------------------------------------------

# what may be read through a ScopedBackend besides table(): plain facts about the backend
_SAFE_ATTRIBUTES = frozenset({"name", "version", "dialect"})
# the tables cut by the deals in scope, and those cut by the accounts in scope (besides the rules
# of reps, quotas, targets, accounts and deals themselves)
_BY_DEAL = frozenset({"deal_stage_history", "deal_splits", "deal_snapshots"})
_BY_ACCOUNT = frozenset({"contracts", "tickets", "surveys", "activities", "payments"})
# read whole under any scope: the snapshot days (dates only; deal_snapshots, cut by deal, needs them)
_UNSCOPED = frozenset({"snapshot_days"})


class ScopedBackend:
    """An ibis backend whose canonical tables hold only the rows of one scope.

    Only `table`, `list_tables` and a few descriptive attributes are offered. Everything that could
    read around the scope (`raw_sql`, `sql`, `execute` of an arbitrary expression, `read_*`, the
    underlying connection) and everything that writes raises AccessDenied, as do the load-audit
    tables. Expressions built on these tables execute on the wrapped backend as usual. `snapshot_days`
    (dates only, which the compact deal_snapshots need) is read whole.
    """

    def __init__(self, base: Backend, scope: Scope, region_of: str = "account") -> None:
        if scope.unrestricted:
            # a caller's mistake, not the user's: `scoped()` hands all-data roles the backend itself
            raise ValueError(f"ScopedBackend({scope.role!r}): an unrestricted scope needs no wrapper; "
                             "call access.scoped(base, scope), which returns the backend itself")
        self._base = base
        self.scope = scope
        self._region_of = region_of
        self._tables: dict[str, ir.Table] = {}

    def __repr__(self) -> str:
        return f"ScopedBackend({self.scope!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # Python's own protocols (copy, pickle) ask for these
            raise AttributeError(name)
        if name in _SAFE_ATTRIBUTES:
            return getattr(self._base, name)
        raise AccessDenied(f"{name} is not available under a restricted scope ({self.scope.role})",
                           fix="read data through table(name), which applies the scope")

    def list_tables(self, *args: Any, **kwargs: Any) -> list[str]:
        return [name for name in self._base.list_tables(*args, **kwargs) if name in TABLES or name in _UNSCOPED]

    def table(self, name: str, *args: Any, **kwargs: Any) -> ir.Table:
        """Canonical table `name` cut to the scope (built once per backend)."""
        if not args and not kwargs and name in _UNSCOPED:
            return self._base.table(name)
        if args or kwargs or name not in TABLES:
            raise AccessDenied(f"table {name!r} is not available under a restricted scope ({self.scope.role})",
                               fix="only the canonical tables can be read, each cut to the scope")
        if name not in self._tables:
            self._tables[name] = self._scoped(name)
        return self._tables[name]

    def _scoped(self, name: str) -> ir.Table:
        t = self._base.table(name)
        if name == "reps":
            if self.scope.role == "rep":
                return t.filter(t.rep_id == self.scope.rep_id)
            # owners from elsewhere of the region's accounts and deals keep their names, so an
            # account is not shown as "without an owner" just because its owner sits in another
            # region; but not their region, so choosing that region finds none of them (their
            # payouts are outside the scope)
            inside = person_in_regions(t, self.scope.regions)
            kept = t.filter(inside | t.rep_id.isin(self.table("accounts").owner_rep_id)
                            | t.rep_id.isin(self.table("deals").owner_rep_id))
            return kept.mutate(region=ibis.ifelse(person_in_regions(kept, self.scope.regions), kept.region,
                                                  ibis.null(kept.region.type())))
        if name == "quotas":
            return t.filter(t.rep_id.isin(self._people().rep_id))
        if name == "targets":
            return t.filter(self._target_condition(t))
        if name == "accounts":
            return t.filter(self._account_condition(t))
        if name == "deals":
            return t.filter(self._deal_condition(t))
        if name in _BY_DEAL:
            return t.filter(t.deal_id.isin(self.table("deals").deal_id))
        if name not in _BY_ACCOUNT:  # a table added to the schema without a rule here: fail closed
            raise AccessDenied(f"table {name!r} has no access rule yet, so a restricted scope ({self.scope.role}) "
                               "cannot read it", fix="give it a rule in b2bmetrics/access.py")
        in_accounts = t.account_id.isin(self.table("accounts").account_id)
        if name == "contracts" and self.scope.role == "rep":
            # a split or referred deal's clawback reads its account's contracts
            return t.filter(in_accounts | t.account_id.isin(self.table("deals").account_id))
        if name == "payments":
            # commission on collected cash reads the payments of every deal in scope, whoever's account
            return t.filter(in_accounts | t.deal_id.isin(self.table("deals").deal_id))
        return t.filter(in_accounts)

    def _people(self) -> ir.Table:
        """The people whose own numbers (quotas, targets) the scope holds: a manager's regions'
        reps (not the outside owners `reps` also lists), a rep themselves."""
        if self.scope.role == "manager":
            return reps_in_regions(self._base, self.scope.regions)
        return self.table("reps")

    def _account_condition(self, acc: ir.Table) -> ir.BooleanValue:
        if self.scope.role == "rep":
            return acc.owner_rep_id == self.scope.rep_id
        return account_in_regions(self._base, self._region_of, acc, self.scope.regions)

    def _deal_condition(self, deals: ir.Table) -> ir.BooleanValue:
        if self.scope.role == "rep":
            splits = self._base.table("deal_splits")
            credited = splits.filter(splits.rep_id == self.scope.rep_id).deal_id
            return ((deals.owner_rep_id == self.scope.rep_id) | deals.deal_id.isin(credited)
                    | (deals.referrer_id == self.scope.rep_id))
        return deal_in_regions(self._base, self._region_of, deals, self.scope.regions)

    def _target_condition(self, targets: ir.Table) -> ir.BooleanValue:
        """`rep` rows of the scope's people, `team` rows of their teams, a manager's `region` rows;
        never a `company` row (nor a row without a key)."""
        people = self._people()
        cond = (((targets.level == "rep") & targets.key.isin(people.rep_id))
                | ((targets.level == "team") & targets.key.isin(people.filter(people.team.notnull()).team)))
        if self.scope.role == "manager":
            cond = cond | ((targets.level == "region") & targets.key.isin(list(self.scope.regions)))
        return targets.key.notnull() & cond


def scoped(base: Backend, scope: Scope, region_of: str = "account") -> Backend:
    """The backend a user with `scope` reads: `base` itself for all-data roles, else a ScopedBackend."""
    return base if scope.unrestricted else ScopedBackend(base, scope, region_of)
