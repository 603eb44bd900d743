"""Compute the first visit's overview when the server starts, before anyone asks.

`serve.py` (what `make run` serves) starts this in a thread. Without it the first visitor after a
start waits for the imports, the first compile of every query and the overview's numbers (6.5 s to
a painted overview at 200,000 accounts, against 2.4 s for everyone after). The results land in the
same caches the pages read (`ui.data`), keyed on the dataset version, so a load in the meantime
only makes them unused. Only local mode is warmed: with sign-in, what a view holds depends on who
signs in. A failure here is logged and left to the page, which shows it to whoever asks.
"""

from __future__ import annotations

import time

from streamlit.logger import get_logger

from ui import context, data, overview_data, sidebar

log = get_logger(__name__)


def warm() -> None:
    """Compute the default view's overview into the caches (local mode, a database with deals)."""
    started = time.perf_counter()
    try:
        if context.auth_configured() or not context.store().exists():
            return  # per-user views, or a first run that creates the demo database itself
        if not data.row_count("deals"):
            return
        overview_data.compute_all(sidebar.default_filters())
        log.info("overview of the default view computed in %.1f s", time.perf_counter() - started)
    except Exception:  # noqa: BLE001 - a warm-up must never take the server down; the page will show it
        log.warning("warming the overview failed; the first visitor computes it", exc_info=True)
