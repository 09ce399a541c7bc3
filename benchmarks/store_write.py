"""What the local store costs per logged row at 100 scalars: v4's JSON rows against the packed
columns the store now writes, both measured in this run, interleaved in a random order per round
(medians of the rounds).

Two figures per variant:

- **sink write**: CPU of ``LocalStoreSink.write`` alone, batches of 1,000 rows (what the flusher
  hands it when logging is fast), SQLite included;
- **store alone, end to end**: CPU of the whole process per row from the first ``run.log`` to
  ``finish()`` returning, ``wandbkit.init(sinks=["store"])``: the training thread's ``log``, the
  flusher's conversion and the sink, every thread counted.

The baseline is v4's write (kept below, verbatim but for names): one ``history`` row per logged
row with its scalars as JSON, a Python loop over every value, and packed float64 copies built
beside it. Target: the store's end-to-end CPU per row <= 20 us.

    python benchmarks/store_write.py              # 20,000 rows x 5 rounds
    python benchmarks/store_write.py --quick      # 4,000 rows x 3 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("WANDBKIT_QUIET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402

TARGET_US = 20.0
SCALARS = 100
BATCH = 1_000


def metrics_of(size: int) -> dict[str, float]:
    """``size`` namespaced float scalars (the same shape as ``log_overhead.py`` logs)."""
    return {f"train/m{i:03d}": 0.5 + i * 1e-3 for i in range(size)}


def v4_write(sink: Any, rows: list[Any], columns: bool = True) -> None:
    """Schema v4's ``LocalStoreSink.write``: the baseline (history rows as JSON + float copies;
    ``columns=False``: the JSON rows only, as before v3)."""
    import numpy as np

    from wandbkit.media import MEDIA_TYPES
    from wandbkit.store import dumps, now

    history: list[tuple[Any, ...]] = []
    media: list[tuple[Any, ...]] = []
    new_keys: list[tuple[str, str]] = []
    entries: list[tuple[int, float, dict[str, Any]]] = []
    for row in rows:
        scalars = {}
        for key, value in row.values.items():
            if isinstance(value, MEDIA_TYPES):
                media.append(sink._media_row(row, key, value))
                continue
            scalars[key] = value
            if key not in sink.summary:
                new_keys.append((sink.run_id, key))
            sink.summary[key] = value
            if sink.metrics.definitions:
                sink.metrics.observe(key, value)
        if scalars:
            history.append((sink.run_id, row.step, row.time, dumps(scalars)))
            entries.append((row.step, row.time, scalars))
    chunks: list[tuple[Any, ...]] = []
    if entries and columns:  # v4's history_column_rows, fast path (every row the same numeric keys)
        steps = np.fromiter((e[0] for e in entries), dtype="<i8", count=len(entries))
        times = np.fromiter((e[1] for e in entries), dtype="<f8", count=len(entries))
        chunks.append((sink.run_id, "", len(entries), steps.tobytes(), times.tobytes(), b""))
        keys = tuple(entries[0][2])
        matrix = np.array([list(e[2].values()) for e in entries]).astype("<f8")
        chunks += [(sink.run_id, key, len(entries), steps.tobytes(), times.tobytes(),
                     np.ascontiguousarray(matrix[:, j]).tobytes()) for j, key in enumerate(keys)]
    sink.conn.execute("BEGIN")
    sink.conn.executemany("INSERT INTO history (run_id, step, time, data) VALUES (?,?,?,?)", history)
    sink.conn.executemany("INSERT INTO history_columns (run_id, key, n, steps, times, vals)"
                          " VALUES (?,?,?,?,?,?)", chunks)
    if new_keys:
        sink.conn.executemany("INSERT OR IGNORE INTO run_keys VALUES (?,?)", new_keys)
    sink.conn.execute("UPDATE runs SET summary=?, heartbeat_at=? WHERE id=?",
                      (dumps(sink._summary()), now(), sink.run_id))
    sink.conn.execute("COMMIT")


VARIANTS = ("v4 JSON rows", "packed columns")


def _use(variant: str) -> None:
    from wandbkit.sinks.store_sink import LocalStoreSink

    if variant == VARIANTS[0]:
        LocalStoreSink.write = v4_write  # type: ignore[method-assign]
    else:
        LocalStoreSink.write = REAL_WRITE  # type: ignore[method-assign]


def sink_write_us(root: Path, rows: int) -> float:
    """CPU us per row of the sink's ``write`` alone, ``rows`` rows in batches of ``BATCH``."""
    import wandbkit
    from wandbkit.rows import Row
    from wandbkit.sinks.store_sink import LocalStoreSink

    metrics = metrics_of(SCALARS)
    with wandbkit.init(project="store-write", dir=root, mode="disabled", sinks=["store"]) as run:
        sink = LocalStoreSink(root)
        sink.start(run)  # a second writer of this run's record: its own rows, its own connection
        spent = 0.0
        t0 = time.time()
        for first in range(0, rows, BATCH):
            batch = [Row(s, t0 + s * 1e-3, dict(metrics)) for s in range(first, first + BATCH)]
            start = time.process_time()
            sink.write(batch)
            spent += time.process_time() - start
        sink.conn.close()
    return spent / rows * 1e6


def end_to_end_us(root: Path, rows: int) -> tuple[float, float, int]:
    """CPU us per row of this process, first ``log`` to ``finish``; rows/s; rows stored."""
    import wandbkit
    from wandbkit.store import Store

    metrics = metrics_of(SCALARS)
    run = wandbkit.init(project="store-write", dir=root, mode="disabled", sinks=["store"],
                        queue_size=200_000)
    start, start_cpu = time.perf_counter(), time.process_time()
    for step in range(rows):
        run.log(metrics, step=step)
    run.finish()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return cpu / rows * 1e6, rows / wall, Store.open(root).row_count(run.id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="4,000 rows, 3 rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    rows, rounds = (4_000, 3) if args.quick else (args.rows, args.rounds)
    note = "quick" if args.quick else ""
    sink: dict[str, list[float]] = {v: [] for v in VARIANTS}
    e2e: dict[str, list[float]] = {v: [] for v in VARIANTS}
    rate: dict[str, list[float]] = {v: [] for v in VARIANTS}
    stored: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="wandbkit-store-write-") as tmp:
        _use(VARIANTS[1])
        end_to_end_us(Path(tmp) / "warm", 500)  # imports and first-touch outside the timing
        for r in range(rounds):
            order = list(VARIANTS)
            random.shuffle(order)
            for variant in order:
                _use(variant)
                root = Path(tmp) / f"{r}-{VARIANTS.index(variant)}"
                sink[variant].append(sink_write_us(root, rows))
                cpu, per_s, n = end_to_end_us(root, rows)
                e2e[variant].append(cpu)
                rate[variant].append(per_s)
                stored[variant] = n
        _use(VARIANTS[1])
    med = {name: {v: statistics.median(x[v]) for v in VARIANTS}
           for name, x in (("sink", sink), ("e2e", e2e), ("rate", rate))}
    old, new = VARIANTS
    ok = med["e2e"][new] <= TARGET_US
    record("store_write", f"store alone, CPU per row at {SCALARS} scalars (end to end)",
           med["e2e"][new], "us", baseline=f"v4 JSON rows: {med['e2e'][old]:.1f} us",
           ratio=med["e2e"][new] / med["e2e"][old], target=f"<= {TARGET_US:g} us", passed=ok,
           note=note)
    record("store_write", f"store sink write, CPU per row at {SCALARS} scalars",
           med["sink"][new], "us", baseline=f"v4 JSON rows: {med['sink'][old]:.1f} us",
           ratio=med["sink"][new] / med["sink"][old], note=note)
    if args.json:
        print(json.dumps({"rows": rows, "rounds": rounds, "medians": med, "stored": stored,
                          "samples": {"sink": sink, "e2e": e2e}}, indent=2))
        return 0
    print(f"{SCALARS} scalars a row, {rows:,} rows x {rounds} rounds, interleaved; medians "
          f"(load average {os.getloadavg()[0]:.1f} on a shared machine)")
    for label, key, unit in (("sink write, CPU per row", "sink", "us"),
                             ("store alone end to end, CPU per row", "e2e", "us"),
                             ("store alone end to end, rows/s", "rate", "rows/s")):
        a, b = med[key][old], med[key][new]
        print(f"  {label:38s}: v4 JSON rows {a:9,.1f} {unit}   packed columns {b:9,.1f} {unit}"
              f"   ({a / b:.1f}x)" if unit == "us" else
              f"  {label:38s}: v4 JSON rows {a:9,.0f} {unit}   packed columns {b:9,.0f} {unit}")
    print(f"  target: store alone <= {TARGET_US:g} us/row: {'met' if ok else 'NOT met'}; rows "
          f"stored in the last round: {stored}")
    return 0


from wandbkit.sinks.store_sink import LocalStoreSink as _Sink  # noqa: E402

REAL_WRITE = _Sink.write

if __name__ == "__main__":
    sys.exit(main())
