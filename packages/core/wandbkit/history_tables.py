"""Reading a run's history out of the store's tables, whichever wandbkit wrote it.

Two layouts live side by side (see the v5 entry of ``wandbkit.store.CORE_MIGRATIONS``):

- rows written before v5: one ``history`` row per logged row holding the whole row as JSON
  (``seq`` NULL), with, from v3 on, packed float64 copies of its numbers in ``history_columns``
  (also ``seq`` NULL);
- packed batches (v5): the numbers in ``history_columns`` chunks (``seq`` set), the rest in
  ``history`` residue rows (``seq`` set), see :mod:`wandbkit.history_columns`.

A run's rows are numbered in logging order from 0 (the older layout's first, in ``rowid``
order); that number is the cursor of :meth:`wandbkit.store.Store.rows_since`. A store left at an
older schema (opened read-only, unmigrated) has only the first layout: ``legacy`` readers skip
the columns it does not have.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from wandbkit.history_columns import ROWS_KEY, chunk_values, unpack_batch

if TYPE_CHECKING:
    import numpy as np

PACKED_SINCE = 5  # the core schema version that writes packed batches
# Chunks are found by key for whole reads and by row number for reads from a cursor on; the
# planner, without statistics, would pick the second for both (and sort whole runs' blobs).
BY_KEY = "INDEXED BY history_columns_run_key"
BY_SEQ = "INDEXED BY history_columns_run_seq"
Arrays = tuple["np.ndarray", "np.ndarray", "np.ndarray"]


def is_legacy(conn: sqlite3.Connection) -> bool:
    """True when the store's core schema predates packed batches (read it the old way)."""
    row = conn.execute("SELECT version FROM schema_versions WHERE component='core'").fetchone()
    return row is None or int(row[0]) < PACKED_SINCE


def _old(legacy: bool) -> str:
    return "" if legacy else " AND seq IS NULL"


def old_count(conn: sqlite3.Connection, run_id: str, legacy: bool) -> int:
    """How many of the run's rows were written before packed batches."""
    if not legacy:
        # the first packed batch was numbered after the rows before it (see the store sink)
        first = conn.execute(f"SELECT MIN(seq) FROM history_columns {BY_SEQ} WHERE run_id=?"
                             " AND seq>=0", (run_id,)).fetchone()[0]
        if first is not None:
            return int(first)
    return conn.execute("SELECT COUNT(*) FROM history WHERE run_id=?", (run_id,)).fetchone()[0]


def _batch_at(conn: sqlite3.Connection, run_id: str, number: int) -> int:
    """The first row number of the packed batch holding row ``number`` (or of the first one)."""
    found = conn.execute(f"SELECT MAX(seq) FROM history_columns {BY_SEQ} WHERE run_id=? AND seq<=?",
                         (run_id, number)).fetchone()[0]
    return -1 if found is None else int(found)


def packed_rows(conn: sqlite3.Connection, run_id: str, legacy: bool) -> int:
    """How many of the run's rows are in packed batches."""
    if legacy:
        return 0
    return int(conn.execute("SELECT total(n) FROM history_columns WHERE run_id=? AND key=?"
                            " AND seq IS NOT NULL", (run_id, ROWS_KEY)).fetchone()[0])


def row_total(conn: sqlite3.Connection, run_id: str, legacy: bool) -> int:
    """The run's row count, both layouts: the cursor after its last row."""
    return old_count(conn, run_id, legacy) + packed_rows(conn, run_id, legacy)


def iter_rows(conn: sqlite3.Connection, run_id: str, legacy: bool, start: int = 0,
              limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """The run's rows from row number ``start`` on (at most ``limit``), in logging order."""
    if limit is not None and limit <= 0:
        return
    n_old = old_count(conn, run_id, legacy)
    left = limit
    if start < n_old:
        for step, data in conn.execute(
                f"SELECT step, data FROM history WHERE run_id=?{_old(legacy)} ORDER BY rowid"
                " LIMIT ? OFFSET ?", (run_id, -1 if left is None else left, start)):
            yield step, json.loads(data)
            if left is not None:
                left -= 1
        if left == 0:
            return
    if legacy:
        return
    batches = conn.execute(
        f"SELECT seq, n, steps, vals FROM history_columns {BY_SEQ} WHERE run_id=? AND seq>=?"
        " AND key=? ORDER BY seq", (run_id, _batch_at(conn, run_id, start), ROWS_KEY)).fetchall()
    for seq, n, steps, order in batches:
        rows = read_batch(conn, run_id, seq, n, steps, order, max(0, start - seq))
        if left is not None:
            rows = rows[:left]
            left -= len(rows)
        yield from rows
        if left == 0:
            return


def read_batch(conn: sqlite3.Connection, run_id: str, seq: int, n: int, steps: bytes,
               order: bytes, start: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """One packed batch's rows from its row ``start`` on, decoded."""
    chunks = conn.execute(f"SELECT key, kind, rows, vals FROM history_columns {BY_SEQ} WHERE"
                          " run_id=? AND seq=? AND key!=? ORDER BY rowid",
                          (run_id, seq, ROWS_KEY)).fetchall()
    residues = conn.execute("SELECT seq, data FROM history WHERE run_id=? AND seq>=? AND seq<?"
                            " ORDER BY seq", (run_id, seq, seq + n)).fetchall()
    return unpack_batch(n, steps, order, chunks, [(s - seq, d) for s, d in residues], start)


def numeric_since(conn: sqlite3.Connection, run_id: str, wanted: list[str], since: int,
                  legacy: bool) -> tuple[dict[str, Arrays], int]:
    """``{key: (steps, times, values)}`` of the numbers logged in rows numbered ``since`` or
    later, in logging order (bools as 0/1), and the run's row count. Call inside one read
    transaction so both agree."""
    import numpy as np

    n_old = old_count(conn, run_id, legacy)
    old = _old_numbers(conn, run_id, wanted, since, n_old, legacy) if since < n_old else {}
    new, n_new = ({}, 0) if legacy else _packed_numbers(conn, run_id, wanted, since)
    out: dict[str, Arrays] = {}
    for key in wanted:
        parts = [p for p in (old.get(key), new.get(key)) if p is not None]
        if len(parts) == 1:
            out[key] = parts[0]
        elif parts:
            out[key] = tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[assignment]
    return out, n_old + n_new


def _old_numbers(conn: sqlite3.Connection, run_id: str, wanted: list[str], since: int,
                 n_old: int, legacy: bool) -> dict[str, Arrays]:
    """The older layout's numbers: from its packed copies when they cover its rows and
    ``since`` falls between their batches, else parsed out of the JSON rows."""
    import numpy as np

    old = _old(legacy)
    batches = conn.execute(f"SELECT rowid, n FROM history_columns WHERE run_id=? AND key=?{old}"
                           " ORDER BY rowid", (run_id, ROWS_KEY)).fetchall()
    sizes = np.asarray([n for _, n in batches], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    if int(sizes.sum()) == n_old and since in set(starts.tolist()):
        first_rowids = np.asarray([r for r, _ in batches], dtype=np.int64)
        out = {}
        for key in wanted:
            chunks = conn.execute(f"SELECT rowid, steps, times, vals FROM history_columns"
                                  f" WHERE run_id=? AND key=?{old} ORDER BY rowid",
                                  (run_id, key)).fetchall()
            # a key's chunk belongs to the batch whose row-count chunk precedes it
            at = np.searchsorted(first_rowids, [c[0] for c in chunks], side="right") - 1
            chunks = [c for c, b in zip(chunks, at, strict=True) if starts[b] >= since]
            if chunks:
                out[key] = (np.frombuffer(b"".join(c[1] for c in chunks), dtype="<i8"),
                            np.frombuffer(b"".join(c[2] for c in chunks), dtype="<f8"),
                            np.frombuffer(b"".join(c[3] for c in chunks), dtype="<f8"))
        return out
    rows = conn.execute(f"SELECT step, time, data FROM history WHERE run_id=?{old} ORDER BY rowid"
                        " LIMIT -1 OFFSET ?", (run_id, since)).fetchall()
    return numbers_of_json_rows(rows, wanted)


def _packed_numbers(conn: sqlite3.Connection, run_id: str, wanted: list[str], since: int
                    ) -> tuple[dict[str, Arrays], int]:
    """The packed batches' numbers from row ``since`` on, and how many rows they hold."""
    import numpy as np

    total = packed_rows(conn, run_id, False)
    lo = _batch_at(conn, run_id, since)
    if lo < 0:  # before the first packed batch: read them all, by key
        batches = conn.execute(f"SELECT seq, n, steps, times FROM history_columns {BY_KEY}"
                               " WHERE run_id=? AND key=? AND seq IS NOT NULL ORDER BY rowid",
                               (run_id, ROWS_KEY)).fetchall()
    else:  # from the batch holding row ``since`` on (a live view's tick)
        batches = conn.execute(f"SELECT seq, n, steps, times FROM history_columns {BY_SEQ}"
                               " WHERE run_id=? AND seq>=? AND key=? ORDER BY seq",
                               (run_id, lo, ROWS_KEY)).fetchall()
    batches = [b for b in batches if b[0] + b[1] > since]
    if not batches or not wanted:
        return {}, total
    seqs = [b[0] for b in batches]
    start_of: dict[int, int] = {}
    offset = 0
    for seq, n, _, _ in batches:
        start_of[seq] = offset
        offset += n
    all_steps = np.frombuffer(b"".join(b[2] for b in batches), dtype="<i8")
    all_times = np.frombuffer(b"".join(b[3] for b in batches), dtype="<f8")
    first = seqs[0]
    out: dict[str, Arrays] = {}
    for key in wanted:
        query = (f"SELECT seq, n, kind, rows, vals FROM history_columns {BY_KEY} WHERE run_id=?"
                 " AND key=? AND seq>=? ORDER BY rowid" if lo < 0 else
                 f"SELECT seq, n, kind, rows, vals FROM history_columns {BY_SEQ} WHERE run_id=?"
                 " AND seq>=? AND key=? ORDER BY seq, rowid")
        args = (run_id, key, first) if lo < 0 else (run_id, first, key)
        chunks = [c for c in conn.execute(query, args) if c[0] in start_of]
        if not chunks:
            continue
        values = [chunk_values(c[2], c[4]) for c in chunks]
        if all(c[3] is None for c in chunks) and [c[0] for c in chunks] == seqs:
            # the usual key: every row of every batch, so the batches' steps and times are its own
            steps, times = all_steps, all_times
            vals = np.concatenate(values) if len(values) > 1 else values[0]
            ordinal = None if since <= first else np.concatenate(
                [np.arange(seq, seq + n) for seq, n, *_ in batches])
        else:
            index = [np.arange(c[1]) if c[3] is None else np.frombuffer(c[3], dtype="<u4")
                     .astype(np.int64) for c in chunks]
            pos = np.concatenate([start_of[c[0]] + i for c, i in zip(chunks, index, strict=True)])
            ordinal = np.concatenate([c[0] + i for c, i in zip(chunks, index, strict=True)])
            vals = np.concatenate(values)
            if len(pos) > 1 and np.any(pos[1:] < pos[:-1]):  # a key with two value types
                sort = np.argsort(pos, kind="stable")
                pos, ordinal, vals = pos[sort], ordinal[sort], vals[sort]
            steps, times = all_steps[pos], all_times[pos]
        if ordinal is not None and since > first:
            keep = ordinal >= since
            steps, times, vals = steps[keep], times[keep], vals[keep]
        if len(vals):
            out[key] = (steps, times, vals)
    return out, total


def numbers_of_json_rows(rows: list[tuple[int, float, str]], wanted: list[str]) -> dict[str, Arrays]:
    """The numeric values of ``wanted`` keys in JSON history rows ``(step, time, data)``."""
    import numpy as np

    found: dict[str, tuple[list[int], list[float], list[float]]] = {}
    for step, t, data in rows:
        values = json.loads(data)
        for key in wanted:
            value = values.get(key)
            if isinstance(value, (int, float)):
                col = found.setdefault(key, ([], [], []))
                col[0].append(step)
                col[1].append(t)
                col[2].append(_as_float(value))
    return {key: (np.asarray(s, dtype=np.int64), np.asarray(t, dtype=np.float64),
                  np.asarray(v, dtype=np.float64)) for key, (s, t, v) in found.items()}


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def last_step(conn: sqlite3.Connection, run_id: str, legacy: bool) -> int | None:
    """The largest step the run logged history or media at, or None."""
    found = conn.execute("SELECT MAX(m) FROM (SELECT MAX(step) AS m FROM history WHERE run_id=?"
                         " UNION ALL SELECT MAX(step) FROM media WHERE run_id=?)",
                         (run_id, run_id)).fetchone()[0]
    if not legacy:
        packed = conn.execute("SELECT MAX(step_max) FROM history_columns WHERE run_id=? AND key=?"
                              " AND seq IS NOT NULL", (run_id, ROWS_KEY)).fetchone()[0]
        if packed is not None and (found is None or packed > found):
            found = packed
    return None if found is None else int(found)


def distinct_steps(conn: sqlite3.Connection, run_id: str, legacy: bool) -> int:
    """How many different steps the run logged history at."""
    import numpy as np

    old = np.asarray([r[0] for r in conn.execute(
        "SELECT DISTINCT step FROM history WHERE run_id=?", (run_id,))], dtype=np.int64)
    if legacy:
        return len(old)
    packed = [np.frombuffer(r[0], dtype="<i8") for r in conn.execute(
        "SELECT steps FROM history_columns WHERE run_id=? AND key=? AND seq IS NOT NULL",
        (run_id, ROWS_KEY))]
    if not packed:
        return len(old)
    return len(np.unique(np.concatenate([old, *packed])))
