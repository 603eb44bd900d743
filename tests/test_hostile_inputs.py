"""Hostile and malformed input files, generated here into tmp_path (docs/ingest-edge-cases.md lists each).

Every case either is refused with a B2BError naming the file (and the row and column where one
applies) while the data already loaded stays exactly as it was (every table and `loads`), or is
accepted because a user would expect it to load, and then what it loaded is asserted (for text that
Excel would run as a formula, also every download's bytes). A case showing a known ingest bug asserts
the right behaviour and is a strict xfail with the bug as its reason (`Case.bug`). A few run
through the CLI (exit 2, no traceback) and through the functions the dashboard's Data page calls.
Then a time-bounded hypothesis fuzz: random bytes and CSV-ish text never raise anything but
B2BError, and random cell strings in date and money columns are either parsed or refused with a
reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import random
import shutil
import string
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2bmetrics import cli
from b2bmetrics.config import Config
from b2bmetrics.csv_export import table_csv
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import LoadResult, ingest, plan_files, preview_rejects
from b2bmetrics.metrics import quality
from b2bmetrics.schema import TABLES
from b2bmetrics.store import Store
from tests.conftest import query

ROOT = Path(__file__).resolve().parents[1]
CANONICAL = ROOT / "tests" / "data" / "samples" / "canonical"
DEALS_HEAD = "deal_id,stage,amount,created_at\n"
FORMULA = "=cmd|' /C calc'!A0"


# ---- the canonical dataset loaded first ---------------------------------------------------------

@pytest.fixture(scope="module")
def canonical_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = Store.at(tmp_path_factory.mktemp("hostile") / "db.duckdb")
    ingest(store, [CANONICAL], Config())
    return store.path


@pytest.fixture
def loaded(tmp_path: Path, canonical_db: Path) -> Store:
    db = tmp_path / "db" / "db.duckdb"
    db.parent.mkdir()
    shutil.copyfile(canonical_db, db)
    return Store.at(db)


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every canonical table and of `loads` / `load_rejects`, sorted."""
    con = store.read_connection()
    try:
        return {name: sorted(con.execute(f'SELECT * FROM "{name}"').fetchall(),
                             key=lambda r: tuple("" if v is None else str(v) for v in r))
                for name in [*TABLES, "loads", "load_rejects"]}
    finally:
        con.close()


# ---- file makers --------------------------------------------------------------------------------

def _bytes(name: str, data: bytes) -> Callable[[Path], list[Path]]:
    def make(d: Path) -> list[Path]:
        path = d / name
        path.write_bytes(data)
        return [path]
    return make


def _text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], list[Path]]:
    return _bytes(name, text.encode(encoding))


def _lazy(name: str, build: Callable[[], bytes]) -> Callable[[Path], list[Path]]:
    def make(d: Path) -> list[Path]:
        return _bytes(name, build())(d)
    return make


def _files(*makers: Callable[[Path], list[Path]]) -> Callable[[Path], list[Path]]:
    def make(d: Path) -> list[Path]:
        return [p for m in makers for p in m(d)]
    return make


def _wide_header() -> bytes:
    return (",".join(f"col{i}" for i in range(10_000)) + "\n" + ",".join("x" for _ in range(10_000)) + "\n").encode()


def _huge_field() -> bytes:
    return (DEALS_HEAD + "D1,lead,5,2024-01-01\n" + "D2,lead," + "9" * (10 << 20) + ",2024-01-02\n").encode()


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 << 20))
    return buf.getvalue()


def _xlsx(build: Callable[[Any], None]) -> Callable[[], bytes]:
    def make() -> bytes:
        from openpyxl import Workbook

        wb = Workbook()
        build(wb)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    return make


def _merged_and_formulas(wb: Any) -> None:
    ws = wb.active
    ws.title = "deals"
    ws.append(["deal_id", "stage", "amount"])
    ws.append(["D1", "lead", "=2*50"])
    ws.append(["D2", "proposal", 300])
    ws.append(["D3", None, 400])
    ws.merge_cells("B3:B4")  # the merged stage only lives in B3: D3's stage is empty


def _formulas_only(wb: Any) -> None:
    ws = wb.active
    ws.title = "deals"
    ws.append(["deal_id", "stage", "amount"])
    ws.append(["D1", "lead", "=2*50"])
    ws.append(["D2", "proposal", "=SUM(C2:C2)"])


def _empty_wb(wb: Any) -> None:
    pass


def _random_junk() -> bytes:
    return random.Random(1).randbytes(4096)


def _parquet_bytes(rows: int) -> Callable[[], bytes]:
    def make() -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.table({"deal_id": pa.array([f"P{i}" for i in range(rows)], pa.string()),
                                 "stage": pa.array(["lead"] * rows, pa.string())}), buf)
        return buf.getvalue()
    return make


def _xlsx_edit(build: Callable[[Any], None], edit: Callable[[dict[str, bytes]], dict[str, bytes]]) -> Callable[[], bytes]:
    """A workbook openpyxl writes, its zip entries then changed by `edit` (name -> bytes)."""
    def make() -> bytes:
        with zipfile.ZipFile(io.BytesIO(_xlsx(build)())) as zf:
            parts = {i.filename: zf.read(i) for i in zf.infolist()}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for name, data in edit(parts).items():
                out.writestr(name, data)
        return buf.getvalue()
    return make


def _deals_sheet(wb: Any) -> None:
    ws = wb.active
    ws.title = "deals"
    ws.append(["deal_id", "stage", "amount"])
    ws.append(["D1", "lead", 5])
    ws.append(["D2", "proposal", 7])


def _many_sheets(wb: Any) -> None:
    wb.remove(wb.active)
    for i in range(1, 11):
        ws = wb.create_sheet(f"deals {i}")
        ws.append(["deal_id", "stage", "amount"])
        ws.append([f"S{i}", "lead", i])


def _widest_sheet(wb: Any) -> None:
    _deals_sheet(wb)
    wb.active.cell(row=1, column=16384, value="note")  # XFD1, Excel's last column


def _hidden_sheet(wb: Any) -> None:
    _deals_sheet(wb)
    old = wb.create_sheet("deals_old")
    old.append(["deal_id", "stage", "amount"])
    old.append(["OLD1", "no such stage", -1])
    old.sheet_state = "hidden"


def _title_rows(wb: Any) -> None:
    ws = wb.active
    ws.title = "deals"
    ws.append(["Opportunity report, exported 2024-04-01 by admin"])
    ws.append([])
    ws.append(["deal_id", "stage", "amount", "created_at"])
    ws.append(["D1", "lead", 5, 45292])  # 45292 days after 1899-12-30 = 2024-01-01
    ws.append(["D2", "lead", 7, 45292.75])  # … at 18:00


def _error_cells(wb: Any) -> None:
    ws = wb.active
    ws.title = "deals"
    ws.append(["deal_id", "stage", "amount"])
    ws.append(["D1", "lead", 5])
    ws.append(["D2", "lead", "#N/A"])  # openpyxl writes a string equal to an error code as an error cell
    assert ws["C3"].data_type == "e"


def _text_formula_cell(wb: Any) -> None:
    ws = wb.active
    ws.title = "accounts"
    ws.append(["account_id", "account_name"])
    ws.append(["F1", "x"])
    ws["B2"].value = '=HYPERLINK("http://x","y")'
    ws["B2"].data_type = "s"  # a text cell that reads like a formula (Excel shows it as typed text)


def _chart_only(wb: Any) -> None:
    from openpyxl.chart import BarChart, Reference

    data = wb.active
    data.title = "data"
    chart = BarChart()
    chart.add_data(Reference(data, min_col=1, min_row=1, max_row=1))
    cs = wb.create_chartsheet("chart")
    cs.add_chart(chart)
    data.sheet_state = "hidden"  # the only worksheet is hidden and empty: what is left is a chart


def _million_row_dimension(parts: dict[str, bytes]) -> dict[str, bytes]:
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start = sheet.index("<dimension ref=\"")
    end = sheet.index("\"", start + 16)
    parts["xl/worksheets/sheet1.xml"] = (sheet[:start] + '<dimension ref="A1:C1048576' + sheet[end:]).encode()
    return parts


def _missing_shared_strings(parts: dict[str, bytes]) -> dict[str, bytes]:
    """Every text cell points into a shared-strings table (t="s", index) that the workbook does not hold."""
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    count = sheet.count('t="inlineStr"')
    for i in range(count):
        start = sheet.index('t="inlineStr"><is><t>')
        end = sheet.index("</t></is>", start) + len("</t></is>")
        sheet = sheet[:start] + f't="s"><v>{i}</v>' + sheet[end:]
    assert count == 7 and "sharedStrings" not in "".join(parts)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    return parts


def _traversal_entry(parts: dict[str, bytes]) -> dict[str, bytes]:
    parts["../../x_written_by_a_zip_entry"] = b"pwned"
    parts["/tmp/x_absolute_zip_entry"] = b"pwned"
    return parts


def _vba_project(parts: dict[str, bytes]) -> dict[str, bytes]:
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Sub AutoOpen(): Shell \"calc\": End Sub"
    return parts


def _nested_zip() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deals.csv", DEALS_OK)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("deals.zip", inner.getvalue())
    return outer.getvalue()


def _encrypted_zip() -> bytes:
    """A workbook whose zip entries are flagged encrypted (a password-protected archive): unreadable."""
    data = bytearray(_xlsx(_deals_sheet)())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + flag_at] |= 0x01  # general purpose bit 0: encrypted
            i = data.find(sig, i + 4)
    return bytes(data)


def _ole2_junk() -> bytes:
    """The first bytes of an OLE2 compound file (a legacy .xls, or an Excel file with a password), then junk."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff" + \
        random.Random(2).randbytes(4000)


def _png() -> bytes:
    import zlib

    raw = b"\x00" + b"\xff\x00\x00" * 4
    ihdr = b"\x00\x00\x00\x04\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _pdf() -> bytes:
    import zlib

    stream = zlib.compress(b"BT /F1 12 Tf 72 712 Td (deal_id,stage) Tj ET" * 20)
    return (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length " + str(len(stream)).encode()
            + b" /Filter /FlateDecode >>\nstream\n" + stream + b"\nendstream\nendobj\n%%EOF\n")


def _gzip_csv() -> bytes:
    import gzip

    return gzip.compress(DEALS_OK.encode(), mtime=0)


def _far_down_error() -> bytes:
    body = "".join(f"D{i},lead,{i},2024-01-01\n" for i in range(1, 50_000))
    return (DEALS_HEAD + body + "D50000,lead,-5,2024-01-01\n").encode()


def _blank_line_flood() -> bytes:
    return (DEALS_HEAD + "D1,lead,5,2024-01-01\n" + "\n" * 100_000 + "D2,lead,x,2024-01-02\n").encode()


def _one_line_no_newline() -> bytes:
    return ("x," * 2_500_000).encode()  # 5 MB, not a single line break


def _million_char_line() -> bytes:
    return ("account_id,account_name\nA1," + "n" * 1_000_000 + "\nA2,short\n").encode()


def _fifo(name: str) -> Callable[[Path], list[Path]]:
    def make(d: Path) -> list[Path]:
        path = d / name
        os.mkfifo(path)  # reading it would block forever: it must be refused without being opened
        return [path]
    return make


def _folder(name: str) -> Callable[[Path], list[Path]]:
    def make(d: Path) -> list[Path]:
        path = d / name
        path.mkdir()
        (path / "readme.md").write_text("not data")
        return [path]
    return make


def _same_file_twice(d: Path) -> list[Path]:
    path = _text("deals.csv", DEALS_OK)(d)[0]
    return [path, path]


# ---- checks for accepted files ------------------------------------------------------------------

Check = Callable[[Store, list[LoadResult]], None]


def rows_are(table: str, sql: str, expected: list[tuple[Any, ...]]) -> Check:
    def check(store: Store, results: list[LoadResult]) -> None:
        assert {r.table for r in results if not r.skipped} == {table}
        assert query(store, sql) == expected
    return check


def formula_is_text(store: Store, results: list[LoadResult]) -> None:
    assert query(store, "SELECT account_name FROM accounts WHERE account_id = 'F1'") == [(FORMULA,)]
    # the dashboard's CSV download escapes it: Excel shows the text instead of running it
    con = store.read_connection()
    try:
        text = table_csv(con, "accounts").decode("utf-8-sig")
    finally:
        con.close()
    assert "'" + FORMULA.replace('"', '""') in text and "\n" + FORMULA not in text and "," + FORMULA not in text


def nothing_extracted(store: Store, results: list[LoadResult]) -> None:
    assert query(store, "SELECT deal_id FROM deals ORDER BY 1") == [("D1",), ("D2",)]
    # the workbook's entries are read, never extracted: neither `../../x…` nor `/tmp/x…` was written anywhere
    for base in {Path.cwd(), store.path.parent, Path(tempfile.gettempdir())}:
        for d in (base, *base.parents):
            assert not (d / "x_written_by_a_zip_entry").exists()
    assert not Path("/tmp/x_absolute_zip_entry").exists()


def loaded_once(store: Store, results: list[LoadResult]) -> None:
    # the second copy is the table's latest load byte for byte: skipped, one row in `loads`
    assert [(r.table, r.rows, r.skipped) for r in results] == [("deals", 2, False), ("deals", 0, True)]
    assert query(store, "SELECT deal_id FROM deals ORDER BY 1") == [("D1",), ("D2",)]


def orphans_counted(store: Store, results: list[LoadResult]) -> None:
    assert [(r.table, r.rows) for r in results] == [("deal_stage_history", 2)]
    con = store.ibis()
    try:
        summary = quality.summary(con)
    finally:
        con.disconnect()
    assert summary["tables"]["deal_stage_history"]["orphans"] == 2


def _download_bytes(frame: Any) -> bytes:
    """What the dashboard's download button (ui.download.download) hands the browser for `frame`."""
    from unittest import mock

    import ui.download

    with mock.patch.object(ui.download.st, "download_button") as button:
        ui.download.download(frame, "x", "x")
    data = button.call_args.args[1]
    return data() if callable(data) else data


def injected(table: str, key_col: str, key: str, column: str, stored: str) -> Check:
    """Accepted: the cell is stored exactly as text, and every download (the table's CSV, a page's CSV
    button, the XLSX download) shows it with a leading apostrophe, never as a formula."""
    def check(store: Store, results: list[LoadResult]) -> None:
        con = store.read_connection()
        try:
            frame = con.execute(f"SELECT {key_col}, {column} FROM {table} WHERE {key_col} = ?", [key]).df()
            whole = table_csv(con, table)
        finally:
            con.close()
        for data in (whole, _download_bytes(frame)):
            assert data.startswith(codecs.BOM_UTF8)
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
            at = rows[0].index(column)
            cells = [r[at] for r in rows[1:] if r[rows[0].index(key_col)] in (key, "'" + key)]
            assert cells == ["'" + stored], (cells, data[:200])
        assert frame[column].tolist() == [stored]
        from openpyxl import load_workbook

        from ui.cash_data import xlsx_bytes

        ws = load_workbook(io.BytesIO(xlsx_bytes(frame, "x"))).active
        cell = ws.cell(row=2, column=2)
        assert cell.data_type == "s" and cell.value == "'" + stored
    return check


# ---- the corpus -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """A hostile file (or files) and what must happen: refused (needles in the message) or accepted (check)."""

    id: str
    make: Callable[[Path], list[Path]]
    needles: tuple[str, ...] = ()  # refused: the message names the file and says these
    check: Check | None = None  # accepted: what it loaded
    table: str | None = None
    bug: str | None = None  # a known ingest bug: the case asserts the right behaviour, xfail(strict) until fixed


DEALS_OK = DEALS_HEAD + "D1,lead,5,2024-01-01\nD2,proposal,7,2024-01-02\n"

CASES = [
    # truncated exports
    Case("truncated_mid_row", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2024-01-01\nD2,le"),
         ("row 2", "column stage", "'le'", "is not a pipeline stage")),
    Case("truncated_mid_quote", _text("deals.csv", DEALS_HEAD + 'D1,lead,5,2024-01-01\nD2,"propo'),
         ("line 3", "quote that is never closed")),
    Case("truncated_required_missing", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2024-01-01\nD2,"),
         ("row 2", "column stage", "stage is empty but required")),
    # ragged rows
    Case("ragged_too_many_fields", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2024-01-01,surplus\n"),
         ("line 2", "has 5 fields but the header has 4")),
    Case("ragged_too_few_fields_trailing_optional", _text("deals.csv", DEALS_HEAD + "D1,lead\nD2,proposal,7\n"),
         check=rows_are("deals", "SELECT deal_id, amount, created_at FROM deals ORDER BY 1",
                        [("D1", None, None), ("D2", 7.0, None)])),
    # encodings
    Case("utf8_then_gbk_bytes", _bytes("accounts.csv", "account_id,account_name\nA1,客户一\n".encode()
                                       + "A2,客户二\n".encode("gbk")),
         ("line 3", "is not UTF-8 text although the lines before it are", "mixes text encodings")),
    Case("gbk_chinese_headers_bad_byte", _bytes("客户.csv", "客户编号,客户名称\nA1,甲公司\n".encode("gbk")
                                                + b"A2,\xff\xfe\x81\n"),
         ("line 3", "is not valid GB18030/GBK text")),
    Case("utf16_without_bom", _bytes("deals.csv", DEALS_OK.encode("utf-16-le")),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", 5.0), ("D2", 7.0)])),
    Case("utf8_bom", _bytes("deals.csv", codecs.BOM_UTF8 + DEALS_OK.encode()),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("utf32", _bytes("deals.csv", DEALS_OK.encode("utf-32")), ("UTF-32 text is not supported",)),
    # binary
    Case("nul_bytes", _bytes("deals.csv", (DEALS_HEAD + "D1,lead,5,2024-01-01\nD2,lea\0d,7,2024-01-02\n").encode()),
         ("is a binary file",)),
    Case("binary_junk_named_csv", _lazy("deals.csv", _random_junk), ("deals.csv",)),
    Case("control_characters_in_text", _text("accounts.csv", "account_id,account_name\nA1,Acme\x07\x1b Ltd\n"),
         check=rows_are("accounts", "SELECT account_name FROM accounts", [("Acme\x07\x1b Ltd",)])),
    Case("control_characters_everywhere", _text("accounts.csv", "account_id,account_name\n"
                                                + "".join(f"A{i},\x01\x02\x03\x04\x05\n" for i in range(20))),
         ("is a binary file",)),
    # empty and near-empty
    Case("header_only", _text("deals.csv", DEALS_HEAD), ("has a header line but no data rows",)),
    Case("header_and_blank_lines", _text("deals.csv", DEALS_HEAD + "\n\n  \n"),
         ("has a header line but no data rows",)),
    Case("zero_bytes", _bytes("deals.csv", b""), ("the file is empty",)),
    Case("only_whitespace", _text("deals.csv", "  \n\t\n \r\n"), ("the file is empty",)),
    Case("bom_only", _bytes("deals.csv", codecs.BOM_UTF8), ("the file is empty",)),
    # headers
    Case("duplicate_headers", _text("deals.csv", "deal_id,stage,stage,amount\nD1,lead,won,5\n"),
         ("header 'stage' appears 2 times (columns 2, 3)",)),
    Case("empty_header_names", _text("deals.csv", "deal_id,,stage,\nD1,x,lead,y\n"),
         check=rows_are("deals", "SELECT deal_id, stage FROM deals", [("D1", "lead")])),
    Case("header_with_trailing_delimiter", _text("deals.csv", "deal_id,stage,amount,\nD1,lead,5,\nD2,won,6,\n"),
         check=rows_are("deals", "SELECT deal_id, stage, amount FROM deals ORDER BY 1",
                        [("D1", "lead", 5.0), ("D2", "won", 6.0)])),
    Case("header_of_only_delimiters", _text("deals.csv", ",,,\nD1,lead,5,\n"),
         ("has a header line but no data rows",)),
    Case("extremely_long_header_extra", _text("deals.csv", "deal_id,stage," + "x" * 100_000 + "\nD1,lead,1\n"),
         check=rows_are("deals", "SELECT deal_id FROM deals", [("D1",)])),
    Case("extremely_long_header_only", _text("export.csv", "y" * 100_000 + "\n1\n"),
         ("cannot tell which table this is",)),
    Case("ten_thousand_columns", _lazy("deals.csv", _wide_header), ("10000 fields",)),
    # quotes and line lengths
    Case("quote_never_closed", _text("deals.csv", DEALS_HEAD + 'D1,"lead,5,2024-01-01\nD2,won,6,2024-01-02\n'),
         ("quote that is never closed",)),
    Case("ten_mb_field", _lazy("deals.csv", _huge_field), ("longer than 8 MiB",)),
    # line endings
    Case("crlf_line_endings", _text("deals.csv", DEALS_OK.replace("\n", "\r\n")),
         check=rows_are("deals", "SELECT deal_id, stage, created_at::DATE::VARCHAR FROM deals ORDER BY 1",
                        [("D1", "lead", "2024-01-01"), ("D2", "proposal", "2024-01-02")])),
    Case("cr_only_line_endings", _text("deals.csv", DEALS_OK.replace("\n", "\r")),
         check=rows_are("deals", "SELECT deal_id, stage, created_at::DATE::VARCHAR FROM deals ORDER BY 1",
                        [("D1", "lead", "2024-01-01"), ("D2", "proposal", "2024-01-02")])),
    # values
    Case("formula_in_cell", _text("accounts.csv", f'account_id,account_name\nF1,"{FORMULA}"\n'),
         check=formula_is_text),
    Case("date_1900_accepted", _text("deals.csv", DEALS_HEAD + "D1,lead,5,1900-01-02\n"),
         check=rows_are("deals", "SELECT created_at::VARCHAR FROM deals", [("1900-01-02 00:00:00",)])),
    # (v2) what helpdesk and ERP exports write for "never" is empty, not a date a century back
    Case("sentinel_1900_is_empty", _text("deals.csv", DEALS_HEAD + "D1,lead,5,1900-01-01 00:00:00\n"),
         check=rows_are("deals", "SELECT deal_id, created_at FROM deals", [("D1", None)])),
    Case("sentinel_epoch_is_empty", _text("tickets.csv", "ticket_id,account_id,opened_at,resolved_at\n"
                                                          "T1,A001,2024-01-01 09:00,1970-01-01 00:00:00\n"),
         check=rows_are("tickets", "SELECT ticket_id, resolved_at FROM tickets", [("T1", None)])),
    Case("date_2199_accepted", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2199-12-31\n"),
         check=rows_are("deals", "SELECT created_at::VARCHAR FROM deals", [("2199-12-31 00:00:00",)])),
    Case("date_1899_refused", _text("deals.csv", DEALS_HEAD + "D1,lead,5,1899-12-31\n"),
         ("row 1", "column created_at", "is outside the years 1900–2199")),
    Case("contract_2200_refused", _text("contracts.csv", "contract_id,account_id,start_date,mrr\n"
                                                          "C1,A001,2024-01-01,10\nC2,A001,2200-01-01,10\n"),
         ("row 2", "column start_date", "'2200-01-01' is outside the years 1900–2199")),
    Case("scientific_amount", _text("deals.csv", DEALS_HEAD + "D1,lead,1.2e5,2024-01-01\nD2,lead,3E-1,\n"),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", Decimal("120000")), ("D2", Decimal("0.3"))])),
    Case("infinite_amount", _text("deals.csv", DEALS_HEAD + "D1,lead,1e999,2024-01-01\n"),
         ("row 1", "column amount", "'1e999' is not an amount")),
    Case("nan_amount", _text("deals.csv", DEALS_HEAD + "D1,lead,NaN,2024-01-01\n"),
         ("row 1", "column amount", "'NaN' is not an amount")),
    Case("ids_collide_across_two_files", _files(_text("deals_a.csv", DEALS_HEAD + "D1,lead,5,\nD2,lead,6,\n"),
                                                _text("deals_b.csv", DEALS_HEAD + "D3,lead,7,\nD1,won,8,\n")),
         check=rows_are("deals", "SELECT deal_id, stage, amount FROM deals ORDER BY 1",
                        [("D1", "won", 8.0), ("D2", "lead", 6.0), ("D3", "lead", 7.0)])),
    Case("history_names_unknown_deals", _text("deal_stage_history.csv", "deal_id,stage,entered_at\n"
                                              "NOPE1,lead,2024-01-01\nNOPE2,won,2024-02-01\n"),
         check=orphans_counted),
    Case("splits_not_summing_to_one", _text("deal_splits.csv", "deal_id,rep_id,share\nD0015,R08,0.6\n"
                                            "D0015,R05,0.3\n"),
         ("deal_splits.csv row 1", "column share", "sum to")),
    # workbooks
    Case("xlsx_merged_cells_and_formulas", _lazy("deals.xlsx", _xlsx(_merged_and_formulas)),
         ("deals.xlsx[deals] row 3", "column stage", "stage is empty but required")),
    Case("xlsx_formulas_without_cached_values", _lazy("deals.xlsx", _xlsx(_formulas_only)),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", None), ("D2", None)])),
    Case("zip_bomb_named_xlsx", _lazy("deals.xlsx", _zip_bomb), ("zip bomb",)),
    Case("empty_xlsx", _lazy("deals.xlsx", _xlsx(_empty_wb)), ("the workbook has no sheet with data",)),
    Case("xlsx_cut_in_half", _lazy("deals.xlsx", lambda: _xlsx(_formulas_only)()[:2000]),
         ("is not a readable",)),
    Case("xlsx_named_csv", _lazy("deals.csv", _xlsx(_formulas_only)),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("text_named_xlsx", _text("deals.xlsx", DEALS_OK), ("is named like an XLSX workbook but is not one",)),
    # parquet
    Case("parquet_that_is_csv", _text("deals.parquet", DEALS_OK), ("is named like a Parquet file",)),
    Case("parquet_truncated", _lazy("deals.parquet", lambda: _parquet_bytes(3)()[:60]), ("not a readable Parquet",)),
    Case("parquet_no_rows", _lazy("deals.parquet", _parquet_bytes(0)), ("the Parquet file has no rows",)),
    # ids
    Case("ids_with_spaces_are_one_id", _text("deals.csv", 'deal_id,stage\n"D1 ",lead\n" D1",won\n'),
         ("row 2", "column deal_id", "'D1' repeats row 1")),
    Case("quoted_field_spanning_lines", _text("accounts.csv", 'account_id,account_name\nA1,"Acme\nLtd"\nA2\n'),
         check=rows_are("accounts", "SELECT account_id, account_name FROM accounts ORDER BY 1",
                        [("A1", "Acme\nLtd"), ("A2", None)])),
    Case("unicode_ids", _text("deals.csv", "deal_id,stage\n商机-💼-1,lead\nעסקה‎-2,won\n"),
         check=rows_are("deals", "SELECT count(*) FROM deals", [(2,)])),
    # (v2) which table, never a guess; rules between the values of a row
    Case("headers_fit_two_tables", _text("export.csv", "account_id,rep_id\nA1,R1\n"),
         ("which table is ambiguous", "reps (required columns found: rep_id", "accounts (required", "--table")),
    Case("headers_fit_no_table", _text("export.csv", "foo,deal_id\n1,D1\n"),
         ("cannot tell which table", "closest: deals (required columns found: deal_id; missing: stage)")),
    Case("ticket_resolved_before_opened", _text("tickets.csv", "ticket_id,account_id,opened_at,resolved_at\n"
                                                "T9,A001,2024-03-02 10:00,2024-03-01 09:00\n"),
         ("tickets.csv (table tickets, from its file name)", "row 1", "column resolved_at",
          "is before opened_at 2024-03-02 10:00:00")),
    Case("payment_overpaid_and_half_a_pair", _text("payments.csv", "payment_id,account_id,amount_due,due_date,"
                                                   "amount_paid,paid_at\nP9,A001,10,2024-03-01,11,2024-03-01\n"
                                                   "P10,A001,,,5,\n"),
         ("row 1", "amount_paid 11.0 is more than amount_due 10.0", "row 2", "column paid_at",
          "paid_at is empty but amount_paid is given")),
    Case("payment_in_1999", _text("回款.csv", "回款编号,客户编号,实际回款日期,实际回款金额\nP9,A001,1999/12/31,5\n"),
         ("回款.csv (table payments, from its file name)", "paid_at 1999-12-31 is before 2000-01-01")),
    Case("headers_ambiguous_but_named", _text("reps_extra.csv", "account_id,rep_id\nA1,R1\n"),
         check=rows_are("reps", "SELECT rep_id FROM reps", [("R1",)])),
    # ---- (issue 17) encodings
    Case("utf16_be_with_bom", _bytes("deals.csv", codecs.BOM_UTF16_BE + DEALS_OK.encode("utf-16-be")),
         check=rows_are("deals", "SELECT deal_id, stage, amount FROM deals ORDER BY 1",
                        [("D1", "lead", 5), ("D2", "proposal", 7)])),
    Case("latin1_accents", _text("accounts.csv", "account_id,account_name,region\nA1,Café Crème SARL,Île-de-France\n"
                                                 "A2,Müller & Söhne GmbH,Bayern\n", "latin-1"),
         check=rows_are("accounts", "SELECT account_id, account_name, region FROM accounts ORDER BY 1",
                        [("A1", "Café Crème SARL", "Île-de-France"), ("A2", "Müller & Söhne GmbH", "Bayern")])),
    Case("windows1252_smart_quotes_and_euro", _text("accounts.csv", "account_id,account_name\n"
                                                    "A1,“Smart” Solutions – Europe €\nA2,Zoë’s Café\n", "cp1252"),
         check=rows_are("accounts", "SELECT account_name FROM accounts ORDER BY account_id",
                        [("“Smart” Solutions – Europe €",), ("Zoë’s Café",)])),
    Case("shift_jis_japanese", _text("accounts.csv", "account_id,account_name\nJ1,株式会社テスト\nJ2,山田商事\n",
                                     "shift_jis"),
         check=rows_are("accounts", "SELECT account_name FROM accounts ORDER BY account_id",
                        [("株式会社テスト",), ("山田商事",)]),
         bug="read.detect_encoding takes Shift-JIS bytes for GB18030 (they decode and look Chinese): "
             "loaded as mojibake '姅幃夛幮僥僗僩'"),
    Case("mixed_crlf_and_lf", _text("deals.csv", DEALS_HEAD.replace("\n", "\r\n") + "D1,lead,5,2024-01-01\n"
                                    "D2,proposal,7,2024-01-02\r\nD3,lead,9,2024-01-03\n"),
         check=rows_are("deals", "SELECT deal_id, stage, amount FROM deals ORDER BY 1",
                        [("D1", "lead", 5), ("D2", "proposal", 7), ("D3", "lead", 9)]),
         bug="DuckDB's reader (strict_mode, new_line auto-detected from the first line) refuses a file mixing CRLF "
             "and LF: 'a line cannot be read: The CSV Parser state machine reached an invalid state', no line"),
    Case("bom_in_the_middle", _bytes("deals.csv", DEALS_HEAD.encode() + b"D1,lead,5,2024-01-01\n"
                                     + codecs.BOM_UTF8 + b"D2,proposal,7,2024-01-02\n"),
         check=rows_are("deals", "SELECT deal_id, stage FROM deals ORDER BY 1", [("D1", "lead"), ("D2", "proposal")])),
    Case("utf16le_chinese_without_bom", _bytes("客户.csv", "客户编号,客户名称\n甲一,甲公司\n乙二,乙公司\n".encode("utf-16-le")),
         ("客户.csv (table accounts, from its file name)", "is a binary file")),
    Case("utf16_lone_surrogate", _bytes("deals.csv", codecs.BOM_UTF16_LE + DEALS_HEAD.encode("utf-16-le")
                                        + "D1,lead,5,".encode("utf-16-le") + b"\x00\xd8" + "\n".encode("utf-16-le")),
         ("cannot be read as utf-16 text",)),
    Case("concatenated_exports_repeat_the_header", _text("deals.csv", DEALS_OK + DEALS_HEAD + "D3,lead,9,2024-01-03\n"),
         ("row 3", "column stage", "'stage' is not a pipeline stage")),
    # ---- quoting and delimiters
    Case("quote_inside_unquoted_field", _text("accounts.csv", 'account_id,account_name\nA1,Acme "The Best" Ltd\n'),
         check=rows_are("accounts", "SELECT account_name FROM accounts", [('Acme "The Best" Ltd',)])),
    Case("doubled_quotes_inside_quotes", _text("accounts.csv", 'account_id,account_name\nA1,"Acme ""The Best"" Ltd"\n'),
         check=rows_are("accounts", "SELECT account_name FROM accounts", [('Acme "The Best" Ltd',)])),
    Case("backslash_escaped_quotes", _text("accounts.csv", 'account_id,account_name\nA1,"Acme \\"Best\\" Ltd"\nA2,x\n'),
         ("line 2", "quote")),
    Case("semicolons_with_decimal_comma_amounts", _text("deals.csv", "deal_id;stage;amount\nD1;lead;1.234,56\n"),
         ("row 1", "column amount", "'1.234,56' is not an amount")),
    Case("semicolons_with_commas_in_names", _text("accounts.csv", "account_id;account_name;region\n"
                                                  "A1;Acme, Inc.;East, North\nA2;Beta, GmbH;West\n"),
         check=rows_are("accounts", "SELECT account_name, region FROM accounts ORDER BY account_id",
                        [("Acme, Inc.", "East, North"), ("Beta, GmbH", "West")])),
    Case("tabs_in_a_csv_named_file", _text("deals.csv", DEALS_OK.replace(",", "\t")),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", 5), ("D2", 7)])),
    Case("excel_sep_line", _text("deals.csv", "sep=;\n" + DEALS_OK.replace(",", ";")),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", 5), ("D2", 7)])),
    Case("header_commas_rows_semicolons", _text("deals.csv", "deal_id,stage,amount\nD1;lead;5\nD2;won;6\n"),
         ("row 1", "column stage", "stage is empty but required")),
    Case("header_with_a_line_break", _text("deals.csv", '"deal\nid",stage\nD1,lead\n'),
         check=rows_are("deals", "SELECT deal_id, stage FROM deals", [("D1", "lead")])),
    # ---- sizes
    Case("million_character_line", _lazy("accounts.csv", _million_char_line),
         check=rows_are("accounts", "SELECT account_id, length(account_name) FROM accounts ORDER BY 1",
                        [("A1", 1_000_000), ("A2", 5)])),
    Case("hundred_thousand_blank_lines", _lazy("deals.csv", _blank_line_flood),
         ("row 2", "column amount", "'x' is not an amount")),
    Case("one_line_of_five_megabytes", _lazy("deals.csv", _one_line_no_newline), ("fields; this is not a table export",)),
    Case("bad_value_past_the_first_mebibyte", _lazy("deals.csv", _far_down_error),
         ("row 50000", "column amount", "-5 is negative")),
    # ---- values: amounts
    Case("yen_with_thousands", _text("deals.csv", DEALS_HEAD + 'D1,lead,"¥1,234.50",2024-01-01\nD2,lead,￥88,\n'),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1",
                        [("D1", Decimal("1234.5")), ("D2", Decimal("88"))])),
    Case("space_thousands_decimal_comma", _text("deals.csv", DEALS_HEAD + 'D1,lead,"1 234,50",2024-01-01\n'),
         ("row 1", "column amount", "'1 234,50' is not an amount")),
    Case("bracketed_negative", _text("deals.csv", DEALS_HEAD + "D1,lead,(500),2024-01-01\n"),
         ("row 1", "column amount", "(500) is negative")),
    Case("percent_as_amount", _text("deals.csv", DEALS_HEAD + "D1,lead,12%,2024-01-01\n"),
         ("row 1", "column amount", "'12%' is not an amount")),
    Case("amount_too_large_for_exact_money", _text("deals.csv", DEALS_HEAD + "D1,lead,1e15,2024-01-01\n"),
         ("row 1", "column amount", "'1e15' is too large")),
    Case("sap_trailing_minus", _text("deals.csv", DEALS_HEAD + "D1,lead,500-,2024-01-01\n"),
         ("row 1", "column amount", "'500-' is not an amount")),
    # ---- values: dates
    Case("day_first_dates", _text("deals.csv", DEALS_HEAD + "D1,lead,5,31/12/2024\nD2,lead,5,01/02/2024\n"),
         check=rows_are("deals", "SELECT deal_id, created_at::DATE::VARCHAR FROM deals ORDER BY 1",
                        [("D1", "2024-12-31"), ("D2", "2024-02-01")])),  # the column is day-first: 01/02 is 1 Feb
    Case("day_first_column_with_a_month_first_value", _text("deals.csv", DEALS_HEAD + "D1,lead,5,13/04/2024\n"
                                                            "D2,lead,5,04/13/2024\n"),
         ("row 2", "column created_at", "'04/13/2024' is not a date (this column is read day-first")),
    Case("february_30", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2024-02-30\n"),
         ("row 1", "column created_at", "'2024-02-30' is not a date")),
    Case("month_13", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2024-13-01\n"),
         ("row 1", "column created_at", "'2024-13-01' is not a date")),
    Case("excel_serial_in_a_csv", _text("deals.csv", DEALS_HEAD + "D1,lead,5,45292\n"),
         ("row 1", "column created_at", "'45292' is not a date")),
    Case("two_digit_year", _text("deals.csv", DEALS_HEAD + "D1,lead,5,3/31/24\n"),
         ("row 1", "column created_at", "'3/31/24' is not a date")),
    Case("timestamps_with_a_zone_offset", _text("deals.csv", DEALS_HEAD + "D1,lead,5,2024-03-31T10:00:00+08:00\n"
                                                "D2,lead,5,2024-03-31T23:30:00+08:00\n"),
         check=rows_are("deals", "SELECT deal_id, created_at::VARCHAR FROM deals ORDER BY 1",
                        [("D1", "2024-03-31 10:00:00"), ("D2", "2024-03-31 23:30:00")])),  # the clock time as written
    Case("xlsx_title_rows_and_excel_serial_dates", _lazy("deals.xlsx", _xlsx(_title_rows)),
         check=rows_are("deals", "SELECT deal_id, created_at::VARCHAR FROM deals ORDER BY 1",
                        [("D1", "2024-01-01 00:00:00"), ("D2", "2024-01-01 18:00:00")])),  # .75 day = 18 h
    # ---- sentinels
    Case("null_word_as_amount", _text("deals.csv", DEALS_HEAD + "D1,lead,NULL,2024-01-01\n"),
         ("row 1", "column amount", "'NULL' is not an amount")),
    Case("excel_na_as_date", _text("deals.csv", DEALS_HEAD + "D1,lead,5,#N/A\n"),
         ("row 1", "column created_at", "'#N/A' is not a date")),
    Case("dash_as_amount", _text("deals.csv", DEALS_HEAD + "D1,lead,-,2024-01-01\n"),
         ("row 1", "column amount", "'-' is not an amount")),
    Case("mysql_zero_date", _text("deals.csv", DEALS_HEAD + "D1,lead,5,0000-00-00\nD2,lead,6,0000-00-00 00:00:00\n"),
         check=rows_are("deals", "SELECT deal_id, created_at FROM deals ORDER BY 1", [("D1", None), ("D2", None)])),
    Case("sentinel_for_a_required_date_rejects_the_row",
         _text("tickets.csv", "ticket_id,account_id,opened_at\nT1,A001,1900-01-01\n"),
         ("row 1", "column opened_at", "opened_at is empty but required")),
    Case("na_as_required_stage", _text("deals.csv", DEALS_HEAD + "D1,N/A,5,2024-01-01\n"),
         ("row 1", "column stage", "'N/A' is not a pipeline stage")),
    Case("xlsx_error_cell_as_amount", _lazy("deals.xlsx", _xlsx(_error_cells)),
         ("deals.xlsx[deals] row 2", "column amount", "'#N/A' is not an amount"),
         bug="python-calamine's to_python() gives an error cell (#N/A, #DIV/0!, #REF!) as '', so read.cell_text makes "
             "it an empty amount: loaded as NULL, where the same '#N/A' in a CSV is refused"),
    # ---- injection in cells: stored as text, every download neutralises it
    Case("hyperlink_formula", _text("accounts.csv", 'account_id,account_name\nF1,"=HYPERLINK(""http://x"",""y"")"\n'),
         check=injected("accounts", "account_id", "F1", "account_name", '=HYPERLINK("http://x","y")')),
    Case("at_sum_formula", _text("accounts.csv", "account_id,account_name\nF1,@SUM(A1)\n"),
         check=injected("accounts", "account_id", "F1", "account_name", "@SUM(A1)")),
    Case("plus_cmd_formula", _text("accounts.csv", "account_id,region\nF1,+cmd|' /C notepad'!A0\n"),
         check=injected("accounts", "account_id", "F1", "region", "+cmd|' /C notepad'!A0")),
    Case("minus_arithmetic", _text("accounts.csv", "account_id,segment\nF1,-2+3\n"),
         check=injected("accounts", "account_id", "F1", "segment", "-2+3")),
    Case("tab_then_equals", _text("accounts.csv", 'account_id,account_name\nF1,"\t=1+1"\n'),
         check=injected("accounts", "account_id", "F1", "account_name", "=1+1")),  # trimmed, then escaped
    Case("formula_as_an_id", _text("deals.csv", "deal_id,stage\n=1+1,lead\n"),
         check=injected("deals", "stage", "lead", "deal_id", "=1+1")),
    Case("xlsx_text_cell_that_reads_like_a_formula", _lazy("accounts.xlsx", _xlsx(_text_formula_cell)),
         check=injected("accounts", "account_id", "F1", "account_name", '=HYPERLINK("http://x","y")')),
    Case("sql_in_a_value", _text("accounts.csv", "account_id,account_name\nA1,'); DROP TABLE accounts; --\n"),
         check=rows_are("accounts", "SELECT account_name FROM accounts", [("'); DROP TABLE accounts; --",)])),
    Case("sql_in_a_header", _text("deals.csv", 'deal_id,stage,"x"" ; DROP TABLE deals; --"\nD1,lead,1\n'),
         check=rows_are("deals", "SELECT deal_id FROM deals", [("D1",)])),
    # ---- deep workbooks
    Case("xlsx_ten_sheets", _lazy("deals.xlsx", _xlsx(_many_sheets)),
         check=rows_are("deals", "SELECT count(*), sum(amount) FROM deals", [(10, 55)])),  # 1 + 2 + … + 10 = 55
    Case("xlsx_sheet_with_16384_columns", _lazy("deals.xlsx", _xlsx(_widest_sheet)),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", 5), ("D2", 7)])),
    Case("xlsx_used_range_claims_a_million_rows", _lazy("deals.xlsx", _xlsx_edit(_deals_sheet, _million_row_dimension)),
         check=rows_are("deals", "SELECT deal_id, amount FROM deals ORDER BY 1", [("D1", 5), ("D2", 7)])),
    Case("xlsx_hidden_sheet_is_not_read", _lazy("deals.xlsx", _xlsx(_hidden_sheet)),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("xlsx_shared_strings_missing", _lazy("deals.xlsx", _xlsx_edit(_deals_sheet, _missing_shared_strings)),
         ("deals.xlsx[deals]: the sheet cannot be read", "shared strings")),
    Case("xlsx_only_a_chart", _lazy("deals.xlsx", _xlsx(_chart_only)), ("the workbook has no sheet with data",)),
    # ---- zip tricks
    Case("xlsx_path_traversal_entry", _lazy("deals.xlsx", _xlsx_edit(_deals_sheet, _traversal_entry)),
         check=nothing_extracted),
    Case("zip_inside_a_zip", _lazy("deals.xlsx", _nested_zip), ("is not a readable workbook",)),
    Case("password_protected_zip", _lazy("deals.xlsx", _encrypted_zip), ("is not a readable workbook", "Password")),
    Case("old_xls_named_xlsx", _lazy("deals.xlsx", _ole2_junk), ("is not a readable workbook",)),
    Case("xlsm_with_macros", _lazy("deals.xlsm", _xlsx_edit(_deals_sheet, _vba_project)),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("html_table_named_xls", _text("deals.xls", "<html><body><table><tr><td>deal_id</td></tr></table></body></html>"),
         ("is named like an Excel workbook but is not one",)),
    # ---- binary garbage named .csv
    Case("png_named_csv", _lazy("deals.csv", _png), ("is a binary file",)),
    Case("pdf_named_csv", _lazy("deals.csv", _pdf), ("is a binary file",)),
    Case("gzip_named_csv", _lazy("deals.csv", _gzip_csv), ("is a binary file",)),
    Case("json_named_csv", _text("export.csv", '[\n  {\n    "deal_id": "D1",\n    "stage": "lead"\n  }\n]\n'),
         ("cannot tell which table",)),
    # ---- paths and names
    Case("file_name_with_spaces_and_brackets", _text("My Deals Export (1) - Copy.csv", DEALS_OK),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("file_name_with_a_quote", _text("o'brien's deals'); DROP TABLE deals; --.csv", DEALS_OK),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("file_name_of_240_characters", _text("deals_" + "长" * 70 + "x" * 24 + ".csv", DEALS_OK),
         check=rows_are("deals", "SELECT deal_id FROM deals ORDER BY 1", [("D1",), ("D2",)])),
    Case("file_name_says_another_table", _text("accounts.csv", DEALS_OK),
         ("table accounts, from its file name", "required column account_id of table accounts is missing")),
    Case("named_pipe_named_csv", _fifo("deals.csv"), ("not a regular file",)),
    Case("folder_named_csv", _folder("deals.csv"), ("the folder holds no CSV, XLSX or Parquet files",)),
    # ---- ids
    Case("ids_differing_only_in_case", _text("deals.csv", "deal_id,stage\nD-a1,lead\nD-A1,won\n"),
         check=rows_are("deals", "SELECT deal_id, stage FROM deals ORDER BY 1", [("D-A1", "won"), ("D-a1", "lead")])),
    Case("ids_in_full_width_digits", _text("deals.csv", "deal_id,stage\nD１２,lead\nD12,won\n"),
         check=rows_are("deals", "SELECT deal_id, stage FROM deals ORDER BY 1", [("D12", "won"), ("D１２", "lead")])),
    Case("id_of_ten_thousand_characters", _text("deals.csv", "deal_id,stage\n" + "I" * 10_000 + ",lead\n"),
         check=rows_are("deals", "SELECT length(deal_id) FROM deals", [(10_000,)])),
    Case("ids_with_nbsp_are_one_id", _text("deals.csv", "deal_id,stage\nD1\u00a0,lead\n\u3000D1,won\n"),
         ("row 2", "column deal_id", "'D1' repeats row 1")),
    Case("ids_with_leading_zeros_kept", _text("accounts.csv", "account_id,account_name\n007,Bond\n7,Seven\n"),
         check=rows_are("accounts", "SELECT account_id, account_name FROM accounts ORDER BY 1",
                        [("007", "Bond"), ("7", "Seven")])),
    Case("full_width_stage_names", _text("deals.csv", "deal_id,stage\nD1,Ｌｅａｄ\n"),
         check=rows_are("deals", "SELECT deal_id, stage FROM deals", [("D1", "lead")])),
    # ---- more than one file
    Case("good_file_then_bad_file", _files(_text("accounts.csv", "account_id,account_name\nN1,New\n"),
                                           _text("deals.csv", DEALS_HEAD + "N1,lead,oops,2024-01-01\n")),
         ("deals.csv", "row 1", "column amount", "'oops' is not an amount")),
    Case("same_file_given_twice", _same_file_twice, check=loaded_once),
]


def test_the_corpus_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c.bug)) if c.bug else c
                                  for c in CASES], ids=[c.id for c in CASES])
def test_hostile_file(case: Case, loaded: Store, tmp_path: Path) -> None:
    paths = case.make(tmp_path)
    before, version = snapshot(loaded), loaded.version()
    if case.check is None:
        with pytest.raises(B2BError) as info:
            ingest(loaded, paths, Config(), table=case.table)
        msg = str(info.value)
        assert any(p.name in msg for p in paths), msg
        for needle in case.needles:
            assert needle in msg, msg
        assert "\n  fix: " in msg, msg
        assert snapshot(loaded) == before
        assert loaded.version() == version
        assert not list(loaded.path.parent.glob("*.tmp-*"))
    else:
        results = ingest(loaded, paths, Config(), table=case.table)
        case.check(loaded, results)
        after = snapshot(loaded)
        touched = {r.table for r in results}
        if "deals" in touched:  # (v2) a deals load also writes the day's snapshot
            touched |= {"deal_snapshots"}
        assert {t: rows for t, rows in after.items() if t not in touched | {"loads"}} == \
            {t: rows for t, rows in before.items() if t not in touched | {"loads"}}
        assert len(after["loads"]) == len(before["loads"]) + len([r for r in results if not r.skipped])


def test_downloads_escape_categorical_columns_and_headers() -> None:
    """A page's frame may hold text as a pandas categorical (DuckDB sees an ENUM) or take a header from the
    data: both are cells Excel would run. (Before: an ENUM column and the header line were not escaped.)"""
    import pandas as pd

    frame = pd.DataFrame({"name": pd.Categorical(['=HYPERLINK("http://x","y")', "ok"]),
                          "=1+1": [1, 2], "note": pd.array(["@SUM(A1)", None], dtype="string")})
    rows = list(csv.reader(io.StringIO(_download_bytes(frame).decode("utf-8-sig"))))
    assert rows == [["name", "'=1+1", "note"], ['\'=HYPERLINK("http://x","y")', "1", "'@SUM(A1)"], ["ok", "2", ""]]


# ---- the CLI -----------------------------------------------------------------------------------------

CLI_CASES = ["truncated_mid_quote", "utf8_then_gbk_bytes", "binary_junk_named_csv", "zip_bomb_named_xlsx",
             "ten_thousand_columns", "splits_not_summing_to_one", "parquet_that_is_csv", "png_named_csv",
             "xlsx_shared_strings_missing", "named_pipe_named_csv", "old_xls_named_xlsx", "file_name_says_another_table"]


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_cli_refuses_with_exit_2_and_no_traceback(case_id: str, loaded: Store, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.id == case_id)
    paths = case.make(tmp_path)
    before = snapshot(loaded)
    code = cli.main(["ingest", "--db", str(loaded.path), *map(str, paths)])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert err.startswith("b2bmetrics ingest: ") and paths[0].name in err
    assert snapshot(loaded) == before


# ---- the dashboard's Data page ---------------------------------------------------------------------
# AppTest cannot feed bytes to st.file_uploader, so this drives the functions app_pages/data.py calls, in
# its order: plan_files (its error box), preview_rejects per plan, then ingest (its error box).

def _data_page_message(store: Store, paths: list[Path]) -> str | None:
    cfg = Config()
    try:
        plans = plan_files(paths, cfg)
    except B2BError as exc:
        return str(exc)
    for plan in plans:
        try:
            rejects = preview_rejects(plan, cfg, store)
        except B2BError as exc:
            return str(exc)
        if rejects:
            r = rejects[0]
            return f"{plan.source} row {r.row}, column {r.column}: {r.reason}"
    try:
        ingest(store, paths, cfg)
    except B2BError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("case_id", ["truncated_mid_row", "truncated_mid_quote", "utf8_then_gbk_bytes",
                                     "xlsx_merged_cells_and_formulas", "zip_bomb_named_xlsx",
                                     "contract_2200_refused", "duplicate_headers", "bad_value_past_the_first_mebibyte",
                                     "semicolons_with_decimal_comma_amounts", "xlsx_shared_strings_missing"])
def test_data_page_path_shows_the_same_message(case_id: str, loaded: Store, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    paths = case.make(tmp_path)
    before = snapshot(loaded)
    msg = _data_page_message(loaded, paths)
    assert msg is not None
    for needle in case.needles:
        assert needle in msg, msg
    assert snapshot(loaded) == before


# ---- fuzz ------------------------------------------------------------------------------------------

CSVISH = st.text(alphabet=string.printable + "，；“”¥￥元年月日客户商机\u3000\ufeff\x00é", max_size=400)
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _only_b2b_errors(store: Store, path: Path) -> None:
    try:
        plan_files([path], Config())
        ingest(store, [path], Config())
    except B2BError as exc:
        assert str(exc).strip()


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".tsv", ".xlsx", ".parquet", ".txt"]))
def test_fuzz_random_bytes_only_b2b_errors(fuzz_dir: Path, data: bytes, suffix: str) -> None:
    path = fuzz_dir / f"deals{suffix}"
    path.write_bytes(data)
    _only_b2b_errors(Store.at(fuzz_dir / "bytes.duckdb"), path)


@FUZZ
@given(body=CSVISH, head=st.sampled_from(["deal_id,stage,amount,created_at\n", "客户编号;客户名称\n", "", "a\tb\n"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
def test_fuzz_csvish_text_only_b2b_errors(fuzz_dir: Path, body: str, head: str, encoding: str) -> None:
    path = fuzz_dir / "deals.csv"
    try:
        data = (head + body).encode(encoding)
    except UnicodeEncodeError:
        data = (head + body).encode("utf-8")
    path.write_bytes(data)
    _only_b2b_errors(Store.at(fuzz_dir / "text.duckdb"), path)


CELL = st.one_of(st.text(max_size=30), st.sampled_from(["2024-03-31", "31/03/2024", "2024年3月31日", "1,234.50",
                                                        "¥1,234.50", "1234元", "CNY 1,234", "1.2e5", "(5)",
                                                        "2200-01-01", "1899-12-31", "12.5万", "-0", "1,5"]))


@settings(FUZZ, max_examples=30)  # each example is a real load (a write and its refresh): the costliest fuzz
@given(date=CELL, amount=CELL)
def test_fuzz_date_and_money_cells_parse_or_are_refused_with_a_reason(fuzz_dir: Path, date: str,
                                                                        amount: str) -> None:
    path = fuzz_dir / "deals.csv"
    buf = io.StringIO()
    import csv

    csv.writer(buf, lineterminator="\n").writerows([["deal_id", "stage", "amount", "created_at"],
                                                    ["D1", "lead", amount, date]])
    path.write_text(buf.getvalue(), encoding="utf-8")
    store = Store.at(fuzz_dir / "cells.duckdb")
    try:
        [res] = ingest(store, [path], Config())
    except B2BError as exc:
        msg = str(exc)
        # refused: either the file as a whole (it is not a table) or the row with a reason
        assert "deals.csv" in msg
        if "row 1, column" in msg:
            assert any(w in msg for w in ("is not a date", "is outside", "is not an amount", "is negative"))
        return
    assert res.rows == 1 or res.skipped
    [(amount_v, created)] = query(store, "SELECT amount, created_at FROM deals")
    assert amount_v is None or amount_v >= 0
    assert created is None or 1900 <= created.year <= 2199
    if amount.strip():
        assert amount_v is not None
    if date.strip():
        assert created is not None
