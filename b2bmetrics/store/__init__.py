"""The store: the database file, its versions and writes, and materialised relations kept beside
the data. It knows no metric: the metrics declare the relations they want and writers pass them in."""

from __future__ import annotations

from b2bmetrics.store.database import DUCKDB_CONFIG, Store, connect_duckdb, init_schema

__all__ = ["DUCKDB_CONFIG", "Store", "connect_duckdb", "init_schema"]
