"""What `make run` serves: dashboard.py, with the first visit's overview computed before the server
answers (ui/warmup.py), so nobody waits for a cold start. `streamlit run serve.py` finds `app` and
serves it; `streamlit run dashboard.py` serves the same pages without the warm-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import streamlit as st

WARM_UP_LIMIT_S = 60  # past this the server answers anyway; the warm-up goes on in its thread


@asynccontextmanager
async def warm_up(_app: Any) -> AsyncIterator[None]:
    from ui.warmup import warm

    task = asyncio.ensure_future(asyncio.to_thread(warm))
    with suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), WARM_UP_LIMIT_S)
    yield


app = st.App("dashboard.py", lifespan=warm_up)
