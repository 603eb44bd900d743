"""Ingest: exports in, canonical tables out (CONTRACT §2).

The package runs one way: `read` (format, encoding, cells) -> `map` (which table, which header is
which column) -> `parse` (values as SQL, with the reason a value is refused) -> `plan` (what each
file will load as) -> `stage` (one checked staging table per file) -> `load` (move, load log, all
in one store write). Callers import from here.
"""

from __future__ import annotations

from b2bmetrics.ingest.load import LoadResult, ingest
from b2bmetrics.ingest.map import Mapping, load_mapping_file, save_mapping_file
from b2bmetrics.ingest.plan import FilePlan, plan_files
from b2bmetrics.ingest.stage import Reject, preview_rejects

__all__ = ["FilePlan", "LoadResult", "Mapping", "Reject", "ingest", "load_mapping_file", "plan_files",
           "preview_rejects", "save_mapping_file"]
