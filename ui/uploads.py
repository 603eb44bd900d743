"""Files a user uploads on the Data page, through `b2bmetrics.ingest`: stored in a folder of their
session, planned (table, encoding, mapping, with a mapping saved earlier for the table applied),
previewed for rejects, loaded; mappings saved for the next upload; a whole table as CSV.

Uploads and mappings live beside the database: `uploads/<session>/` and `mappings/<table>.toml`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import streamlit as st

from b2bmetrics.csv_export import table_csv
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import (
    FilePlan,
    LoadResult,
    Mapping,
    Reject,
    ingest,
    load_mapping_file,
    plan_files,
    preview_rejects,
    save_mapping_file,
)
from ui import context

MAX_UPLOAD_MB = 200
MAX_UPLOAD_ROWS = 2_000_000  # per file: a bigger load belongs to `b2bmetrics ingest` on the server
SESSION_DIR = "data_upload_dir"  # session state: this session's folder under uploads/


class Upload(Protocol):
    """What Streamlit's file uploader hands over (`UploadedFile`)."""

    name: str
    size: int

    def getvalue(self) -> bytes: ...


def upload_root() -> Path:
    return context.db_path().resolve().parent / "uploads"


def mapping_dir() -> Path:
    return context.db_path().resolve().parent / "mappings"


def safe_name(name: str) -> str:
    """A file name with no directory parts or odd characters (CJK letters kept)."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "upload"
    return cleaned[:120]


def session_dir() -> Path:
    """This session's upload folder (made on first use)."""
    if SESSION_DIR not in st.session_state:
        st.session_state[SESSION_DIR] = uuid.uuid4().hex
    target = upload_root() / st.session_state[SESSION_DIR]
    target.mkdir(parents=True, exist_ok=True)
    return target


@dataclass(frozen=True)
class Stored:
    """The uploads written to this session's folder, and those refused as too large."""

    paths: list[Path]
    too_large: list[Upload]


def store(files: Sequence[Upload]) -> Stored:
    """Write the uploads to this session's folder under safe names; refuse any over MAX_UPLOAD_MB."""
    paths, too_large = [], []
    for f in files:
        if f.size > MAX_UPLOAD_MB * 1024 * 1024:
            too_large.append(f)
            continue
        target = session_dir() / safe_name(f.name)
        target.write_bytes(f.getvalue())
        paths.append(target)
    return Stored(paths, too_large)


def saved_mapping(table: str) -> Mapping | None:
    """The mapping saved for `table` by an earlier upload, if any."""
    path = mapping_dir() / f"{table}.toml"
    return load_mapping_file(path) if path.exists() else None


def save_mapping(table: str, columns: dict[str, str]) -> Path:
    """Keep `columns` (canonical column -> header in the file) for the next upload of `table`."""
    mapping_dir().mkdir(parents=True, exist_ok=True)
    path = mapping_dir() / f"{table}.toml"
    save_mapping_file(path, table, columns)
    return path


def plans(paths: Sequence[Path]) -> list[FilePlan]:
    """What each file will load as; a file of a table with a saved mapping uses it when it fits."""
    cfg = context.config()
    planned = []
    for plan in plan_files(paths, cfg):
        saved = saved_mapping(plan.table)
        if saved is not None and plan.sheet is None:
            try:
                plan = plan_files([plan.path], cfg, table=plan.table, mapping=saved)[0]
            except B2BError:
                pass  # the saved mapping does not fit this file: keep the automatic one
        planned.append(plan)
    return planned


def replan(plan: FilePlan, mapping: Mapping) -> FilePlan:
    """The plan of a file under the user's edited mapping (a workbook's sheets keep their own plans)."""
    if plan.sheet is not None:
        return plan
    return plan_files([plan.path], context.config(), table=mapping.table, mapping=mapping)[0]


def rejects(plan: FilePlan, mapping: Mapping | None) -> list[Reject]:
    """The rows the file would reject under `mapping` (its own plan's when None), loading nothing."""
    return preview_rejects(replan(plan, mapping) if mapping else plan, context.config(), context.store())


Progress = Callable[[str, float], None]


def load(settled: Sequence[tuple[FilePlan, str, Mapping | None]], *, allow_rejects: bool, append: bool,
         progress: Progress, on_wait: Callable[[str], None] | None = None) -> list[LoadResult]:
    """Load the files as settled (plan, table, edited mapping or None); B2BError changes nothing.

    One atomic load when nothing was overridden; per file when a file has its own mapping or table.
    `on_wait` hears once that another load (the CLI, another user) is writing and this one waits.
    """
    if all(m is None and tbl == p.table for p, tbl, m in settled):
        paths = list(dict.fromkeys(p.path for p, _, _ in settled))
        return ingest(context.store(), paths, context.config(), allow_rejects=allow_rejects, append=append,
                      progress=lambda label, f: progress(label, min(max(f, 0.0), 1.0)), on_wait=on_wait,
                      max_rows=MAX_UPLOAD_ROWS)
    results: list[LoadResult] = []
    for n, (plan, tbl, mapping) in enumerate(settled):
        results += ingest(context.store(), [plan.path], context.config(), table=tbl, mapping=mapping,
                          allow_rejects=allow_rejects, append=append, on_wait=on_wait, max_rows=MAX_UPLOAD_ROWS)
        progress(plan.source, (n + 1) / len(settled))
    return results


def whole_table_csv(table: str) -> bytes:
    """All rows of `table` as Excel-safe CSV (the Data page is for all-data roles only)."""
    con = context.store().read_connection()
    try:
        return table_csv(con, table)
    finally:
        con.close()
