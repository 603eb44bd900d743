"""Reading export files for ingest: format, encoding, delimiter, headers, and XLSX sheets.

This module owns the bytes: it tells a CSV from an XLSX or a Parquet file by content (not only by
name), detects the text encoding (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16 with or without BOM;
charset-normalizer as the last resort) and the delimiter (`,` `;` tab `|`, counted outside quotes
on a sample), and transcodes non-UTF-8 text to a temporary UTF-8 file in chunks so that DuckDB's
own CSV reader can do the bulk work. XLSX workbooks are read with python-calamine after their zip
directory has been checked against zip bombs. Every problem a user's file can cause is a B2BError
naming the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from b2bmetrics.errors import B2BError

Format = Literal["csv", "xlsx", "parquet"]

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 20  # encoding and delimiter are decided on the first MiB
CHUNK_BYTES = 4 << 20  # transcoding and hashing stream in 4 MiB chunks
# Workbooks are read whole into memory by calamine: refuse what cannot be a sane export.
MAX_WORKBOOK_BYTES = 256 << 20
MAX_WORKBOOK_UNCOMPRESSED = 2 << 30
MAX_ZIP_RATIO = 200  # an entry that inflates more than this (and is big) is a zip bomb
ZIP_RATIO_MIN_BYTES = 16 << 20
MAX_HEADER_FIELDS = 2000
MAX_LINE_BYTES = 8 << 20  # the longest line DuckDB's reader takes (stage: max_line_size), so the sample's too
csv.field_size_limit(MAX_LINE_BYTES)  # Python's default, 131,072 characters, would refuse a field DuckDB reads
EXCEL_EPOCH = dt.datetime(1899, 12, 30)

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt"}
DATA_SUFFIXES = SPREADSHEET_SUFFIXES | PARQUET_SUFFIXES | TEXT_SUFFIXES


def sniff_format(path: Path) -> Format:
    """The file's format from its first bytes (falling back to its name); refuses empty/binary files."""
    if not path.exists():
        raise B2BError(f"{path}: the file does not exist", fix="check the path")
    if not path.is_file():
        raise B2BError(f"{path}: not a regular file", fix="pass data files (CSV, XLSX, Parquet)")
    size = path.stat().st_size
    if size == 0:
        raise B2BError(f"{path.name}: the file is empty", fix="export the data again; the file has no bytes")
    with open(path, "rb") as fh:
        head = fh.read(8)
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if suffix in SPREADSHEET_SUFFIXES:
        kind = "an XLSX workbook" if suffix != ".xls" else "an Excel workbook"
        raise B2BError(f"{path.name}: is named like {kind} but is not one (it is not a zip archive)",
                       fix="open it in Excel and save it again as .xlsx, or export a CSV")
    if suffix in PARQUET_SUFFIXES:
        raise B2BError(f"{path.name}: is named like a Parquet file but does not start with the Parquet magic bytes",
                       fix="export the Parquet file again, or give a CSV/XLSX")
    return "csv"


# ---- text files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextLayout:
    """How a delimited text file reads: Python codec, delimiter, header fields, lines before the header."""

    encoding: str  # utf-8, utf-8-sig, gb18030, utf-16, utf-16-le, utf-16-be, or a charset-normalizer guess
    delimiter: str
    headers: tuple[str, ...]
    skip: int = 0  # lines before the header (an Excel "sep=;" line)
    sample: str = field(default="", repr=False, compare=False)
    whole: bool = False  # the sample is the whole file
    newline: str = "\n"  # "\r" for a file whose lines end in CR only (Excel for Mac's "CSV (Macintosh)")
    multiline: bool = False  # a closed quoted field in the sample spans lines

    @property
    def needs_transcoding(self) -> bool:
        return self.encoding not in ("utf-8", "utf-8-sig")

    @property
    def encoding_guessed(self) -> bool:
        """UTF-8 chosen only because the sampled start of the file is plain ASCII (no evidence either way)."""
        return self.encoding == "utf-8" and self.sample.isascii()


def detect_encoding(sample: bytes, name: str) -> str:
    """The codec of a text sample: a BOM, else strict UTF-8, else GB18030 if it reads as Chinese, else a guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF32_LE) or sample.startswith(codecs.BOM_UTF32_BE):
        raise B2BError(f"{name}: UTF-32 text is not supported", fix="save the file as UTF-8 (CSV UTF-8 in Excel)")
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    if b"\x00" in sample:
        raise B2BError(f"{name}: is a binary file, not CSV text, an XLSX workbook or Parquet",
                       fix="give a CSV, XLSX or Parquet export of the data")
    if _decodes(sample, "utf-8"):
        return "utf-8"
    bad = _error_at(sample, "utf-8")
    if not sample[: sample.rfind(b"\n", 0, bad) + 1].isascii():
        # whole lines of non-ASCII UTF-8, then bytes that are not: read as GB18030 it would be mojibake
        raise B2BError(f"{name}: line {_line_of(sample, bad)} is not UTF-8 text although the lines before it are "
                       f"(byte {bad}); the file mixes text encodings",
                       fix="save the whole file in one encoding (in Excel: CSV UTF-8) and load it again")
    if _decodes(sample, "gb18030") and _reads_as_chinese(sample.decode("gb18030", errors="ignore")):
        return "gb18030"
    bad = _error_at(sample, "gb18030")
    head = sample[:bad].decode("gb18030", errors="replace")
    if sum(1 for ch in head if "\u4e00" <= ch <= "\u9fff") >= 2 and _reads_as_chinese(head):
        raise B2BError(f"{name}: line {_line_of(sample, bad)} is not valid GB18030/GBK text (byte {bad}); the "
                       "Chinese text before it is", fix="save the file as UTF-8 (in Excel: CSV UTF-8) and load it again")
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        best = None
    else:
        best = from_bytes(sample).best()
    if best is None or best.encoding is None:
        raise B2BError(f"{name}: cannot tell the text encoding (not UTF-8, GB18030 or UTF-16)",
                       fix="save the file as UTF-8 (in Excel: CSV UTF-8) and load it again")
    return str(best.encoding)


def _utf16_without_bom(sample: bytes) -> str | None:
    head = sample[:4096]
    if len(head) < 4:
        return None
    even_zero = head[0::2].count(0)
    odd_zero = head[1::2].count(0)
    half = len(head) // 2
    if odd_zero > 0.3 * half and even_zero < 0.05 * half:
        return "utf-16-le"
    if even_zero > 0.3 * half and odd_zero < 0.05 * half:
        return "utf-16-be"
    return None


def _error_at(sample: bytes, encoding: str) -> int:
    """The offset of the first byte that does not decode (len(sample) when all of it does)."""
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
    except UnicodeDecodeError as exc:
        return exc.start
    return len(sample)


def _line_of(data: bytes, offset: int) -> int:
    """The 1-based line (LF, else CR line breaks) holding byte `offset` of `data`."""
    newline = b"\n" if b"\n" in data or b"\r" not in data else b"\r"
    return data.count(newline, 0, offset) + 1


def line_at(path: Path, offset: int) -> int:
    """The 1-based line holding byte `offset` of the file (for messages; reads up to the offset)."""
    lf = cr = 0
    done = 0
    with open(path, "rb") as fh:
        while done < offset and (chunk := fh.read(min(CHUNK_BYTES, offset - done))):
            lf += chunk.count(b"\n")
            cr += chunk.count(b"\r")
            done += len(chunk)
    return (lf if lf or not cr else cr) + 1


def _decodes(sample: bytes, encoding: str) -> bool:
    # the sample may end inside a multi-byte character: decode incrementally, not final
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _reads_as_chinese(text: str) -> bool:
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return True
    cjk = sum(1 for ch in non_ascii if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return cjk >= 0.8 * len(non_ascii)


def read_sample(path: Path, encoding: str) -> tuple[str, bool]:
    """The decoded first MiB (cut at the last line break) and whether that is the whole file."""
    with open(path, "rb") as fh:
        raw = fh.read(SAMPLE_BYTES + 1)
    whole = len(raw) <= SAMPLE_BYTES
    raw = raw[:SAMPLE_BYTES]
    try:
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(raw, final=whole)
    except UnicodeDecodeError as exc:
        raise B2BError(f"{path.name}: cannot be read as {encoding} text (byte {exc.start})",
                       fix="save the file as UTF-8 (in Excel: CSV UTF-8) and load it again") from exc
    text = text.lstrip("\ufeff")
    if not whole and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text, whole


def text_layout(path: Path, suffix_hint: str | None = None) -> TextLayout:
    """Encoding, delimiter and header of a delimited text file; refuses empty and binary files."""
    with open(path, "rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    encoding = detect_encoding(raw, path.name)
    text, whole = read_sample(path, encoding)
    if not text.strip():
        raise B2BError(f"{path.name}: the file is empty (no header line)",
                       fix="export the data again with a header line and at least one row")
    _refuse_binary(text, path.name)
    newline = "\n"
    if "\n" not in text and "\r" in text.rstrip("\r"):
        newline, text = "\r", text.replace("\r", "\n")
    skip = 0
    first, _, rest = text.partition("\n")
    forced: str | None = None
    if first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        forced, skip, text = first.strip()[4], 1, rest
    delimiter = forced or detect_delimiter(text, whole, (suffix_hint or path.suffix).lower())
    # blank lines and lines of only delimiters above the header (",,,": an exported empty row) are
    # not the header; DuckDB's reader must skip them too, or it would take the first for the header
    while True:
        first, sep, rest = text.partition("\n")
        # no quotes here: a quote opens a field that may span lines, which the reader counts differently
        if not sep or first.replace(delimiter, "").strip(" \t\r") != "":
            break
        skip, text = skip + 1, rest
    recs = records(text, delimiter, whole, limit=2)
    if not recs:
        raise B2BError(f"{path.name}: the file is empty (no header line)",
                       fix="export the data again with a header line and at least one row")
    headers = tuple(h.strip() for h in recs[0])
    if len(headers) > MAX_HEADER_FIELDS:
        raise B2BError(f"{path.name}: the header has {len(headers)} fields; this is not a table export",
                       fix=f"give a file with at most {MAX_HEADER_FIELDS} columns")
    if len(recs) < 2 and whole:
        raise B2BError(f"{path.name}: has a header line but no data rows",
                       fix="export the data again with its rows, or leave the file out")
    # a quoted field spanning lines (an unclosed quote swallows the rest: that is the last record)
    multiline = any("\n" in f or "\r" in f for r in records(text, delimiter, whole, limit=10**9)[:-1] for f in r)
    return TextLayout(encoding, delimiter, headers, skip, text, whole, newline, multiline)


def _refuse_binary(text: str, name: str) -> None:
    probe = text[:65536]
    control = sum(1 for ch in probe if ord(ch) < 32 and ch not in "\t\r\n\f\v")
    if "\x00" in probe or control > max(8, len(probe) // 100):
        raise B2BError(f"{name}: is a binary file, not CSV text, an XLSX workbook or Parquet",
                       fix="give a CSV, XLSX or Parquet export of the data")


def records(text: str, delimiter: str, whole: bool, limit: int = 200) -> list[list[str]]:
    """The first `limit` non-blank records of a text sample (a record cut by the sample's end left out)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    out: list[list[str]] = []
    try:
        for rec in reader:
            if not rec or all(not f.strip() for f in rec):
                continue
            out.append(rec)
            if len(out) >= limit + 1:
                break
    except csv.Error:
        pass
    if not whole and len(out) > limit:
        out = out[:limit]  # the last record may be cut by the sample's end
    return out


def detect_delimiter(text: str, whole: bool, suffix: str) -> str:
    """The candidate delimiter whose field count is > 1 and most consistent across sampled records."""
    order = list(DELIMITERS)
    if suffix in (".tsv", ".tab"):
        order.remove("\t")
        order.insert(0, "\t")
    best: tuple[bool, bool, float, int, int] | None = None
    choice = order[0]
    for rank, delim in enumerate(order):
        recs = records(text, delim, whole)
        if not recs:
            continue
        width = len(recs[0])
        body = recs[1:]
        consistent = (sum(1 for r in body if len(r) == width) / len(body)) if body else 1.0
        score = (width > 1, consistent >= 0.9, consistent, width, -rank)
        if best is None or score > best:
            best, choice = score, delim
    return choice


# How much trimming the staging pass needs (see ingest.parse.trim_sql): checking a value's edges for
# one character is nearly free, for all of TRIM_CHARS it costs about as much as reading the column.
# The pass that hashes the bytes anyway tells which is needed: "all" when the text holds NBSP, an
# ideographic space, a stray BOM or a tab that is not the delimiter; else "space" when it holds a
# space anywhere; else "none". Single bytes are searched first (memchr speed); the multi-byte
# sequences only when their lead byte occurs.
_ODD_UTF8 = ((b"\xc2", b"\xc2\xa0"), (b"\xe3", b"\xe3\x80\x80"), (b"\xef", b"\xef\xbb\xbf"))
_ODD_TEXT = ("\u00a0", "\u3000", "\ufeff")


@dataclass(frozen=True)
class Streamed:
    """One pass over a file: the sha256 of its bytes and the trimming its values need."""

    sha256: str
    trim: str  # "none", "space" or "all"


def _odd_bytes(window: bytes, delimiter: str) -> bool:
    if delimiter != "\t" and b"\t" in window:
        return True
    return any(lead in window and seq in window for lead, seq in _ODD_UTF8)


class NotUtf8(Exception):
    """A file taken for UTF-8 holds bytes that are not UTF-8 (at byte `offset`)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"not UTF-8 at byte {offset}")
        self.offset = offset


def stream_utf8(path: Path, encoding: str, target: Path | None, delimiter: str = ",") -> Streamed:
    """Stream the file once: hash it, find the trimming it needs, and (when `target`) write it as UTF-8 there.

    Without a target the file must already be UTF-8: ASCII chunks pass at memory speed, others are
    validated; NotUtf8 when they do not decode. With a target, refuses bytes that do not decode.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding if target is not None else "utf-8")(errors="strict")
    offset = 0
    odd = space = False
    tail = b""
    out = open(target, "w", encoding="utf-8", newline="") if target is not None else None
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                digest.update(chunk)
                if out is not None:
                    try:
                        text = decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        at = offset + exc.start
                        raise B2BError(f"{path.name}: line {line_at(path, at)} cannot be read as {encoding} text "
                                       f"(byte {at})",
                                       fix="save the file as UTF-8 (in Excel: CSV UTF-8) and load it again") from exc
                    if offset == 0:
                        text = text.lstrip("\ufeff")
                    odd = odd or any(ch in text for ch in _ODD_TEXT) or (delimiter != "\t" and "\t" in text)
                    space = space or " " in text
                    out.write(text)
                else:
                    if not chunk.isascii() or decoder.getstate()[0]:
                        try:
                            decoder.decode(chunk)
                        except UnicodeDecodeError as exc:
                            raise NotUtf8(offset + exc.start) from exc
                    if not odd:
                        window = tail + (chunk[3:] if offset == 0 and chunk.startswith(codecs.BOM_UTF8) else chunk)
                        odd = _odd_bytes(window, delimiter)
                        space = space or b" " in chunk
                        tail = chunk[-2:]
                offset += len(chunk)
            try:
                text = decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                if out is None:
                    raise NotUtf8(offset) from exc
                raise B2BError(f"{path.name}: ends inside a {encoding} character",
                               fix="save the file as UTF-8 and load it again") from exc
            if out is not None:
                out.write(text)
    finally:
        if out is not None:
            out.close()
    return Streamed(digest.hexdigest(), "all" if odd else "space" if space else "none")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


# ---- workbooks -------------------------------------------------------------------------------

@dataclass
class Sheet:
    """One worksheet: its header row and data rows (fully empty rows left out)."""

    name: str
    headers: tuple[str, ...]
    rows: list[list[Any]]


def check_zip(path: Path) -> None:
    """Refuse an oversized workbook or a zip bomb before calamine inflates it."""
    size = path.stat().st_size
    if size > MAX_WORKBOOK_BYTES:
        raise B2BError(f"{path.name}: the workbook is {size / 2**20:.0f} MiB; workbooks over "
                       f"{MAX_WORKBOOK_BYTES >> 20} MiB are not read", fix="export the data as CSV instead")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return  # legacy .xls (OLE2): no zip to inflate
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise B2BError(f"{path.name}: is not a readable XLSX workbook (broken zip archive: {exc})",
                       fix="open it in Excel and save it again, or export a CSV") from exc
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > ZIP_RATIO_MIN_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise B2BError(f"{path.name}: part {info.filename} inflates {info.file_size / max(info.compress_size, 1):.0f}x "
                           "(a zip bomb?); refusing to read it", fix="export the data as CSV instead")
    if total > MAX_WORKBOOK_UNCOMPRESSED:
        raise B2BError(f"{path.name}: the workbook inflates to {total / 2**30:.1f} GiB; refusing to read it",
                       fix="export the data as CSV instead")


def read_workbook(path: Path) -> list[Sheet]:
    """Every visible worksheet with data; refuses broken workbooks and zip bombs."""
    check_zip(path)
    from python_calamine import CalamineError, CalamineWorkbook

    # what a broken workbook raises: calamine's own error types (ZipError, XmlError, ... all CalamineError),
    # and ValueError or OSError for what it cannot decode or open
    unreadable = (CalamineError, ValueError, OSError)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except unreadable as exc:
        raise B2BError(f"{path.name}: is not a readable workbook ({type(exc).__name__}: {exc})",
                       fix="open it in Excel and save it again as .xlsx, or export a CSV") from exc
    sheets: list[Sheet] = []
    try:
        hidden = {m.name for m in wb.sheets_metadata
                  if str(getattr(m, "visible", "")).lower().endswith(("hidden", "veryhidden"))
                  or not str(getattr(m, "typ", "worksheet")).lower().endswith("worksheet")}
        for name in wb.sheet_names:
            if name in hidden:
                continue
            try:
                rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=True)
            except unreadable as exc:
                raise B2BError(f"{path.name}[{name}]: the sheet cannot be read ({type(exc).__name__}: {exc})",
                               fix="open the workbook in Excel and save it again, or export the sheet as CSV") from exc
            sheet = _sheet(name, rows)
            if sheet is not None:
                sheets.append(sheet)
    finally:
        wb.close()
    if not sheets:
        raise B2BError(f"{path.name}: the workbook has no sheet with data", fix="export the data again")
    return sheets


def _filled(row: list[Any]) -> int:
    return sum(1 for v in row if v is not None and not (isinstance(v, str) and not v.strip()))


def _sheet(name: str, rows: list[list[Any]]) -> Sheet | None:
    rows = [r for r in rows if _filled(r)]
    if not rows:
        return None
    # title lines above the header ("Opportunity report, exported ..."): the header is the first row
    # that fills at least half as many cells as the widest of the first rows
    widest = max(_filled(r) for r in rows[:20])
    need = 1 if widest < 2 else max(2, (widest + 1) // 2)
    start = next(i for i, r in enumerate(rows[:20]) if _filled(r) >= need)
    header = [cell_text(v) or "" for v in rows[start]]
    while header and not header[-1]:
        header.pop()
    return Sheet(name, tuple(h.strip() for h in header), rows[start + 1:])


def cell_text(value: Any, date_column: bool = False) -> str | None:
    """A workbook cell as the text a CSV export would hold (Excel serials become dates in date columns)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        if date_column and math.isfinite(number) and 1 <= number < 2958466:
            stamp = EXCEL_EPOCH + dt.timedelta(days=number)
            stamp = stamp.replace(microsecond=0) if stamp.microsecond < 500_000 else \
                (stamp + dt.timedelta(seconds=1)).replace(microsecond=0)
            return stamp.date().isoformat() if number == int(number) else stamp.isoformat(sep=" ")
        if isinstance(value, int):
            return str(value)
        if math.isfinite(number) and number == int(number) and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    return str(value)


def iter_data_files(paths: list[Path]) -> Iterator[Path]:
    """The paths, with a directory standing for the data files directly inside it (sorted)."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in DATA_SUFFIXES
                           and not f.name.startswith("."))
            if not found:
                raise B2BError(f"{p}: the folder holds no CSV, XLSX or Parquet files",
                               fix="pass the files themselves or a folder that contains them")
            yield from found
        else:
            yield p
