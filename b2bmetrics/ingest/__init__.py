"""Ingest: exports in, canonical tables out (CONTRACT §2).

The package runs one way: `read` (format, encoding, cells) -> `map` (which table, which header is
which column) -> `parse` (values as SQL, with the reason a value is refused) -> `load` (plan,
stage, check, move, all in one store write). Callers import from here.
"""

from __future__ import annotations

from b2bmetrics.ingest.load import (
    FilePlan,
    LoadResult,
    Reject,
    ingest,
    plan_files,
    preview_rejects,
)
from b2bmetrics.ingest.map import Mapping, load_mapping_file, save_mapping_file

__all__ = ["FilePlan", "LoadResult", "Mapping", "Reject", "ingest", "load_mapping_file", "plan_files",
           "preview_rejects", "save_mapping_file"]
