"""CSV downloads that are safe to open in Excel, for whole tables and for small result frames.

A text cell starting with = + - @ (or a tab / carriage return) would run as a formula in Excel
(CSV injection, OWASP); such cells get a leading apostrophe, in text and categorical (ENUM)
columns and in the header line alike. Numbers are left as numbers. The
escaping is one SQL expression, used for a table in the database and for a pandas frame alike.
"""

from __future__ import annotations

import os
import re
import tempfile

import duckdb
import pandas as pd

from b2bmetrics.store import connect_duckdb

FORMULA_START = r"^[=+\-@\t\r]"


def _safe(text: str) -> str:
    return "'" + text if re.match(FORMULA_START, text) else text


def _select_escaped(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    cols = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    parts = []
    for name, sql_type, *_ in cols:
        q = '"' + str(name).replace('"', '""') + '"'
        alias = '"' + _safe(str(name)).replace('"', '""') + '"'  # a header taken from data is a cell too
        kind = str(sql_type).upper()
        if kind == "VARCHAR" or kind.startswith("ENUM("):  # a pandas categorical registers as an ENUM
            v = f"CAST({q} AS VARCHAR)"
            parts.append(f"CASE WHEN regexp_matches({v}, '{FORMULA_START}') THEN '''' || {v} ELSE {v} END AS {alias}")
        else:
            parts.append(f"{q} AS {alias}")
    return f"SELECT {', '.join(parts)} FROM {relation}"


def _copy_to_bytes(con: duckdb.DuckDBPyConnection, select_sql: str) -> bytes:
    fd, path = tempfile.mkstemp(suffix=".csv")
    os.close(fd)
    try:
        con.execute(f"COPY ({select_sql}) TO '{path}' (HEADER, DELIMITER ',')")
        with open(path, "rb") as fh:
            # a BOM so Excel reads the Chinese text as UTF-8
            return b"\xef\xbb\xbf" + fh.read()
    finally:
        os.unlink(path)


def table_csv(con: duckdb.DuckDBPyConnection, table: str) -> bytes:
    """The whole `table` of a DuckDB connection as Excel-safe CSV bytes."""
    relation = '"' + table.replace('"', '""') + '"'
    return _copy_to_bytes(con, _select_escaped(con, relation))


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A small result frame as Excel-safe CSV bytes."""
    con = connect_duckdb()
    try:
        con.register("frame", frame)
        return _copy_to_bytes(con, _select_escaped(con, "frame"))
    finally:
        con.close()
