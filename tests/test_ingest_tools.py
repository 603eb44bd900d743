"""Exports as helpdesk and billing tools write them (CONTRACT §2 v2): their own header spellings, first
responses given as durations, and mapping files with constants and value maps.

Each file is made here with the headers the tool exports (Zendesk's ticket export, Freshdesk's
ticket export, Stripe's and Chargebee's subscription exports) and loaded with no options but the
file name's table, then the loaded values are checked one by one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import ingest, plan_files
from b2bmetrics.store import Store
from tests.conftest import query

T = dt.datetime


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_zendesk_ticket_export(tmp_path: Path) -> None:
    """Zendesk: first reply in calendar minutes becomes first_response_at; the business-hours one is not
    a moment in time and stays unmapped (reported)."""
    csv = _csv(tmp_path / "zendesk_tickets.csv",
               "Id,Organization,Created at,Solved at,Via,First reply time in minutes,"
               "First reply time in minutes within business hours,Satisfaction Score\n"
               "101,A1,2024-03-01 09:00:00,2024-03-01 12:00:00,Email,30,20,Good\n"
               "102,A1,2024-03-02 10:00:00,,Web,,,Offered\n"
               "103,A2,2024-03-03 22:15:00,2024-03-05 08:00:00,Phone,90.5,0,Bad\n")
    store = Store.at(tmp_path / "db.duckdb")
    [result] = ingest(store, [csv], Config())
    assert (result.table, result.rows, result.rejected) == ("tickets", 3, 0)
    assert result.unmapped == ("First reply time in minutes within business hours", "Satisfaction Score")
    rows = query(store, "SELECT ticket_id, account_id, opened_at, first_response_at, resolved_at, channel "
                        "FROM tickets ORDER BY 1")
    assert rows == [
        ("101", "A1", T(2024, 3, 1, 9), T(2024, 3, 1, 9, 30), T(2024, 3, 1, 12), "online"),  # 09:00 + 30 min; e-mail is online
        ("102", "A1", T(2024, 3, 2, 10), None, None, "online"),  # no reply yet: empty
        ("103", "A2", T(2024, 3, 3, 22, 15), T(2024, 3, 3, 23, 45, 30), T(2024, 3, 5, 8), "phone"),  # + 90.5 min
    ]


def test_freshdesk_ticket_export_with_hours(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "freshdesk_tickets.csv",
               "Ticket ID,Company Name,Created time,Resolved time,Source,Agent,First response time (in hrs)\n"
               "7,A1,2024-04-01 08:00:00,2024-04-02 08:00:00,Phone,,1.25\n"
               "8,A2,2024-04-01 09:00:00,,Chat,,0\n")
    store = Store.at(tmp_path / "db.duckdb")
    [result] = ingest(store, [csv], Config())
    assert (result.table, result.rows) == ("tickets", 2)
    assert query(store, "SELECT ticket_id, opened_at, first_response_at, channel FROM tickets ORDER BY 1") == [
        ("7", T(2024, 4, 1, 8), T(2024, 4, 1, 9, 15), "phone"),  # 08:00 + 1.25 h = 09:15
        ("8", T(2024, 4, 1, 9), T(2024, 4, 1, 9), "online"),  # answered at once: 0 h
    ]


def test_a_duration_that_is_not_a_number_or_negative_is_rejected(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "tickets.csv", "ticket_id,account_id,opened_at,first_response_minutes\n"
                                         "1,A1,2024-03-01 09:00,soon\n2,A1,2024-03-01 09:00,-5\n3,A1,2024-03-01 09:00,5\n")
    with pytest.raises(B2BError) as err:
        ingest(Store.at(tmp_path / "db.duckdb"), [csv], Config())
    text = str(err.value)
    assert "row 1, column first_response_at" in text and "soon (first_response_minutes: not a number of minutes)" in text
    assert "row 2, column first_response_at" in text and "before opened_at" in text  # 08:55 < 09:00
    assert "row 3" not in text


def test_a_timestamp_in_the_file_wins_over_a_duration(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "tickets.csv", "ticket_id,account_id,opened_at,first_response_at,First reply time in minutes\n"
                                         "1,A1,2024-03-01 09:00,2024-03-01 09:10,30\n")
    [plan] = plan_files([csv], Config())
    assert "first_response_minutes" not in plan.mapping and "First reply time in minutes" in plan.unmapped_headers
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [csv], Config())
    assert query(store, "SELECT first_response_at FROM tickets") == [(T(2024, 3, 1, 9, 10),)]


def test_stripe_subscription_export(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "subscriptions.csv",
               "id,Customer ID,Status,Start Date (UTC),Ended At (UTC),MRR\n"
               "sub_1,cus_A,active,2024-01-15 10:00,,99.00\n"
               "sub_2,cus_B,canceled,2023-06-01 00:00,2024-02-01 00:00,49.5\n")
    store = Store.at(tmp_path / "db.duckdb")
    [result] = ingest(store, [csv], Config())
    assert (result.table, result.rows) == ("contracts", 2)
    assert query(store, "SELECT contract_id, account_id, start_date, end_date, mrr FROM contracts ORDER BY 1") == [
        ("sub_1", "cus_A", dt.date(2024, 1, 15), None, Decimal("99.0000")),
        ("sub_2", "cus_B", dt.date(2023, 6, 1), dt.date(2024, 2, 1), Decimal("49.5000")),
    ]
    assert result.unmapped == ("Status",)


def test_chargebee_subscription_export(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "subscriptions_chargebee.csv",
               "subscriptions.id,subscriptions.customer_id,subscriptions.started_at,subscriptions.cancelled_at,"
               "subscriptions.mrr\nS1,C1,2024-02-01,,1200\nS2,C2,2023-01-01,2023-12-31,300.25\n")
    store = Store.at(tmp_path / "db.duckdb")
    [result] = ingest(store, [csv], Config())
    assert (result.table, result.rows, result.unmapped) == ("contracts", 2, ())
    assert query(store, "SELECT contract_id, account_id, end_date, mrr FROM contracts ORDER BY 1") == [
        ("S1", "C1", None, Decimal("1200.0000")), ("S2", "C2", dt.date(2023, 12, 31), Decimal("300.2500"))]


def test_billing_mrr_header_spellings(tmp_path: Path) -> None:
    for header in ("mrr_amount", "Monthly recurring revenue", "MRR"):
        csv = _csv(tmp_path / "contracts.csv", f"contract_id,account_id,start_date,{header}\nK1,A1,2024-01-01,10\n")
        [plan] = plan_files([csv], Config())
        assert plan.mapping["mrr"] == header


def test_a_mapping_with_constants_and_value_maps(tmp_path: Path) -> None:
    """The CSAT of a Zendesk ticket export as surveys: kind is a constant, the score words are mapped,
    "Offered" (asked, not answered) is empty and, as score is required, that row is a reject."""
    csv = _csv(tmp_path / "export.csv", "Id,Organization,Created at,Satisfaction Score\n"
                                        "1,A1,2024-03-01 09:00,Good\n2,A1,2024-03-02 09:00,Offered\n"
                                        "3,A2,2024-03-03 09:00, Bad \n")
    mapping = _csv(tmp_path / "csat_map.toml",
                   'table = "surveys"\n[columns]\nresponse_id = "Id"\nsubmitted_at = "Created at"\n'
                   'score = "Satisfaction Score"\n[constants]\nkind = "csat"\n'
                   '[values.score]\n"Good" = "5"\n"Bad" = "1"\n"Offered" = ""\n')
    store = Store.at(tmp_path / "db.duckdb")
    [result] = ingest(store, [csv], Config(), mapping_file=mapping, allow_rejects=True)
    assert (result.table, result.rows, result.rejected) == ("surveys", 2, 1)
    assert [(r.row, r.column, r.reason) for r in result.rejects] == [(2, "score", "score is empty but required")]
    assert query(store, "SELECT response_id, account_id, kind, score FROM surveys ORDER BY 1") == [
        ("1", "A1", "csat", 5.0), ("3", "A2", "csat", 1.0)]  # " Bad " is trimmed before it is mapped


def test_a_constant_is_checked_like_a_value_and_names_a_real_column(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "export.csv", "Id,Organization,Created at,Score\n1,A1,2024-03-01,5\n")
    bad_kind = _csv(tmp_path / "m1.toml", 'table = "surveys"\n[columns]\nresponse_id = "Id"\n'
                                          'submitted_at = "Created at"\n[constants]\nkind = "happiness"\n')
    with pytest.raises(B2BError, match="kind 'happiness' is not one of"):
        ingest(Store.at(tmp_path / "a.duckdb"), [csv], Config(), mapping_file=bad_kind)
    unknown = _csv(tmp_path / "m2.toml", 'table = "surveys"\n[constants]\nflavour = "x"\n')
    with pytest.raises(B2BError, match="surveys has no column 'flavour'"):
        ingest(Store.at(tmp_path / "b.duckdb"), [csv], Config(), mapping_file=unknown)
    wrong = _csv(tmp_path / "m3.toml", 'table = "surveys"\n[values.score]\n"Good" = 5\n')
    with pytest.raises(B2BError, match=r"\[values.COLUMN\] sections must map file values"):
        ingest(Store.at(tmp_path / "c.duckdb"), [csv], Config(), mapping_file=wrong)


def test_ids_excel_rewrote_in_scientific_notation_are_refused_with_how_to_export_again(tmp_path: Path) -> None:
    """`1.03006E+13` is what Excel saves for 10300600000001 and 10300612345678 alike."""
    csv = _csv(tmp_path / "accounts.csv", "account_id,account_name,owner_rep_id\n1.03006E+13,Acme,R1\n"
                                          "1030060000001,Beta,2E+5\nA-1E+5,Gamma,R2\n")
    with pytest.raises(B2BError) as err:
        ingest(Store.at(tmp_path / "db.duckdb"), [csv], Config())
    text = str(err.value)
    assert "row 1, column account_id: value '1.03006E+13': account_id '1.03006E+13' is a number Excel rewrote" in text
    assert "row 2, column owner_rep_id: value '2E+5'" in text  # a person's id too
    assert "row 3" not in text  # an id that only contains E+ is an id
    assert "export the file from the CRM again" in text and "Data > From Text/CSV" in text
