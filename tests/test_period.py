"""The default period (CONTRACT v2 §5 "Period"): `--to` the latest day something happened, `--from`
the 12 months ending on `--to`; through the CLI (`b2bmetrics.cli.main`) and the dashboard's picker."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from b2bmetrics.cli import main
from b2bmetrics.filters import Filters, resolve_period, twelve_months_ending, year_before
from tests.conftest import dashboard_app, make_db, write_db

D = dt.date
T = dt.datetime


def kpis(db: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["kpis", "--db", str(db), *args, "--format", "json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[-1])
    return out


# ---- the "one year back" rule ----------------------------------------------------------------


@pytest.mark.parametrize(("end", "start"), [
    (D(2025, 6, 30), D(2024, 7, 1)),    # the contract's example
    (D(2024, 2, 29), D(2023, 3, 1)),    # one year earlier is 2023-02-28 (no 29th), the day after: 1 March
    (D(2025, 2, 28), D(2024, 2, 29)),   # 2024-02-28 + 1 day: the leap day is inside
    (D(2025, 3, 1), D(2024, 3, 2)),     # 366 days back to 2024-03-01, + 1
    (D(2025, 1, 1), D(2024, 1, 2)),
    (D(2024, 12, 31), D(2024, 1, 1)),   # the calendar year 2024
])
def test_twelve_months_ending_on_a_day(end: dt.date, start: dt.date) -> None:
    assert twelve_months_ending(end) == (start, end)


def test_a_year_before_29_february_is_28_february() -> None:
    assert year_before(D(2024, 2, 29)) == D(2023, 2, 28)
    assert year_before(D(2024, 2, 28)) == D(2023, 2, 28)
    assert year_before(D(2024, 3, 1)) == D(2023, 3, 1)


# ---- a dataset whose earliest date is a hire date and latest a contract end in the future ------


def _rows() -> dict[str, list[dict[str, Any]]]:
    """Events from 2024-01-10 to 2025-06-30 (a ticket); a hire date in 2015 (the earliest date), a
    contract ending in 2030, a quota period, an expected close, a due date, a target and a snapshot
    after 2025-06-30: none of them is something that happened."""
    return {
        "reps": [{"rep_id": "R1", "rep_name": "王伟", "region": "东区", "hire_date": D(2015, 3, 1)}],
        "accounts": [{"account_id": "A1", "region": "东区", "owner_rep_id": "R1", "created_at": T(2016, 5, 1)},
                     {"account_id": "A2", "region": "东区", "owner_rep_id": "R1", "created_at": T(2016, 6, 1)}],
        "quotas": [{"rep_id": "R1", "period_start": D(2026, 1, 1), "quota_amount": 1000}],
        "deals": [{"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
                   "amount": 500, "created_at": T(2024, 1, 10), "closed_at": T(2025, 5, 20)},
                  {"deal_id": "D2", "stage": "lead", "status": "open", "account_id": "A1", "owner_rep_id": "R1",
                   "amount": 80, "created_at": T(2024, 9, 1), "expected_close_at": T(2031, 1, 1)},
                  # no created_at: in the cohort only when neither --from nor --to is given
                  {"deal_id": "D3", "stage": "lead", "status": "open", "account_id": "A1", "owner_rep_id": "R1"}],
        "contracts": [{"contract_id": "C1", "account_id": "A1", "start_date": D(2024, 3, 15),
                       "end_date": D(2030, 12, 31), "mrr": 100},
                      {"contract_id": "C2", "account_id": "A2", "start_date": D(2024, 2, 1),
                       "end_date": D(2024, 10, 1), "mrr": 40}],
        "tickets": [{"ticket_id": "T1", "account_id": "A1", "opened_at": T(2025, 6, 30, 9),
                     "first_response_at": T(2025, 7, 2, 9)}],
        "payments": [{"payment_id": "P1", "account_id": "A1", "deal_id": "D1", "due_date": D(2026, 3, 1),
                      "amount_due": 500, "paid_at": D(2025, 6, 15), "amount_paid": 200}],
        "targets": [{"level": "company", "period": "year", "period_start": D(2027, 1, 1), "basis": "booked",
                     "amount": 9000}],
        "deal_snapshots": [{"snapshot_date": D(2025, 7, 10), "deal_id": "D2", "stage": "lead", "status": "open"}],
    }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return write_db(tmp_path / "period.duckdb", _rows())


def test_default_period_is_the_12_months_to_the_latest_event(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = kpis(db, capsys)
    # the latest event is T1 opened on 2025-06-30; the 2015 hire, the 2030 contract end, the 2031
    # expected close, the 2026 due date and quota, the 2027 target and the 2025-07-10 snapshot move nothing
    assert out["period"] == {"from": "2024-07-01", "to": "2025-06-30"}
    # churn has starting accounts: A1 (C1 since 2024-03-15) and A2 (C2 until 2024-10-01) on 2024-07-01;
    # A2 is gone on 2025-06-30
    assert out["churn"]["active_accounts_start"] == 2
    assert out["churn"]["churned_accounts"] == 1
    assert out["churn"]["mrr_start"] == 140  # 100 + 40
    # cohort: D2 (created 2024-09-01) and D3 (no created_at, no dates given); D1 was created before
    assert out["funnel"]["stages"][0]["entered"] == 2
    assert out["satisfaction"]["tickets"] == 1


def test_only_to_given(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = kpis(db, capsys, "--to", "2025-03-31")
    assert out["period"] == {"from": "2024-04-01", "to": "2025-03-31"}
    # --to was given: D3 (no created_at) leaves the cohort, D2 stays
    assert out["funnel"]["stages"][0]["entered"] == 1
    assert out["satisfaction"]["tickets"] == 0  # T1 is after --to


def test_only_from_given(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = kpis(db, capsys, "--from", "2025-01-01")
    # --to takes its default, the latest event; --from is kept as given (not a year back)
    assert out["period"] == {"from": "2025-01-01", "to": "2025-06-30"}
    assert out["funnel"]["stages"][0]["entered"] == 0  # nothing created in 2025; D3 is out (--from given)
    assert out["churn"]["active_accounts_start"] == 1  # A1 only: C2 ended 2024-10-01


def test_both_given_are_kept(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kpis(db, capsys, "--from", "2015-01-01", "--to", "2031-01-01")["period"] == \
        {"from": "2015-01-01", "to": "2031-01-01"}


def test_from_after_the_latest_event_is_refused(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--db", str(db), "--from", "2025-07-01", "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "--from 2025-07-01" in err and "2025-06-30" in err and "fix:" in err
    # the latest event day itself is a one-day period
    assert kpis(db, capsys, "--from", "2025-06-30")["period"] == {"from": "2025-06-30", "to": "2025-06-30"}


def test_29_february(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows()
    rows["tickets"][0]["opened_at"] = T(2024, 2, 29, 17)
    rows["payments"] = []
    rows["deals"][0]["closed_at"] = T(2024, 2, 1)
    rows["deals"][1]["created_at"] = T(2024, 2, 10)
    rows["contracts"][0]["start_date"] = D(2023, 12, 1)
    db = write_db(tmp_path / "leap.duckdb", rows)
    # the latest event: T1 on 2024-02-29; a year earlier is 2023-02-28, the day after 2023-03-01
    assert kpis(db, capsys)["period"] == {"from": "2023-03-01", "to": "2024-02-29"}
    assert kpis(db, capsys, "--to", "2024-02-29")["period"] == {"from": "2023-03-01", "to": "2024-02-29"}
    assert kpis(db, capsys, "--to", "2025-02-28")["period"] == {"from": "2024-02-29", "to": "2025-02-28"}


# ---- data with few dates ---------------------------------------------------------------------


def test_no_event_date_ends_on_the_latest_date_of_any_kind() -> None:
    # only reps and accounts: no event, so the latest date of any kind (an account's sign-up)
    con = make_db({"reps": [{"rep_id": "R1", "hire_date": D(2015, 3, 1)}],
                   "accounts": [{"account_id": "A1", "created_at": T(2023, 8, 15, 10)}]})
    p = resolve_period(con, Filters())
    assert (p.start, p.end, p.given) == (D(2022, 8, 16), D(2023, 8, 15), False)


def test_no_date_at_all() -> None:
    con = make_db({"accounts": [{"account_id": "A1"}]})
    p = resolve_period(con, Filters())
    assert (p.start, p.end, p.empty_data) == (None, None, True)
    # --to alone still names 12 months; --from alone has no end to take
    assert resolve_period(con, Filters(date_to=D(2025, 6, 30))).start == D(2024, 7, 1)
    p = resolve_period(con, Filters(date_from=D(2025, 1, 1)))
    assert (p.start, p.end, p.empty_data, p.given) == (D(2025, 1, 1), None, True, True)


def test_period_given_refers_to_the_command_line(db: Path) -> None:
    from b2bmetrics.store import Store

    con = Store.at(db).ibis()
    assert resolve_period(con, Filters()).given is False
    assert resolve_period(con, Filters(date_to=D(2025, 6, 30))).given is True  # the default's own end
    assert resolve_period(con, Filters(date_from=D(2024, 7, 1))).given is True


# ---- the demo --------------------------------------------------------------------------------


def test_the_demo_has_churn_by_default(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    from b2bmetrics.schema import EVENT_DATES

    out = kpis(demo_db, capsys)
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        latest = max(d for table, col in EVENT_DATES
                     for (d,) in con.execute(f'SELECT max("{col}")::DATE FROM "{table}"').fetchall() if d is not None)
    finally:
        con.close()
    assert out["period"] == {"from": (year_before(latest) + dt.timedelta(days=1)).isoformat(), "to": latest.isoformat()}
    churn = out["churn"]
    assert churn["active_accounts_start"] > 0
    assert churn["mrr_start"] > 0 and churn["logo_churn_rate"] is not None


# ---- the dashboard's default view ------------------------------------------------------------


def test_the_dashboard_opens_on_the_same_12_months(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    st.cache_data.clear()
    at = dashboard_app(db, monkeypatch)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert tuple(at.date_input(key="period").value) == (D(2024, 7, 1), D(2025, 6, 30))
    # the default period is the open one, the CLI's without --from/--to
    assert at.session_state["b2b_filters"] == Filters()


def test_a_link_overrides_the_default_period(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    st.cache_data.clear()
    at = dashboard_app(db, monkeypatch)
    at.query_params["period"] = ["2024-01-01", "2024-12-31"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert tuple(at.date_input(key="period").value) == (D(2024, 1, 1), D(2024, 12, 31))
    assert at.session_state["b2b_filters"] == Filters(D(2024, 1, 1), D(2024, 12, 31))
