"""Who sees what: the roles file, the scoped backend, and every role through the dashboard.

The fixture extends the pages' two-region data (tests/pages_fixtures.py) so that scopes differ:

    reps      R1 王伟 东区 · R2 李娜 西区 · R3 张敏 西区 (employee)
    accounts  A1 东区 owner R1 · A2 西区 owner R2 · A3 东区 owner R2 (a 西区 rep owns an 东区 account)
    deals     D1 A1 R1 won 100 · D2 A1 R1 lost 50 · D3 A2 R2 won 300 · D4 A2 R2 open 80
              D5 A2 R2 won 200, split R1 0.5 / R2 0.5 · D6 A3 R2 won 100, referred by R1 · D7 A2 R3 open
    teams     R1 东一组 · R2 and R3 西一组
    payments  P1 A1 D1 · P2 A2 D3 · P3 A2 D5 · P4 A3 D6 · P5 A2 (no deal)
    targets   region 东区, 西区 · team 东一组, 西一组 · rep R1, R2, R3 (quarter, booked)
    snapshots 2024-03-01 of D1, D3, D5, D6
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from b2bmetrics.access import AccessDenied, Scope, ScopedBackend, load_roles, parse_roles, scope_of, scoped
from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.filters import Filters
from b2bmetrics.metrics import commission, compute_kpis
from b2bmetrics.schema import TABLES
from tests.conftest import dashboard_app, make_db, sign_in, write_db
from tests.pages_fixtures import fixture_rows

D = dt.datetime
Q1 = Filters(dt.date(2024, 1, 1), dt.date(2024, 3, 31))
EAST, WEST = "东区", "西区"
EAST_TEAM, WEST_TEAM = "东一组", "西一组"


def extended_rows() -> dict[str, list[dict[str, Any]]]:
    rows = fixture_rows()
    rows["reps"].append({"rep_id": "R3", "rep_name": "张敏", "region": WEST, "role": "employee"})
    rows["accounts"].append({"account_id": "A3", "account_name": "丙公司", "region": EAST, "segment": "大型企业",
                             "owner_rep_id": "R2", "created_at": D(2024, 1, 4)})
    rows["deals"] += [
        {"deal_id": "D5", "stage": "won", "status": "won", "account_id": "A2", "owner_rep_id": "R2",
         "amount": 200.0, "created_at": D(2024, 2, 2), "closed_at": D(2024, 3, 20)},
        {"deal_id": "D6", "stage": "won", "status": "won", "account_id": "A3", "owner_rep_id": "R2",
         "referrer_id": "R1", "amount": 100.0, "created_at": D(2024, 2, 3), "closed_at": D(2024, 3, 25)},
        {"deal_id": "D7", "stage": "lead", "status": "open", "account_id": "A2", "owner_rep_id": "R3",
         "created_at": D(2024, 2, 4)},
    ]
    rows["deal_stage_history"].append({"deal_id": "D5", "stage": "lead", "entered_at": D(2024, 2, 2)})
    rows["deal_splits"] = [{"deal_id": "D5", "rep_id": "R1", "share": 0.5},
                           {"deal_id": "D5", "rep_id": "R2", "share": 0.5}]
    rows["quotas"] = [{"rep_id": r, "period_start": dt.date(2024, 1, 1), "quota_amount": q}
                      for r, q in (("R1", 1000.0), ("R2", 2000.0), ("R3", 500.0))]
    rows["contracts"].append({"contract_id": "C3", "account_id": "A3", "start_date": dt.date(2024, 3, 25),
                              "mrr": 20.0})
    rows["tickets"] += [{"ticket_id": "T2", "account_id": "A2", "opened_at": D(2024, 3, 14, 9)},
                        {"ticket_id": "T3", "account_id": "A3", "opened_at": D(2024, 3, 15, 9)}]
    rows["activities"].append({"activity_id": "X2", "account_id": "A3", "occurred_at": D(2024, 3, 1),
                               "kind": "call", "channel": "online", "rep_id": "R2"})
    for rep in rows["reps"]:
        rep["team"] = {"R1": EAST_TEAM}.get(str(rep["rep_id"]), WEST_TEAM)
    rows["payments"] = [
        {"payment_id": pid, "account_id": acc, "deal_id": deal, "paid_at": D(2024, 3, 28), "amount_paid": 10.0}
        for pid, acc, deal in (("P1", "A1", "D1"), ("P2", "A2", "D3"), ("P3", "A2", "D5"), ("P4", "A3", "D6"),
                               ("P5", "A2", None))]
    rows["targets"] = [
        {"level": level, "key": key, "period": "quarter", "period_start": dt.date(2024, 1, 1), "basis": "booked",
         "amount": 1000.0}
        for level, key in (("region", EAST), ("region", WEST), ("team", EAST_TEAM), ("team", WEST_TEAM),
                           ("rep", "R1"), ("rep", "R2"), ("rep", "R3"))]
    rows["deal_snapshots"] = [{"snapshot_date": dt.date(2024, 3, 1), "deal_id": d, "stage": "lead", "status": "open"}
                              for d in ("D1", "D3", "D5", "D6")]
    return rows


ROLES_TOML = f"""
[users."ceo@example.com"]
role = "executive"

[users."data@example.com"]
role = "analyst"

[users."East.Manager@Example.com"]
role = "manager"
regions = ["{EAST}"]

[users."wang.wei@example.com"]
role = "rep"
rep_id = "R1"
"""


# ---- the roles file ---------------------------------------------------------------------------

def test_roles_file_gives_each_email_its_scope_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES_TOML, encoding="utf-8")
    roles = load_roles(path)
    assert roles == {"ceo@example.com": Scope("executive"), "data@example.com": Scope("analyst"),
                     "east.manager@example.com": Scope("manager", regions=(EAST,)),
                     "wang.wei@example.com": Scope("rep", rep_id="R1")}
    assert scope_of("EAST.MANAGER@example.COM ", roles) == Scope("manager", regions=(EAST,))
    assert scope_of("stranger@example.com", roles) is None
    assert scope_of(None, roles) is None


def test_the_documented_example_roles_file_is_valid() -> None:
    roles = load_roles(Path(__file__).resolve().parents[1] / "docs" / "roles.toml")
    assert {s.role for s in roles.values()} == {"executive", "analyst", "manager", "rep"}


@pytest.mark.parametrize(("text", "message"), [
    ('[users."a@x.com"]\nrole = "boss"', "unknown role 'boss'"),
    ('[users."a@x.com"]\nregions = ["East"]', "has no role"),
    ('[users."a@x.com"]\nrole = "manager"', "a manager needs regions"),
    ('[users."a@x.com"]\nrole = "manager"\nregions = []', "a manager needs regions"),
    ('[users."a@x.com"]\nrole = "manager"\nregions = "East"', "a manager needs regions"),
    ('[users."a@x.com"]\nrole = "rep"', "a rep needs rep_id"),
    ('[users."a@x.com"]\nrole = "rep"\nrep_id = " "', "a rep needs rep_id"),
    ('[users."a@x.com"]\nrole = "manager"\nregion = ["East"]', "unknown key 'region'"),
    ('[users."a@x.com"]\nrole = "rep"\nrep_id = "R1"\nregions = ["East"]', "regions applies only to role 'manager'"),
    ('[people."a@x.com"]\nrole = "rep"', "unknown section [people]"),
    ('[users.alice]\nrole = "executive"', "'alice' is not an email address"),
    ('[users."A@x.com"]\nrole = "analyst"\n[users."a@X.com"]\nrole = "analyst"', "listed twice"),
    ('[users]\n"a@x.com" = "executive"', "must be a table"),
])
def test_roles_file_mistakes_are_refused_with_where_and_how(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(B2BError, match="fix:") as caught:
        load_roles(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_or_broken_roles_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(B2BError, match="roles file .* does not exist") as caught:
        load_roles(tmp_path / "roles.toml")
    assert "B2BMETRICS_ROLES" in str(caught.value)
    broken = tmp_path / "broken.toml"
    broken.write_text('[users."a@x.com"\nrole = ', encoding="utf-8")
    with pytest.raises(B2BError, match="not valid TOML"):
        load_roles(broken)


def test_roles_path_is_beside_the_database_unless_the_environment_names_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from b2bmetrics.access import roles_path

    monkeypatch.delenv("B2BMETRICS_ROLES", raising=False)
    assert roles_path(tmp_path / "x.duckdb") == tmp_path.resolve() / "roles.toml"
    monkeypatch.setenv("B2BMETRICS_ROLES", str(tmp_path / "elsewhere.toml"))
    assert roles_path(tmp_path / "x.duckdb") == tmp_path / "elsewhere.toml"


def test_parse_roles_accepts_an_empty_file() -> None:
    assert parse_roles({}) == {}


# ---- the scoped backend -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def extended() -> Any:
    return make_db(extended_rows())


def _counts(con: Any) -> dict[str, int]:
    return {name: int(con.table(name).count().execute()) for name in TABLES}


# Expected rows per table, read off the fixture in the module docstring:
MANAGER_EAST_BY_ACCOUNT = {  # accounts A1, A3 (accounts.region = 东区)
    "accounts": 2, "reps": 2, "quotas": 1,          # R1 of 东区, and R2 as A3's owner; only R1's quota
    "deals": 3,                                     # D1, D2 (A1), D6 (A3)
    "deal_stage_history": 2, "deal_splits": 0,      # D1's two entries; D5's splits are on A2
    "contracts": 2, "tickets": 2, "surveys": 1, "activities": 2,  # C1, C3; T1, T3; S1; X1, X2
    "payments": 2, "deal_snapshots": 2,             # P1 (A1), P4 (A3); D1, D6
    "targets": 3,                                   # region 东区, team 东一组 (R1's), rep R1
}
MANAGER_EAST_BY_REP = {  # region_of = "rep": what 东区 reps own, so A1 only (A3's owner R2 is 西区)
    "accounts": 1, "reps": 1, "quotas": 1, "deals": 2, "deal_stage_history": 2, "deal_splits": 0,
    "contracts": 1, "tickets": 1, "surveys": 1, "activities": 1,
    "payments": 1, "deal_snapshots": 1, "targets": 3,  # P1; D1; region 东区, team 东一组, rep R1
}
REP_R1 = {
    "accounts": 1, "reps": 1, "quotas": 1,          # A1; R1 only
    "deals": 4,                                     # owns D1, D2; split on D5; referred D6
    "deal_stage_history": 3, "deal_splits": 2,      # D1 ×2 + D5; both of D5's split rows
    "contracts": 3,                                 # C1 (A1) + C2 (A2 of D5) + C3 (A3 of D6), for clawbacks
    "tickets": 1, "surveys": 1, "activities": 1,    # of A1 only
    "payments": 3,                                  # P1 (A1) + P3 (D5) + P4 (D6): collected-cash commission
    "deal_snapshots": 3,                            # D1, D5, D6
    "targets": 2,                                   # rep R1 and their team 东一组; no region row
}


@pytest.mark.parametrize(("scope", "region_of", "expected"), [
    (Scope("manager", regions=(EAST,)), "account", MANAGER_EAST_BY_ACCOUNT),
    (Scope("manager", regions=(EAST,)), "rep", MANAGER_EAST_BY_REP),
    (Scope("rep", rep_id="R1"), "account", REP_R1),
    (Scope("rep", rep_id="R1"), "rep", REP_R1),
])
def test_scoped_tables_hold_only_the_rows_of_the_scope(extended: Any, scope: Scope, region_of: str,
                                                       expected: dict[str, int]) -> None:
    assert _counts(ScopedBackend(extended, scope, region_of)) == expected


def test_a_manager_of_every_region_sees_every_row(extended: Any) -> None:
    everyone = ScopedBackend(extended, Scope("manager", regions=(EAST, WEST)))
    assert _counts(everyone) == _counts(extended)


def _ids(con: Any, name: str, *cols: str) -> list[Any]:
    rows = con.table(name).select(*cols).execute()
    cells = [[None if pd.isna(v) else v for v in r] for r in rows.itertuples(index=False)]
    return sorted((tuple(c) if len(cols) > 1 else c[0] for c in cells), key=str)


@pytest.fixture(scope="module")
def v2() -> Any:
    """The fixture plus what no restricted scope may see: a company target, and the snapshot of a
    deal that is no longer in `deals` (it cannot be placed in any scope)."""
    rows = extended_rows()
    rows["targets"].append({"level": "company", "key": None, "period": "quarter", "period_start": dt.date(2024, 1, 1),
                            "basis": "collected", "amount": 9999.0})
    rows["deal_snapshots"].append({"snapshot_date": dt.date(2024, 3, 1), "deal_id": "DX", "stage": "lead"})
    return make_db(rows)


@pytest.mark.parametrize(("scope", "region_of", "payments", "targets", "snapshots"), [
    # 东区 by accounts: A1, A3 and their deals D1, D2, D6; R1 is the region's one person
    (Scope("manager", regions=(EAST,)), "account", ["P1", "P4"],
     [("region", EAST), ("rep", "R1"), ("team", EAST_TEAM)], ["D1", "D6"]),
    # 东区 by reps: what R1 owns (A1; D1, D2)
    (Scope("manager", regions=(EAST,)), "rep", ["P1"], [("region", EAST), ("rep", "R1"), ("team", EAST_TEAM)],
     ["D1"]),
    # 西区: A2 (by accounts also its deal D5's split), people R2 and R3 of one team
    (Scope("manager", regions=(WEST,)), "account", ["P2", "P3", "P5"],
     [("region", WEST), ("rep", "R2"), ("rep", "R3"), ("team", WEST_TEAM)], ["D3", "D5"]),
    # R1: their account A1, and the payments and snapshots of their deals D1, D5 (split), D6 (referred)
    (Scope("rep", rep_id="R1"), "account", ["P1", "P3", "P4"], [("rep", "R1"), ("team", EAST_TEAM)],
     ["D1", "D5", "D6"]),
    # R3 owns no account and only the open D7: no payment, no snapshot; their team's target and their own
    (Scope("rep", rep_id="R3"), "account", [], [("rep", "R3"), ("team", WEST_TEAM)], []),
])
def test_v2_tables_hold_only_the_rows_of_the_scope(v2: Any, scope: Scope, region_of: str, payments: list[str],
                                                   targets: list[tuple[str, str]], snapshots: list[str]) -> None:
    con = ScopedBackend(v2, scope, region_of)
    assert _ids(con, "payments", "payment_id") == payments
    assert _ids(con, "targets", "level", "key") == sorted(targets, key=str)
    assert _ids(con, "deal_snapshots", "deal_id") == snapshots


def test_no_restricted_scope_sees_a_company_target_or_an_unplaceable_snapshot(v2: Any) -> None:
    everyone = ScopedBackend(v2, Scope("manager", regions=(EAST, WEST)))
    # every other row of the v2 tables, as a manager of every region sees every other table whole
    assert _ids(everyone, "payments", "payment_id") == _ids(v2, "payments", "payment_id")
    assert ("company", None) in _ids(v2, "targets", "level", "key")
    assert _ids(everyone, "targets", "level", "key") == [t for t in _ids(v2, "targets", "level", "key")
                                                         if t[0] != "company"]
    assert "DX" in _ids(v2, "deal_snapshots", "deal_id")
    assert "DX" not in _ids(everyone, "deal_snapshots", "deal_id")


def test_the_v2_tables_cannot_be_widened(v2: Any) -> None:
    rep = ScopedBackend(v2, Scope("rep", rep_id="R1"))
    t = rep.table("targets")
    # asking for the rows outside the scope by value finds nothing: they are not in the table
    assert t.filter((t.level == "company") | (t.key == "R2") | (t.level == "region")).count().execute() == 0
    p = rep.table("payments")
    assert p.filter(p.account_id == "A2").payment_id.execute().tolist() == ["P3"]  # only their split deal's
    s = rep.table("deal_snapshots")
    assert s.filter(s.deal_id.isin(["D3", "DX"])).count().execute() == 0
    for name in ("payments", "targets", "deal_snapshots"):
        with pytest.raises(AccessDenied):
            rep.table(name, database="main")  # no reading of the raw table by another path
    manager = ScopedBackend(v2, Scope("manager", regions=(EAST,)))
    t = manager.table("targets")
    assert t.filter(t.key.isin([WEST, WEST_TEAM, "R2", "R3"])).count().execute() == 0


def test_a_table_without_an_access_rule_is_refused(extended: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import b2bmetrics.access as access

    monkeypatch.setattr(access, "_BY_ACCOUNT", access._BY_ACCOUNT - {"tickets"})
    with pytest.raises(AccessDenied, match="no access rule"):
        ScopedBackend(extended, Scope("rep", rep_id="R1")).table("tickets")


def test_all_data_roles_read_the_backend_itself(extended: Any) -> None:
    assert scoped(extended, Scope.everything()) is extended
    assert scoped(extended, Scope("analyst")) is extended
    with pytest.raises(ValueError):
        ScopedBackend(extended, Scope("executive"))


@pytest.mark.parametrize("name", ["raw_sql", "sql", "execute", "con", "read_csv", "create_table", "insert",
                                  "drop_table", "attach"])
def test_scoped_backend_offers_no_way_around_the_scope(extended: Any, name: str) -> None:
    con = ScopedBackend(extended, Scope("rep", rep_id="R1"))
    with pytest.raises(AccessDenied, match=name):
        getattr(con, name)
    assert not hasattr(con, name)


def test_scoped_backend_reads_only_canonical_tables(extended: Any) -> None:
    con = ScopedBackend(extended, Scope("rep", rep_id="R1"))
    with pytest.raises(AccessDenied, match="'loads'"):
        con.table("loads")
    assert set(con.list_tables()) == set(TABLES) | {"snapshot_days"}  # the snapshot days are storage, read whole
    assert con.name == "duckdb"


# ---- metrics through the scoped backend ---------------------------------------------------------

@pytest.mark.parametrize("region_of", ["account", "rep"])
def test_kpis_of_a_manager_equal_the_region_filter(region_of: str) -> None:
    """On the pages' fixture (nobody is credited outside their region) a 东区 manager's KPIs are
    exactly the whole data's under the 东区 filter; only data quality differs (it counts the rows in scope)."""
    base = make_db(fixture_rows())
    cfg = Config(region_of=region_of)
    scope = Scope("manager", regions=(EAST,))
    mine = compute_kpis(ScopedBackend(base, scope, region_of), cfg, scope.narrow(Q1))
    filtered = compute_kpis(base, cfg, Filters(Q1.date_from, Q1.date_to, regions=(EAST,)))
    assert mine.pop("quality")["tables"]["deals"]["rows"] == 2  # D1, D2
    filtered.pop("quality")
    assert mine == filtered
    assert mine["funnel"]["won_amount"] == 100.0 and mine["funnel"]["win_rate"] == 0.5  # D1 won, D2 lost


def test_a_filter_outside_the_scope_matches_nothing() -> None:
    base = make_db(fixture_rows())
    scope = Scope("manager", regions=(EAST,))
    west = Filters(Q1.date_from, Q1.date_to, regions=(WEST,))
    assert scope.narrow(west) == west  # kept as asked, so it cannot fall back to "all regions"
    kpis = compute_kpis(ScopedBackend(base, scope), Config(), scope.narrow(west))
    # the whole data has 西区's D3 (won 300), C2 and S2: none of it may show
    assert kpis["funnel"]["won_deals"] == 0 and kpis["funnel"]["won_amount"] == 0.0
    assert kpis["funnel"]["win_rate"] is None
    assert all(stage["entered"] == 0 for stage in kpis["funnel"]["stages"])
    assert kpis["churn"]["active_accounts_start"] == 0 and kpis["churn"]["mrr_end"] == 0.0
    assert kpis["satisfaction"]["nps_responses"] == 0 and kpis["satisfaction"]["csat_responses"] == 0
    assert kpis["commission"] == {"total_payout": 0.0, "rows": []}
    by_rep = compute_kpis(ScopedBackend(base, scope), Config(), Filters(Q1.date_from, Q1.date_to, reps=("R2",)))
    assert by_rep["funnel"]["won_deals"] == 0 and by_rep["commission"]["rows"] == []


def test_a_reps_commission_is_complete_and_only_theirs(extended: Any) -> None:
    """R1, Q1 2024: credited D1 100 + half of D5 200 = 200 of a 1000 quota (20 %, first band 4 %):
    commission 8; referral 2 % of D6's 100 = 2; no clawback (every account is still active): payout 10."""
    scope = Scope("rep", rep_id="R1")
    cfg = Config()
    mine = commission.summary(ScopedBackend(extended, scope), cfg, scope.narrow(Q1), _q1(extended))
    theirs = commission.summary(extended, cfg, Filters(Q1.date_from, Q1.date_to, reps=("R1",)), _q1(extended))
    assert mine == theirs
    [row] = mine["rows"]
    assert row["rep_id"] == "R1" and row["credited_revenue"] == 200.0
    assert row["commission"] == pytest.approx(8.0) and row["referral_commission"] == pytest.approx(2.0)
    assert mine["total_payout"] == pytest.approx(10.0)


def test_a_reps_statement_has_their_deals_with_the_same_numbers(extended: Any) -> None:
    cfg = Config()
    mine = commission.statement(ScopedBackend(extended, Scope("rep", rep_id="R1")), cfg, "R1", dt.date(2024, 1, 1))
    full = commission.statement(extended, cfg, "R1", dt.date(2024, 1, 1))
    numbers = ["line", "deal_id", "credited", "commission", "referral", "clawback"]
    assert mine[numbers].equals(full[numbers])
    assert sorted(mine["deal_id"]) == ["D1", "D5", "D6"]
    # the split deal's account (A2) is not theirs: its name stays out of their statement
    assert mine.loc[mine["deal_id"] == "D5", "account_name"].isna().all()


def test_page_metrics_run_unchanged_on_a_scoped_backend(extended: Any) -> None:
    from b2bmetrics.metrics import accounts, funnel, satisfaction

    con = ScopedBackend(extended, Scope("manager", regions=(EAST,)))
    filters, period = Filters(), _q1(extended)
    assert sorted(accounts.account_list(con, Config(), filters)["account_id"]) == ["A1", "A3"]
    assert funnel.breakdown(con, Config(), filters, period, by="region")["group"].tolist() == [EAST]
    assert satisfaction.summary(con, Config(), filters, period)["tickets"] == 2  # T1, T3
    assert accounts.profile(con, "A2")["account"].empty  # another region's account, asked by id


def _q1(con: Any) -> Any:
    from b2bmetrics.filters import resolve_period

    return resolve_period(con, Q1)


# ---- every role through the dashboard ----------------------------------------------------------

MANAGER, REP = "east.manager@example.com", "wang.wei@example.com"
EVERYONE = {"Won revenue": "¥700", "Win rate": "80.0%"}  # won D1 100 + D3 300 + D5 200 + D6 100; 4 won / 5 closed
EAST_ONLY = {"Won revenue": "¥200", "Win rate": "66.7%"}  # A1, A3: won D1 100 + D6 100; 2 won / 3 closed
R1_ONLY = {"Won revenue": "¥100", "Win rate": "50.0%"}    # R1's own deals: D1 won 100, D2 lost
# rows of 西区's account A2 (its deals, contract, ticket, survey) and its people R3; R2 李娜 may show,
# as the owner of 东区's A3
WEST_ROWS = ("A2", "乙公司", "D3", "D4", "D5", "D7", "C2", "T2", "S2", "R3", "张敏")
OTHER_PEOPLES_ROWS = ("R2", "李娜", "R3", "张敏", "D3", "D4", "D7")  # what a rep R1 must not see


@pytest.fixture(scope="module")
def access_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("access")
    roles = folder / "roles.toml"
    roles.write_text(ROLES_TOML, encoding="utf-8")
    return write_db(folder / "access.duckdb", extended_rows()), roles


@pytest.fixture
def signed(access_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A function: email (None = signed out) -> the dashboard as that user, run once."""
    db, roles = access_db

    def open_as(email: str | None, **query: str) -> Any:
        at = sign_in(dashboard_app(db, monkeypatch, roles=roles), email)
        at.query_params.update(query)
        return at.run()
    return open_as


def _shown(at: Any) -> dict[str, str]:
    assert not at.exception, [e.value for e in at.exception]
    return {m.label: m.value for m in at.metric}


def _pick(shown: dict[str, str], expected: dict[str, str]) -> dict[str, str]:
    return {k: shown.get(k, "") for k in expected}


def _downloaded(downloads: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, make in downloads.items():
        data = make()
        out[name] = data.decode("utf-8-sig") if isinstance(data, bytes) else str(data)
    return out


def test_local_mode_says_so_and_offers_everything(access_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("B2BMETRICS_ROLES", str(access_db[1]))  # a roles file alone turns nothing on
    at = dashboard_app(access_db[0], monkeypatch).run()
    assert _pick(_shown(at), EVERYONE) == EVERYONE
    assert any("Single-user local mode" in c.value for c in at.sidebar.caption)
    assert not [b for b in at.button if b.key == "auth_sign_out"]
    at.switch_page("app_pages/data.py").run()
    assert not at.exception and len(at.get("file_uploader")) == 1


def test_signed_out_sees_a_sign_in_button_and_nothing_else(signed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed(None, region=EAST)
    assert [t.value for t in at.title] == ["Sign in"]
    assert [b.key for b in at.button] == ["auth_sign_in"]
    assert not at.metric and not at.multiselect and not at.dataframe
    # without Authlib st.login cannot start: the page says so instead of failing
    monkeypatch.setattr("streamlit.user_info.is_authlib_installed", lambda: False)
    at.button(key="auth_sign_in").click().run()
    assert any("Sign-in could not start" in e.value for e in at.error)
    assert not at.metric


def test_an_unknown_user_sees_only_a_message(signed: Any) -> None:
    at = signed("stranger@example.com", region=WEST)
    assert any("stranger@example.com is signed in but has no role" in w.value for w in at.warning)
    assert [b.key for b in at.button] == ["auth_sign_out"]
    assert not at.metric and not at.multiselect and not at.dataframe


def test_a_broken_roles_file_lets_nobody_in(access_db: tuple[Path, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text('[users."ceo@example.com"]\nrole = "ceo"\n', encoding="utf-8")
    at = sign_in(dashboard_app(access_db[0], monkeypatch, roles=roles), "ceo@example.com").run()
    assert any("unknown role 'ceo'" in e.value for e in at.error)
    assert not at.metric and not at.multiselect


@pytest.mark.parametrize("email", ["ceo@example.com", "DATA@example.com"])
def test_executive_and_analyst_see_all_data_and_the_data_page(signed: Any, email: str) -> None:
    at = signed(email)
    assert _pick(_shown(at), EVERYONE) == EVERYONE
    assert at.multiselect(key="region").options == [EAST, WEST]
    assert any(f"Signed in as {email}" in c.value for c in at.sidebar.caption)
    at.switch_page("app_pages/data.py").run()
    assert not at.exception and not at.error and len(at.get("file_uploader")) == 1


def test_a_manager_sees_their_regions_only(signed: Any) -> None:
    at = signed(MANAGER)
    assert _pick(_shown(at), EAST_ONLY) == EAST_ONLY
    assert at.multiselect(key="region").options == [EAST]
    # R1 of 东区, and R2 who owns 东区's A3; never R3, who works only on 西区's A2
    assert at.multiselect(key="rep").options == ["王伟 (R1)", "李娜 (R2)"]
    assert any("manager of 东区" in c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/data.py")  # not in a manager's navigation


def test_a_manager_cannot_widen_the_scope_through_the_url(signed: Any) -> None:
    at = signed(MANAGER, region=WEST, rep="R3")
    assert _pick(_shown(at), EAST_ONLY) == EAST_ONLY  # the widget drops values it does not offer
    assert at.multiselect(key="region").value == [] and at.multiselect(key="rep").value == []


def test_a_manager_cannot_widen_the_scope_through_session_state(signed: Any) -> None:
    at = signed(MANAGER)
    at.session_state["region"] = [WEST]
    at.session_state["b2b_filters"] = Filters(regions=(WEST,))
    at.session_state["acc_selected"] = "A2"
    at.run()
    assert _pick(_shown(at), EAST_ONLY) == EAST_ONLY
    at.switch_page("app_pages/accounts.py").run()
    assert not at.exception
    assert at.selectbox(key="acc_pick").options[0].startswith("A")  # a list of their accounts only
    assert all(not o.startswith("A2") for o in at.selectbox(key="acc_pick").options)


def test_one_users_cached_results_never_reach_another(signed: Any) -> None:
    at = signed("ceo@example.com")
    assert _pick(_shown(at), EVERYONE) == EVERYONE
    sign_in(at, MANAGER).run()  # same session, same data version, same filters
    assert _pick(_shown(at), EAST_ONLY) == EAST_ONLY
    assert at.multiselect(key="region").options == [EAST]  # a filter-free cached query, keyed on the scope alone
    sign_in(at, "ceo@example.com").run()
    assert _pick(_shown(at), EVERYONE) == EVERYONE
    assert at.multiselect(key="region").options == [EAST, WEST]


@pytest.mark.parametrize("page", ["app_pages/overview.py", "app_pages/funnel.py", "app_pages/churn.py",
                                  "app_pages/satisfaction.py", "app_pages/commission.py", "app_pages/accounts.py"])
def test_a_managers_downloads_hold_only_their_regions_rows(signed: Any, downloads: dict[str, Any], page: str) -> None:
    at = signed(MANAGER)
    downloads.clear()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    files = _downloaded(downloads)
    assert files, f"{page} offers no download"
    for name, text in files.items():
        leaked = [m for m in WEST_ROWS if m in text]
        assert not leaked, f"{page} {name} holds {leaked}"
    if page == "app_pages/accounts.py":
        assert "A1" in files["accounts.csv"] and "A3" in files["accounts.csv"]
        assert "A3" not in files["accounts_without_owner.csv"]  # its owner R2 is known, though from 西区


def test_the_data_page_refuses_a_manager_who_reaches_it(access_db: tuple[Path, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened as its own script, not through dashboard.py's navigation: the page itself refuses."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import AUTH_SECRETS, ROOT

    db, roles = access_db
    monkeypatch.setenv("B2BMETRICS_DB", str(db))
    monkeypatch.setenv("B2BMETRICS_ROLES", str(roles))
    at = sign_in(AppTest.from_file(str(ROOT / "app_pages" / "data.py"), default_timeout=60), MANAGER)
    at.secrets.update(AUTH_SECRETS)
    at.run()
    assert any("The Data page is for analysts and executives" in e.value for e in at.error)
    assert not at.get("file_uploader") and not at.get("download_button")


def test_a_rep_sees_their_own_deals_and_statement(signed: Any, downloads: dict[str, Any]) -> None:
    at = signed(REP, rep="R2")
    assert _pick(_shown(at), R1_ONLY) == R1_ONLY
    assert at.multiselect(key="rep").options == ["王伟 (R1)"]
    downloads.clear()
    at.switch_page("app_pages/commission.py").run()
    shown = _shown(at)
    assert shown["Commission payout"] == "¥10"  # see test_a_reps_commission_is_complete_and_only_theirs
    assert at.selectbox(key="comm_person").options == ["王伟 (R1)"]
    files = _downloaded(downloads)
    assert files["commission_leaderboard.csv"].count("\n") == 2  # the header and R1
    statement = next(text for name, text in files.items() if name.startswith("statement_R1"))
    assert all(d in statement for d in ("D1", "D5", "D6"))  # owned, split, referred
    for name, text in files.items():
        leaked = [m for m in OTHER_PEOPLES_ROWS if m in text]
        assert not leaked, f"{name} holds {leaked}"
    at.switch_page("app_pages/accounts.py").run()
    assert not at.exception
    assert [o.split(" ")[0] for o in at.selectbox(key="acc_pick").options] == ["A1"]


def test_a_manager_choosing_another_region_sees_no_payout_of_its_people() -> None:
    """N1 (北区) owns a deal on an East account, so East's scoped `reps` lists N1 by name; choosing
    North must still show none of N1's commission: 1000 won at quota 0 pays 12 % = 120 in the whole data."""
    con = make_db({"reps": [{"rep_id": "E1", "region": EAST}, {"rep_id": "N1", "region": "北区"}],
                   "accounts": [{"account_id": "A1", "region": EAST, "owner_rep_id": "N1"}],
                   "deals": [{"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1",
                              "owner_rep_id": "N1", "amount": 1000.0, "created_at": dt.datetime(2024, 1, 5),
                              "closed_at": dt.datetime(2024, 2, 1)}]})
    north = Filters(Q1.date_from, Q1.date_to, regions=("北区",))
    assert compute_kpis(con, Config(), north)["commission"]["total_payout"] == pytest.approx(120.0)
    scope = Scope("manager", regions=(EAST,))
    scoped_con = ScopedBackend(con, scope)
    assert compute_kpis(scoped_con, Config(), scope.narrow(north))["commission"] == {"total_payout": 0.0, "rows": []}
    # the owner keeps their name beside the East account, not their region
    reps = scoped_con.table("reps").execute().set_index("rep_id")
    assert reps.loc["N1", "region"] is None or reps["region"].isna()["N1"]
