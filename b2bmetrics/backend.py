"""What the metrics ask of a backend: the one interface every metric, filter and relation takes.

Both an ibis backend (DuckDB by default, Spark) and `access.ScopedBackend` satisfy it, so mypy
checks every `con: Backend` against the calls the metrics really make: canonical tables by name
and the list of tables. Running an expression is the expression's own `.execute()`; nothing here
may read around a scope (no raw SQL).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import ibis.expr.types as ir


@runtime_checkable
class Backend(Protocol):
    """A source of canonical tables as ibis expressions."""

    @property
    def name(self) -> str:
        """The engine's name (`duckdb`, `pyspark`, …)."""
        ...

    def table(self, name: str, /, *args: Any, **kwargs: Any) -> ir.Table:
        """Table `name` as an expression (under a scope: cut to it)."""
        ...

    def list_tables(self, *args: Any, **kwargs: Any) -> list[str]:
        """The names of the tables this backend can read."""
        ...
