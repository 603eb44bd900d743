"""Deal snapshots, written compactly (CONTRACT §2 v2 "Snapshots"; the format: `schema` deal_snapshots).

Storage: a `deal_snapshots` row holds the state of its deal on every snapshot day d with
snapshot_date ≤ d < valid_until (valid_until NULL: through the latest snapshot day); a deal absent
on a day has no row covering it; consecutive snapshot days with the same state share one row.
`snapshot_days` lists every snapshot day, so a day on which nothing changed (or no deal exists)
is still a day. Both are written only here (and by the demo, which knows every deal's history).

Two ways in, both inside the load's own write (atomic with it):

* `record_deals_snapshot(con, day)`, after every load of `deals`: the day's snapshot is the deals
  table as it now stands (with --append, after the upsert). The common case, a day after the latest
  snapshot day, is a merge against the open rows (valid_until NULL): an unchanged deal costs nothing,
  a changed one closes its row (valid_until = day) and opens a new one, an absent one closes, a new
  one opens. The latest day again (a second load the same day) first undoes that day, then merges.
  An earlier day (`--as-of`) is the general replacement below.
* `load_snapshot_rows(con, staged, append=...)`, for a loaded deal_snapshots file (full rows, one per
  day and deal): the days the file contains are replaced by its rows and every other day is kept;
  with `append` (--append, or a later file of the same table in one call) the file's rows upsert
  into their days by deal instead.

The general replacement of a set of days F: the snapshot days are numbered 1…n, so a row covers the
index range [a, b]; every row touching an F day or its neighbours (F ± 1) is cut into the pieces
that avoid F days (the runs of non-F days it covers keep its state), the new rows of F become
one-day pieces, and each affected deal's pieces are re-compacted by gaps and islands (a piece
continues the previous one when it starts the index after it ends with the same state). Nothing
is ever expanded to one row per day.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from b2bmetrics.ingest.parse import ident
from b2bmetrics.schema import TABLES

__all__ = ["STATE", "has_snapshot_day", "load_snapshot_rows", "record_deals_snapshot"]

CANONICAL: tuple[str, ...] = TABLES["deal_snapshots"].column_names
# what a snapshot says about a deal (a change in any of them is a new state)
STATE: tuple[str, ...] = tuple(c for c in CANONICAL if c not in ("snapshot_date", "deal_id"))

_NEW = "_b2b_snap_new"  # the new full rows of the replaced days
_DAYS = "_b2b_snap_days"  # every snapshot day, numbered
_PIECES = "_b2b_snap_pieces"
_F = "_b2b_snap_replaced"  # the replaced days
_CHG = "_b2b_snap_changed"  # the deals whose state on a replaced day changes


def _same_state(a: str, b: str) -> str:
    return " AND ".join(f"{a}.{ident(c)} IS NOT DISTINCT FROM {b}.{ident(c)}" for c in STATE)


def _date(day: dt.date) -> str:
    """A DATE literal (values are inlined, never bound: binding imports pandas, which a load avoids)."""
    return f"DATE '{dt.date.fromordinal(day.toordinal()).isoformat()}'"


def _latest_day(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    row = con.execute("SELECT max(snapshot_date) FROM snapshot_days").fetchone()
    return row[0] if row else None


def has_snapshot_day(con: duckdb.DuckDBPyConnection, day: dt.date) -> bool:
    """`day` is a snapshot day already (False in a database from before snapshot days)."""
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'snapshot_days'").fetchone()
    if not (row and row[0]):
        return False
    row = con.execute(f"SELECT EXISTS (SELECT 1 FROM snapshot_days WHERE snapshot_date = {_date(day)})").fetchone()
    return bool(row and row[0])


def record_deals_snapshot(con: duckdb.DuckDBPyConnection, day: dt.date) -> None:
    """Make snapshot day `day` the deals table as it now stands (replacing that day if it exists)."""
    latest = _latest_day(con)
    if latest is not None and day < latest:
        cols = ", ".join(ident(c) for c in CANONICAL[1:])
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_NEW} AS SELECT {_date(day)} AS snapshot_date, "
                    f"{cols} FROM deals")
        _replace_days(con, [day])
        return
    if latest == day:  # the latest day again: undo it, then merge as for a new day
        con.execute(f"DELETE FROM deal_snapshots WHERE snapshot_date = {_date(day)}")
        con.execute(f"UPDATE deal_snapshots SET valid_until = NULL WHERE valid_until = {_date(day)}")
    else:
        con.execute(f"INSERT INTO snapshot_days VALUES ({_date(day)})")
    _merge_open(con, day)


def _merge_open(con: duckdb.DuckDBPyConnection, day: dt.date) -> None:
    """Day `day`, after every stored day, becomes the deals table: close the open rows of deals that
    changed or are gone, open rows for deals that changed or are new (one join finds both)."""
    cols = ", ".join(f"d.{ident(c)}" for c in CANONICAL[1:])
    row = con.execute("SELECT EXISTS (SELECT 1 FROM deal_snapshots WHERE valid_until IS NULL)").fetchone()
    if not (row and row[0]):  # nothing open (the first snapshot): every deal opens a row
        con.execute(f"INSERT INTO deal_snapshots SELECT {_date(day)}, {cols}, NULL FROM deals d")
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {_CHG} AS
        SELECT s.rid, d.deal_id
        FROM (SELECT rowid AS rid, * FROM deal_snapshots WHERE valid_until IS NULL) s
        FULL JOIN deals d ON d.deal_id = s.deal_id
        WHERE s.rid IS NULL OR d.deal_id IS NULL OR NOT ({_same_state('d', 's')})""")
    con.execute(f"UPDATE deal_snapshots SET valid_until = {_date(day)} WHERE rowid IN (SELECT rid FROM {_CHG} "
                "WHERE rid IS NOT NULL)")
    con.execute(f"INSERT INTO deal_snapshots SELECT {_date(day)}, {cols}, NULL FROM deals d "
                f"WHERE d.deal_id IN (SELECT deal_id FROM {_CHG} WHERE deal_id IS NOT NULL)")
    con.execute(f"DROP TABLE {_CHG}")


def load_snapshot_rows(con: duckdb.DuckDBPyConnection, staged: str, *, append: bool) -> None:
    """Load the full snapshot rows of table `staged` (the canonical columns; one row per day and
    deal): their days become exactly those rows (`append`: those rows upserted by deal into what the
    days held), every other day is kept."""
    cols = ", ".join(ident(c) for c in CANONICAL)
    kind = "TABLE" if append else "VIEW"
    con.execute(f"CREATE OR REPLACE TEMP {kind} {_NEW} AS SELECT {cols} FROM {ident(staged)}")
    if append:  # the deals a day already held and the file does not name stay as they were
        state = ", ".join(f"s.{ident(c)}" for c in STATE)
        con.execute(
            f"INSERT INTO {_NEW} SELECT f.snapshot_date, s.deal_id, {state} FROM "
            f"(SELECT DISTINCT n.snapshot_date FROM {_NEW} n JOIN snapshot_days d USING (snapshot_date)) f "
            "JOIN deal_snapshots s ON s.snapshot_date <= f.snapshot_date "
            "AND (s.valid_until IS NULL OR s.valid_until > f.snapshot_date) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_NEW} n WHERE n.snapshot_date = f.snapshot_date "
            "AND n.deal_id = s.deal_id)")
    _replace_days(con)


def _replace_days(con: duckdb.DuckDBPyConnection, days: list[dt.date] | None = None) -> None:
    """Replace `days` (default: every day of `_NEW`) by the rows of `_NEW` (see the module's docstring)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_F} AS SELECT DISTINCT snapshot_date FROM {_NEW}")
    if days:
        for d in days:
            con.execute(f"INSERT INTO {_F} SELECT {_date(d)} WHERE {_date(d)} NOT IN (SELECT snapshot_date FROM {_F})")
    con.execute(f"INSERT INTO snapshot_days SELECT snapshot_date FROM {_F} "
                "WHERE snapshot_date NOT IN (SELECT snapshot_date FROM snapshot_days)")
    # i: the day's number; f: it is replaced; g: it is a replaced day or next to one;
    # runs: the non-replaced days between two replaced ones share `run` (the replaced days before them)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {_DAYS} AS
        WITH d AS (
            SELECT snapshot_date AS day, row_number() OVER (ORDER BY snapshot_date) AS i,
                   snapshot_date IN (SELECT snapshot_date FROM {_F}) AS f
            FROM snapshot_days),
        g AS (
            SELECT *, f OR coalesce(lag(f) OVER w, false) OR coalesce(lead(f) OVER w, false) AS g
            FROM d WINDOW w AS (ORDER BY i))
        SELECT day, i, f, g, sum(f::INT) OVER (ORDER BY i) AS run, sum(g::INT) OVER (ORDER BY i) AS gs
        FROM g""")
    # only the deals whose state on some replaced day changes are rewritten: the rows of every other deal
    # describe the new days as they stand (a new day carries the state of the day before it)
    s_state = ", ".join(f"s.{ident(c)}" for c in STATE)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {_CHG} AS
        WITH old AS (
            SELECT f.snapshot_date, s.deal_id, {s_state} FROM {_F} f
            JOIN deal_snapshots s ON s.snapshot_date <= f.snapshot_date
             AND (s.valid_until IS NULL OR s.valid_until > f.snapshot_date))
        SELECT DISTINCT coalesce(o.deal_id, n.deal_id) AS deal_id
        FROM old o FULL JOIN {_NEW} n ON n.snapshot_date = o.snapshot_date AND n.deal_id = o.deal_id
        WHERE o.deal_id IS NULL OR n.deal_id IS NULL OR NOT ({_same_state('o', 'n')})""")
    n_row = con.execute(f"SELECT count(*) FROM {_DAYS}").fetchone()
    n = int(n_row[0]) if n_row else 0
    # the stored rows covering a replaced day or a neighbour, [a, b] in day numbers: gs(b) - gs(a - 1) > 0
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _b2b_snap_hit AS
        SELECT s.rowid AS rid, s.deal_id, {s_state}, da.i AS a, coalesce(dv.i - 1, {n}) AS b
        FROM deal_snapshots s
        JOIN {_DAYS} da ON da.day = s.snapshot_date
        LEFT JOIN {_DAYS} dv ON dv.day = s.valid_until
        JOIN {_DAYS} db ON db.i = coalesce(dv.i - 1, {n})
        WHERE db.gs - da.gs + da.g::INT > 0 AND s.deal_id IN (SELECT deal_id FROM {_CHG})""")
    # each hit row's pieces: its days in each run of non-replaced days; the new rows as one-day pieces
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {_PIECES} AS
        WITH runs AS (SELECT run, min(i) AS rs, max(i) AS re FROM {_DAYS} WHERE NOT f GROUP BY run)
        SELECT h.deal_id, {", ".join(f"h.{ident(c)}" for c in STATE)},
               greatest(h.a, r.rs) AS a, least(h.b, r.re) AS b
        FROM _b2b_snap_hit h JOIN runs r ON r.rs <= h.b AND r.re >= h.a
        UNION ALL
        SELECT n.deal_id, {", ".join(f"n.{ident(c)}" for c in STATE)}, d.i AS a, d.i AS b
        FROM {_NEW} n JOIN {_DAYS} d ON d.day = n.snapshot_date
        WHERE n.deal_id IN (SELECT deal_id FROM {_CHG})""")
    con.execute("DELETE FROM deal_snapshots WHERE rowid IN (SELECT rid FROM _b2b_snap_hit)")
    # gaps and islands: a piece starts an island unless it continues the previous piece of its deal
    same = " AND ".join(f"{ident(c)} IS NOT DISTINCT FROM lag({ident(c)}) OVER w" for c in STATE)
    con.execute(f"""
        INSERT INTO deal_snapshots
        WITH marked AS (
            SELECT *, CASE WHEN lag(b) OVER w = a - 1 AND {same} THEN 0 ELSE 1 END AS island_start
            FROM {_PIECES} WINDOW w AS (PARTITION BY deal_id ORDER BY a)),
        islands AS (
            SELECT *, sum(island_start) OVER (PARTITION BY deal_id ORDER BY a) AS island FROM marked),
        merged AS (
            SELECT deal_id, island, {", ".join(f"any_value({ident(c)}) AS {ident(c)}" for c in STATE)},
                   min(a) AS a, max(b) AS b
            FROM islands GROUP BY deal_id, island)
        SELECT ds.day, m.deal_id, {", ".join(f"m.{ident(c)}" for c in STATE)}, dv.day
        FROM merged m JOIN {_DAYS} ds ON ds.i = m.a LEFT JOIN {_DAYS} dv ON dv.i = m.b + 1""")
    for t in (_F, _CHG, _DAYS, _PIECES, "_b2b_snap_hit"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    row = con.execute(f"SELECT count(*) FROM duckdb_views() WHERE view_name = '{_NEW}'").fetchone()
    con.execute(f"DROP {'VIEW' if row and row[0] else 'TABLE'} IF EXISTS {_NEW}")
