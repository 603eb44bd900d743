"""A Streamlit client that speaks the browser's protocol over a websocket: one `Session` sends
`rerun_script` BackMsgs (widget states, query string, page hash) and reads ForwardMsgs until
`script_finished`, recording what the run showed (`Page`) and how long it took (`Run`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

FILTER_KEYS = ("period", "region", "segment", "rep")


# ---- one session --------------------------------------------------------------------------------

@dataclass
class Run:
    session: int
    kind: str  # open | page | region | segment | rep | period
    page: str
    started: float  # seconds since the test began
    seconds: float | None = None  # None: did not finish
    error: str | None = None
    data_state: str | None = None  # Data page only: old | new | torn
    repeat: bool = False  # the same page and filters were served before on this data version


@dataclass
class Page:
    """What one script run showed (reset when a rerun starts over)."""

    title: str = ""
    exceptions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    counts: dict[str, int] | None = None
    last_load: tuple[str, int] | None = None
    widgets: dict[str, Any] = field(default_factory=dict)  # filter key -> element proto
    pages: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (hash, title)


def _read_arrow(data: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all()


def collect(page: Page, msg: Any) -> None:
    """Note what a ForwardMsg shows that the checks need."""
    kind = msg.WhichOneof("type")
    if kind == "new_session":  # a (re)run starts: what came before is replaced
        page.title, page.exceptions, page.alerts, page.counts, page.last_load = "", [], [], None, None
    elif kind == "navigation":
        # by URL path (the default page has none); the title is what the page's h1 shows
        page.pages = {p.url_pathname or "overview": (p.page_script_hash, p.page_name) for p in msg.navigation.app_pages}
    elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
        el = msg.delta.new_element
        etype = el.WhichOneof("type")
        if etype == "exception":
            page.exceptions.append(f"{el.exception.type}: {el.exception.message}"[:300])
        elif etype == "alert" and el.alert.format == el.alert.ERROR:
            page.alerts.append(el.alert.body[:300])
        elif etype == "heading" and el.heading.tag == "h1":
            page.title = el.heading.body
        elif etype in ("multiselect", "date_input"):
            key = getattr(el, etype).id.rsplit("-", 1)[-1]
            if key in FILTER_KEYS:
                page.widgets[key] = getattr(el, etype)
        elif etype == "dataframe" and el.dataframe.arrow_data.data:
            table = _read_arrow(el.dataframe.arrow_data.data)
            cols = set(table.schema.names)
            if {"table_name", "rows", "orphans"} <= cols:  # the Data page's quality table
                d = table.to_pydict()
                page.counts = dict(zip(d["table_name"], (int(x) for x in d["rows"]), strict=True))
            elif {"load_id", "table_name", "rows"} <= cols and table.num_rows:  # its load history
                d = table.to_pydict()
                i = max(range(table.num_rows), key=lambda j: d["load_id"][j])
                page.last_load = (d["table_name"][i], int(d["rows"][i]))


class Session:
    """One user: a websocket, the page and filters it is on, and the widget ids and options it has seen."""

    def __init__(self, n: int, ws: Any, rng: random.Random) -> None:
        self.n, self.ws, self.rng = n, ws, rng
        self.filters: dict[str, list[str]] = {k: [] for k in FILTER_KEYS}
        self.page_name = "overview"
        self.ids: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self.pages: dict[str, tuple[str, str]] = {}
        self.periods: list[list[str]] = []

    def learn(self, page: Page) -> None:
        """Widget ids and options come from the first page, as a browser learns them."""
        self.pages = page.pages or self.pages
        for key, w in page.widgets.items():
            self.ids[key] = w.id
            if key == "period":
                lo, hi = (dt.date.fromisoformat(x) for x in w.default)
                self.periods = [[str(a), str(hi)] for a in (lo, hi - dt.timedelta(days=182), hi - dt.timedelta(days=91))]
                self.periods.append([str(lo - dt.timedelta(days=365)), str(lo - dt.timedelta(days=1))])
                self.filters["period"] = self.filters["period"] or list(w.default)
            else:
                self.options[key] = list(w.options)

    def change(self) -> str:
        """Change one thing, like a click: the page (35%) or one filter."""
        others = [p for p in self.pages if p != self.page_name]
        if others and (self.rng.random() < 0.35 or not self.ids):
            self.page_name = self.rng.choice(others)
            return "page"
        key = self.rng.choices(["region", "segment", "period", "rep"], weights=[35, 25, 25, 15])[0]
        if key == "period":
            self.filters[key] = self.rng.choice([p for p in self.periods if p != self.filters[key]])
        elif self.filters[key] and (key == "rep" or self.rng.random() < 0.4):  # back to "all"
            self.filters[key] = []
        else:  # one value (a rep is one of 14,300: almost always a cold cache)
            self.filters[key] = [self.rng.choice(self.options[key])]
        return key

    def back_msg(self, first_query: str = "") -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        rs = msg.rerun_script
        if not self.ids:  # opening a URL: the path names the page, the query string the filters
            rs.query_string, rs.page_name = first_query, "" if self.page_name == "overview" else self.page_name
            return msg.SerializeToString()
        rs.page_script_hash = self.pages[self.page_name][0]
        # the URL the browser would show: rep by its raw id, the rest as chosen
        raw = {k: [re.sub(r".*\((.+)\)$", r"\1", v) for v in vs] if k == "rep" else vs for k, vs in self.filters.items()}
        rs.query_string = urlencode([(k, v) for k, vs in raw.items() for v in vs])
        for key in self.ids:  # every filter's value, as the browser sends all its widgets' states
            values = self.filters[key]
            w = rs.widget_states.widgets.add()
            w.id = self.ids[key]
            w.string_array_value.data.extend(values)
        return msg.SerializeToString()

    async def run(self, payload: bytes, timeout: float) -> tuple[Page, float]:
        """Send one rerun and read until the script has finished (through any st.rerun)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        page = Page()
        started = time.perf_counter()
        await self.ws.send(payload)
        while True:
            left = timeout - (time.perf_counter() - started)
            raw = await asyncio.wait_for(self.ws.recv(), max(left, 0.001))
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            collect(page, msg)
            if msg.WhichOneof("type") == "script_finished":
                status = msg.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    page.exceptions.append("compile error")
                return page, time.perf_counter() - started


