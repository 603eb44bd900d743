"""Reading exports: CRM header styles, mapping files, table detection, encodings, delimiters,
workbooks, Parquet, and the files ingest must refuse (CONTRACT §2)."""

from __future__ import annotations

import codecs
import datetime as dt
import os
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from b2bmetrics.config import Config
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import (
    Mapping,
    ingest,
    load_mapping_file,
    plan_files,
    preview_rejects,
    save_mapping_file,
)
from b2bmetrics.ingest.map import table_from_name
from b2bmetrics.store import Store
from tests.conftest import query

DATA = Path(__file__).resolve().parent / "data"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def refusal(paths: list[Path], store: Store | None = None, **kw: Any) -> str:
    store = store or Store.at(paths[0].parent / "db.duckdb")
    with pytest.raises(B2BError) as info:
        ingest(store, paths, Config(), **kw)
    return str(info.value)


# ---- header mapping per CRM style ------------------------------------------------------------------

CRM_STYLES = {
    "canonical": (
        "deal_id,stage,account_id,owner_rep_id,amount,created_at,closed_at,status,referrer_id,source",
        {"deal_id": "deal_id", "stage": "stage", "account_id": "account_id", "owner_rep_id": "owner_rep_id",
         "amount": "amount", "created_at": "created_at", "closed_at": "closed_at", "status": "status",
         "referrer_id": "referrer_id", "source": "source"}, ()),
    "salesforce": (
        "Opportunity ID,Opportunity Name,Account ID,Account Name,Opportunity Owner,Amount,Created Date,Close Date,"
        "Stage,Lead Source",
        {"deal_id": "Opportunity ID", "account_id": "Account ID", "owner_rep_id": "Opportunity Owner",
         "amount": "Amount", "created_at": "Created Date", "closed_at": "Close Date", "stage": "Stage",
         "source": "Lead Source"}, ("Opportunity Name", "Account Name")),
    "hubspot": (
        "Record ID,Deal Name,Associated Company,Deal owner,Amount,Create Date,Close Date,Deal Stage,Original Source",
        {"deal_id": "Record ID", "account_id": "Associated Company", "owner_rep_id": "Deal owner", "amount": "Amount",
         "created_at": "Create Date", "closed_at": "Close Date", "stage": "Deal Stage", "source": "Original Source"},
        ("Deal Name",)),
    "pipedrive": (
        "Deal - ID,Deal - Title,Deal - Organization,Deal - Owner,Deal - Value,Deal - Stage,Deal - Deal created,"
        "Deal - Won time,Deal - Status",
        {"deal_id": "Deal - ID", "account_id": "Deal - Organization", "owner_rep_id": "Deal - Owner",
         "amount": "Deal - Value", "stage": "Deal - Stage", "created_at": "Deal - Deal created",
         "closed_at": "Deal - Won time", "status": "Deal - Status"}, ("Deal - Title",)),
    "chinese": (
        "商机编号,商机名称,客户编号,负责人,金额,销售阶段,创建时间,成交日期,状态,推荐人,来源",
        {"deal_id": "商机编号", "account_id": "客户编号", "owner_rep_id": "负责人", "amount": "金额",
         "stage": "销售阶段", "created_at": "创建时间", "closed_at": "成交日期", "status": "状态",
         "referrer_id": "推荐人", "source": "来源"}, ("商机名称",)),
    "shouting": (
        "DEAL-ID, Stage ,Account_Id,AMOUNT",
        {"deal_id": "DEAL-ID", "stage": "Stage", "account_id": "Account_Id", "amount": "AMOUNT"}, ()),
}


@pytest.mark.parametrize("style", list(CRM_STYLES))
def test_header_mapping_per_crm_style(tmp_path: Path, style: str) -> None:
    header, expected, unmapped = CRM_STYLES[style]
    body = ",".join(["x"] * len(header.split(",")))
    path = write(tmp_path / "export.csv", header + "\n" + body + "\n")
    [plan] = plan_files([path], Config(), table="deals")
    assert plan.table == "deals" and plan.table_reason == "--table"
    assert plan.mapping == expected
    assert plan.unmapped_headers == unmapped


def test_mapping_file_overrides_and_the_rest_maps_automatically(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "db.duckdb")
    [plan] = plan_files([DATA / "pipeline_export.csv"], Config(), mapping=load_mapping_file(DATA / "deals_map.toml"))
    assert plan.table == "deals" and plan.table_reason == "mapping file"
    assert plan.unmapped_headers == ("notes",)
    [res] = ingest(store, [DATA / "pipeline_export.csv"], Config(), mapping_file=DATA / "deals_map.toml")
    assert (res.table, res.rows, res.rejected) == ("deals", 3, 0)
    assert query(store, "SELECT deal_id, account_id, owner_rep_id, stage, status, amount, created_at, closed_at "
                        "FROM deals ORDER BY 1") == [
        ("P-001", "A001", "R01", "lead", "open", 12000.0, dt.datetime(2024, 1, 5), None),
        ("P-002", "A002", "R02", "won", "won", 30500.0, dt.datetime(2024, 1, 9), dt.datetime(2024, 3, 1)),
        ("P-003", "A001", "R01", "lost", "lost", None, dt.datetime(2024, 2, 11), dt.datetime(2024, 2, 28))]
    # a partial mapping: only the odd header is named; the canonical ones still map themselves
    path = write(tmp_path / "x.csv", "deal_id,phase,amount\nD1,won,5\n")
    [plan] = plan_files([path], Config(), mapping=Mapping("deals", {"stage": "phase"}))
    assert plan.mapping == {"deal_id": "deal_id", "stage": "phase", "amount": "amount"}
    # a plain dict works as a mapping too
    [plan] = plan_files([path], Config(), table="deals", mapping={"stage": "phase"})
    assert plan.mapping["stage"] == "phase"


def test_mapping_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    save_mapping_file(path, "accounts", {"account_id": "客户 \"编号\"", "account_name": "name\\x"})
    m = load_mapping_file(path)
    assert (m.table, m.columns) == ("accounts", {"account_id": "客户 \"编号\"", "account_name": "name\\x"})


@pytest.mark.parametrize(("toml", "needle"), [
    ('table = "deals"\n[columns]\ndeal_idd = "x"\n', "deals has no column 'deal_idd'"),
    ('table = "dealz"\n', "is not a canonical table"),
    ('table = "deals"\n[columns\n', "not valid TOML"),
    ('table = "deals"\n[columns]\ndeal_id = "x"\nstage = "x"\n', "header 'x' is given for several columns"),
    ('table = "deals"\nextra = 1\n', "unknown key 'extra'"),
])
def test_bad_mapping_files_are_refused(tmp_path: Path, toml: str, needle: str) -> None:
    path = write(tmp_path / "m.toml", toml)
    with pytest.raises(B2BError, match="m.toml") as info:
        load_mapping_file(path)
    assert needle in str(info.value)


def test_mapping_naming_a_header_the_file_lacks(tmp_path: Path) -> None:
    path = write(tmp_path / "deals.csv", "deal_id,phase\nD1,lead\n")
    msg = refusal([path], mapping=Mapping("deals", {"stage": "phaze"}))
    assert "maps stage to header 'phaze', which the file does not have" in msg and "'phase'" in msg


def test_missing_required_column_names_it_and_the_closest_headers(tmp_path: Path) -> None:
    path = write(tmp_path / "deals.csv", "deal_id,stge,amount\nD1,lead,5\n")
    msg = refusal([path])
    assert "required column stage of table deals is missing" in msg
    assert "closest headers found: 'stge'" in msg and "--mapping" in msg


# ---- table detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "table"), [
    ("salesforce_opportunities", "deals"),
    ("客户_gbk", "accounts"),
    ("deal_stage_history", "deal_stage_history"),
    ("DealStageHistory_2024", "deal_stage_history"),
    ("deals_missing_stage", "deals"),
    ("hubspot-deals (3)", "deals"),
    ("deal_splits", "deal_splits"),
    ("surveys_nps_out_of_scale", "surveys"),
    ("商机", "deals"),
    ("员工名单", "reps"),
    ("Reps", "reps"),
    ("report", None),  # "rep" must be a whole word
    ("export", None),
    # (v2) the names CONTRACT §2 lists, English and Chinese, whole or a part between _ - space or .
    ("客户", "accounts"),
    ("销售人员", "reps"),
    ("员工", "reps"),
    ("opportunities", "deals"),
    ("subscriptions_2024", "contracts"),
    ("合同", "contracts"),
    ("工单", "tickets"),
    ("回访", "surveys"),
    ("满意度", "surveys"),
    ("跟进记录", "activities"),
    ("payments_overpaid", "payments"),
    ("回款", "payments"),
    ("回款计划_gbk", "payments"),
    ("crm.payments.2024", "payments"),
    ("targets", "targets"),
    ("业绩目标", "targets"),
    ("fy25 targets", "targets"),
    ("quotas_2024", "quotas"),
    ("deal_snapshots", "deal_snapshots"),
    ("商机快照", "deal_snapshots"),
    ("deals_snapshot", "deals"),  # an export of deals taken on a day: the deals table
])
def test_table_from_file_or_sheet_name(name: str, table: str | None) -> None:
    found = table_from_name(name)
    assert (found[0] if found else None) == table


def test_table_from_header_fingerprint(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "Deal ID,New Stage,Changed At\nD1,lead,2024-01-01\n")
    [plan] = plan_files([path], Config())
    assert (plan.table, plan.table_reason) == ("deal_stage_history", "header fingerprint")
    path = write(tmp_path / "export2.csv", "response_id,account_id,submitted_at,kind,score\nS1,A1,2024-01-01,nps,9\n")
    assert plan_files([path], Config())[0].table == "surveys"


@pytest.mark.parametrize(("header", "table"), [
    ("account_id,deal_id,stage,amount", "deals"),  # accounts gives way to deals (which maps account_id)
    ("Deal ID,Stage,Entered At", "deal_stage_history"),  # deals gives way to the stage history
    ("snapshot_date,deal_id,stage,amount", "deal_snapshots"),  # deals gives way to the snapshots
    ("Opportunity ID,Account ID,Owner ID,Stage", "deals"),  # reps (Owner ID) and accounts give way
    ("payment_id,account_id,deal_id,paid_at,amount_paid,rep_id", "payments"),
    ("level,key,period,period_start,basis,amount", "targets"),
    ("rep_id,period_start,quota_amount", "quotas"),
    ("ticket_id,account_id,opened_at,assignee_id", "tickets"),
    ("account_id,account_name", "accounts"),
])
def test_table_from_headers_when_exactly_one_is_left(tmp_path: Path, header: str, table: str) -> None:
    path = write(tmp_path / "export.csv", header + "\n" + ",".join("x" for _ in header.split(",")) + "\n")
    [plan] = plan_files([path], Config())
    assert (plan.table, plan.table_reason) == (table, "header fingerprint")


def test_headers_fitting_several_tables_are_refused_with_the_candidates(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "account_id,rep_id\nA1,R1\n")
    msg = refusal([path])
    assert ("export.csv: which table is ambiguous: its headers ('account_id', 'rep_id') fit 2 tables and neither "
            "its name nor --table says which: reps (required columns found: rep_id; missing: none); "
            "accounts (required columns found: account_id; missing: none)") in msg
    assert "fix: pass --table with reps or accounts, or --mapping" in msg and "name the file after its table" in msg
    # quotas takes rep_id (reps gives way to it), but nothing takes account_id: quotas or accounts
    path = write(tmp_path / "export.csv", "rep_id,period_start,quota_amount,account_id\nR1,2024-01-01,5,A1\n")
    msg = refusal([path])
    assert "fit 2 tables" in msg and "accounts (required columns found: account_id; missing: none); quotas " \
        "(required columns found: rep_id, period_start, quota_amount; missing: none)" in msg
    # the fix works: --table, or the file name
    assert plan_files([path], Config(), table="quotas")[0].table == "quotas"
    assert plan_files([write(tmp_path / "quotas.csv", "rep_id,period_start,quota_amount,account_id\nR1,2024-01-01,5,A1\n")],
                      Config())[0].table == "quotas"


def test_headers_fitting_no_table_name_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "payment_id,paid_at\nP1,2024-01-01\n")
    msg = refusal([path])
    assert "export.csv: cannot tell which table this is" in msg
    assert "closest: payments (required columns found: payment_id; missing: account_id)" in msg


@pytest.mark.parametrize(("name", "text", "told"), [
    ("deals.csv", "", "deals.csv (table deals, from its file name): the file is empty"),
    ("deals.csv", "deal_id,stage\nD1,lead,5\n", "deals.csv (table deals, from its file name): line 2 has 3 fields"),
    ("deals.csv", "deal_id,stage\n", "deals.csv (table deals, from its file name): has a header line but no data"),
    ("deals.csv", "deal_id,amount\nD1,5\n", "deals.csv (table deals, from its file name): required column stage"),
    ("export.csv", "snapshot_date,deal_id,stage\n2024-01-01,D1,maybe\n",
     "export.csv (table deal_snapshots, from its headers): 1 row rejected"),
])
def test_every_message_about_a_file_names_the_table_it_was_taken_for(tmp_path: Path, name: str, text: str,
                                                                     told: str) -> None:
    assert told in refusal([write(tmp_path / name, text)])


def test_unknown_table_names_the_file_and_suggests_table(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "foo,bar\n1,2\n")
    msg = refusal([path])
    assert "export.csv: cannot tell which table" in msg and "--table" in msg
    msg = refusal([path], table="nope")
    assert "--table 'nope' is not a canonical table" in msg


# ---- encodings and delimiters -------------------------------------------------------------------------

ACCOUNTS_ZH = "客户编号;客户名称;区域;负责人;创建时间\nA001;北京客户有限公司;华北;R04;2023年9月21日\nA002;上海客户;华东;R05;2023年7月9日\n"


@pytest.mark.parametrize(("encoding", "bom", "expected"), [
    ("gbk", b"", "gb18030"),
    ("gb18030", b"", "gb18030"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("utf-8", b"", "utf-8"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
    ("utf-16-le", b"", "utf-16-le"),
])
def test_encodings_are_detected(tmp_path: Path, encoding: str, bom: bytes, expected: str) -> None:
    path = tmp_path / "客户.csv"
    path.write_bytes(bom + ACCOUNTS_ZH.encode(encoding))
    [plan] = plan_files([path], Config())
    assert (plan.table, plan.encoding, plan.delimiter, plan.rows) == ("accounts", expected, ";", 2)
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    assert query(store, "SELECT account_id, account_name, region, created_at FROM accounts ORDER BY 1") == [
        ("A001", "北京客户有限公司", "华北", dt.datetime(2023, 9, 21)), ("A002", "上海客户", "华东", dt.datetime(2023, 7, 9))]


def test_utf16_tab_separated(tmp_path: Path) -> None:
    text = "response_id\taccount_id\tsubmitted_at\tkind\tscore\tcomment\nS1\tA1\t2024-01-02\tcsat\t5\t很好, 谢谢\n"
    path = tmp_path / "surveys.tsv"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    assert query(store, "SELECT response_id, kind, score, comment FROM surveys") == [("S1", "csat", 5.0, "很好, 谢谢")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected_respecting_quotes(tmp_path: Path, delimiter: str) -> None:
    d = delimiter
    text = (f"account_id{d}account_name{d}region\r\n"
            f'A1{d}"Acme{d} Inc."{d}North\r\n'
            f'A2{d}"Say ""hi"""{d}\r\n'
            f'A3{d}"two\nlines"{d}South\r\n')
    path = write(tmp_path / "accounts.csv", text)
    [plan] = plan_files([path], Config())
    assert plan.delimiter == d
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    assert query(store, "SELECT account_id, account_name, region FROM accounts ORDER BY 1") == [
        ("A1", f"Acme{d} Inc.", "North"), ("A2", 'Say "hi"', None), ("A3", "two\nlines", "South")]


def test_excel_sep_line(tmp_path: Path) -> None:
    path = write(tmp_path / "reps.csv", "sep=;\nrep_id;rep_name\nR1;Ann, B.\n")
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    assert query(store, "SELECT rep_id, rep_name FROM reps") == [("R1", "Ann, B.")]


@pytest.mark.parametrize("above", ["\n", ",,,\n", "\n,,\n\n", "sep=;\n;;\n"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_blank_and_delimiter_only_lines_above_the_header(tmp_path: Path, above: str, newline: str) -> None:
    # an exported empty row above the header is not the header; rows keep their numbers after it
    d = ";" if above.startswith("sep=") else ","
    text = f"{above}deal_id{d}stage\nD1{d}lead\nD2{d}bogus\n".replace("\n", newline)
    path = write(tmp_path / "deals.csv", text)
    message = refusal([path])
    assert "row 2, column stage: value 'bogus'" in message and "'stage'" not in message
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config(), allow_rejects=True)
    assert query(store, "SELECT deal_id, stage FROM deals") == [("D1", "lead")]


def test_gbk_text_after_an_ascii_start(tmp_path: Path) -> None:
    # the first MiB is plain ASCII, GBK only further down: read the whole file as GB18030
    body = "".join(f"D{i:07d},lead,web\n" for i in range(80_000))
    path = tmp_path / "deals.csv"
    path.write_bytes(("deal_id,stage,source\n" + body + "D9999999,lead,展会\n").encode("gb18030"))
    store = Store.at(tmp_path / "db.duckdb")
    [res] = ingest(store, [path], Config())
    assert res.rows == 80_001
    assert query(store, "SELECT source FROM deals WHERE deal_id = 'D9999999'") == [("展会",)]


# ---- workbooks and Parquet ------------------------------------------------------------------------------

def make_workbook(path: Path) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    reps = wb.active
    reps.title = "Reps"
    reps.append(["rep_id", "rep_name", "hire_date"])
    reps.append(["R01", "王伟", dt.datetime(2020, 3, 1)])
    reps.append([1002, "李娜", dt.date(2021, 5, 17)])  # a numeric id cell
    deals = wb.create_sheet("商机")
    deals.append(["商机导出 2024-06-30"])  # a title line above the header
    deals.append(["商机编号", "负责人", "金额", "销售阶段", "创建时间"])
    deals.append(["D1", "王伟", 12345.5, "赢单", 45383])  # 45383 = Excel serial for 2024-04-01
    deals.append([None, None, None, None, None])  # an empty row is not a record
    deals.append(["D2", "1002", "¥2,000", "proposal", "2024/4/2"])
    wb.create_sheet("Sheet3")  # empty: left out
    hidden = wb.create_sheet("lists")
    hidden.append(["whatever", "helper"])
    hidden.sheet_state = "hidden"
    wb.save(path)
    return path


def test_workbook_every_sheet_is_a_table(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "crm.xlsx")
    plans = plan_files([path], Config())
    assert [(p.source, p.sheet, p.table, p.table_reason, p.rows) for p in plans] == [
        ("crm.xlsx[Reps]", "Reps", "reps", "sheet name", 2),
        ("crm.xlsx[商机]", "商机", "deals", "sheet name", 2)]
    store = Store.at(tmp_path / "db.duckdb")
    results = ingest(store, [path], Config())
    assert [(r.source, r.table, r.rows) for r in results] == [("crm.xlsx[Reps]", "reps", 2), ("crm.xlsx[商机]", "deals", 2)]
    assert query(store, "SELECT rep_id, hire_date FROM reps ORDER BY 1") == [
        ("1002", dt.date(2021, 5, 17)), ("R01", dt.date(2020, 3, 1))]
    assert query(store, "SELECT deal_id, owner_rep_id, amount, stage, status, created_at FROM deals ORDER BY 1") == [
        ("D1", "R01", 12345.5, "won", "won", dt.datetime(2024, 4, 1)),
        ("D2", "1002", 2000.0, "proposal", "open", dt.datetime(2024, 4, 2))]
    shas = query(store, "SELECT file_name, sha256 FROM loads ORDER BY load_id")
    assert [s[0] for s in shas] == ["crm.xlsx[Reps]", "crm.xlsx[商机]"] and shas[0][1] != shas[1][1]


def test_workbook_float_cells_become_exact_decimals(tmp_path: Path) -> None:
    """A numeric XLSX cell arrives as a binary float: it is read as the decimal of its shortest repr
    (0.1 + 0.2 is 0.30000000000000004, stored as 0.3 after rounding to 4 places), never as the
    float's binary expansion (0.1000000000000000055511151231257827...)."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "deals"
    ws.append(["deal_id", "stage", "amount"])
    for deal_id, amount in (("D1", 1234.5600000001), ("D2", 0.1 + 0.2), ("D3", 0.1), ("D4", 12345678.9),
                            ("D5", "¥12.5万"), ("D6", "1,234.56")):
        ws.append([deal_id, "lead", amount])
    path = tmp_path / "deals.xlsx"
    wb.save(path)
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    got = query(store, "SELECT deal_id, amount FROM deals ORDER BY 1")
    assert got == [("D1", Decimal("1234.56")), ("D2", Decimal("0.3")), ("D3", Decimal("0.1")),
                   ("D4", Decimal("12345678.9")), ("D5", Decimal("125000")), ("D6", Decimal("1234.56"))]
    assert all(type(a) is Decimal for _, a in got)


def test_parquet_money_columns_read_exactly(tmp_path: Path) -> None:
    """A Parquet DOUBLE amount is read as its shortest decimal (0.1, not 0.1000000000000000055...); a
    Parquet DECIMAL one keeps its digits."""
    path = tmp_path / "contracts.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM (VALUES ('C1', 'A1', DATE '2024-01-01', 0.1::DOUBLE, 7.25::DECIMAL(10,2)),
                                                 ('C2', 'A2', DATE '2024-02-01', 1234.5600000001::DOUBLE, 1::DECIMAL(10,2)))
                         t(contract_id, account_id, start_date, mrr, other)) TO '{path}' (FORMAT parquet)""")
    con.close()
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    assert query(store, "SELECT contract_id, mrr FROM contracts ORDER BY 1") == [
        ("C1", Decimal("0.1")), ("C2", Decimal("1234.56"))]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "contracts.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM (VALUES ('C1', 'A1', DATE '2024-01-01', NULL::DATE, 1200.5),
                                                 ('C2', 'A2', DATE '2024-02-01', DATE '2024-12-31', 300.0))
                         t(contract_id, account_id, start_date, end_date, mrr)) TO '{path}' (FORMAT parquet)""")
    con.close()
    [plan] = plan_files([path], Config())
    assert (plan.table, plan.rows, plan.encoding) == ("contracts", 2, None)
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [path], Config())
    assert query(store, "SELECT * FROM contracts ORDER BY 1") == [
        ("C1", "A1", dt.date(2024, 1, 1), None, 1200.5), ("C2", "A2", dt.date(2024, 2, 1), dt.date(2024, 12, 31), 300.0)]


# ---- files that must be refused --------------------------------------------------------------------------

def test_refused_files(tmp_path: Path) -> None:
    cases: list[tuple[str, bytes, str]] = [
        ("deals.csv", b"", "the file is empty"),
        ("deals2.csv", b"\n \n", "the file is empty"),
        ("deals3.csv", b"deal_id,stage\n", "has a header line but no data rows"),
        ("deals4.csv", bytes(range(256)) * 64, "is a binary file"),
        ("deals5.xlsx", b"deal_id,stage\nD1,lead\n", "is not one (it is not a zip archive)"),
        ("deals6.xlsx", b"PK\x03\x04garbage" * 10, "not a readable XLSX workbook"),
        ("deals7.parquet", b"deal_id,stage\n", "Parquet"),
        ("deals8.csv", b"deal_id,stage\nD1,lead\nD2,lead,extra\n", "line 3 has 3 fields but the header has 2"),
        ("deals9.csv", b"deal_id,stage\nD1,\"lead\n", "line 2"),
        ("deals10.csv", "deal_id,stage\nD1,lead\n".encode("utf-32"), "UTF-32"),
    ]
    for name, data, needle in cases:
        path = tmp_path / name
        path.write_bytes(data)
        msg = refusal([path])
        assert name in msg and needle in msg, (name, msg)
        assert "fix:" in msg
    assert not (tmp_path / "db.duckdb").exists()
    assert "does not exist" in refusal([tmp_path / "missing.csv"])
    (tmp_path / "empty_dir").mkdir()
    assert "holds no CSV, XLSX or Parquet files" in refusal([tmp_path / "empty_dir"], store=Store.at(tmp_path / "x.db"))


def test_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "deals.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            block = b"0" * (1 << 20)
            for _ in range(40):  # 40 MiB of zeros deflate to about 40 KiB
                fh.write(block)
    assert os.path.getsize(path) < 1 << 20
    msg = refusal([path])
    assert "zip bomb" in msg and "deals.xlsx" in msg


def test_large_file_row_numbers_are_file_order(tmp_path: Path) -> None:
    # ~20 MB: DuckDB reads it in parallel (several buffers and threads); record numbers must still be file order
    n = 300_000
    bad = {7: "x7", 150_001: "x150001", 299_999: "x299999"}
    pad = "web,an account note that makes the rows about seventy bytes wide"
    lines = ["deal_id,stage,amount,source,comment"]
    for i in range(1, n + 1):
        lines.append(f"D{i:07d},lead,{bad.get(i, str(i % 1000))},{pad}")
    lines.append(f"D0000042,lead,1,{pad}")  # record n + 1 repeats record 42
    path = write(tmp_path / "deals.csv", "\n".join(lines) + "\n")
    store = Store.at(tmp_path / "db.duckdb")
    [res] = ingest(store, [path], Config(), allow_rejects=True)
    assert (res.rows, res.rejected) == (n + 1 - 4, 4)
    assert query(store, 'SELECT "row", "column", "value" FROM load_rejects ORDER BY "row"') == [
        (7, "amount", "x7"), (150_001, "amount", "x150001"), (299_999, "amount", "x299999"),
        (n + 1, "deal_id", "D0000042")]
    assert query(store, "SELECT reason FROM load_rejects WHERE \"column\" = 'deal_id'") == [
        ("deal_id 'D0000042' repeats row 42",)]


# ---- plans and previews --------------------------------------------------------------------------------------

def test_plan_and_preview_rejects(tmp_path: Path) -> None:
    path = write(tmp_path / "salesforce_opportunities.csv",
                 "Opportunity ID,Stage,Amount,Owner\nO1,Closed Won,-5,王伟\nO2,Maybe,10,R09\nO3,lead,1,R01\n")
    [plan] = plan_files([path], Config())
    assert (plan.table, plan.table_reason, plan.encoding, plan.delimiter, plan.rows) == (
        "deals", "file name", "utf-8", ",", 3)
    rejects = preview_rejects(plan, Config())
    assert [(r.row, r.column, r.value, r.reason) for r in rejects] == [
        (1, "amount", "-5", "amount -5 is negative"),
        (2, "stage", "Maybe", "stage 'Maybe' is not a pipeline stage or alias")]
    # with a store, people resolve against its reps (row 1 is still refused for its amount)
    store = Store.at(tmp_path / "db.duckdb")
    ingest(store, [write(tmp_path / "reps.csv", "rep_id,rep_name\nR01,王伟\n")], Config())
    assert len(preview_rejects(plan, Config(), store)) == 2
    assert not query(store, "SELECT * FROM deals")
