"""How long the dashboard takes to prepare the Curves view of a long run, and how much it sends.

A run with 1,000,000 logged steps x 3 metrics is written through the real run API into a
fresh local store. Then the server-side work of one Curves view — read the three series, shape
the chart's frame, serialise the payload gradio sends to the browser — is timed two ways,
interleaved in a random order per round (median of the rounds):

- downsampled: MinMaxLTTB to <= 2,000 points per series (what the dashboard does);
- naive: every point, the same code with no downsampler.

Targets: downsampled <= 1 s, and >= 20x less data than naive. Also printed: reading the three
series the pre-v3 way (one JSON row per log call parsed in Python, ``Store.history``) next to the
packed per-key columns the store now keeps, and what keeping those columns costs the writer
(store sink batches of 1,000 rows with and without the columns, interleaved).

    python benchmarks/dashboard_load.py               # 1M steps, 3 rounds (~5 min here)
    python benchmarks/dashboard_load.py --quick       # 100k steps, 2 rounds
    python benchmarks/dashboard_load.py --steps 2000000 --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDBKIT_QUIET", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402

KEYS = ["train/loss", "train/acc", "lr"]
TARGET_S = 1.0
TARGET_RATIO = 20.0


def write_run(root: Path, steps: int) -> tuple[str, float]:
    """Log ``steps`` rows of 3 scalars through ``wandbkit.init`` (store sink only); returns the
    run id and the seconds it took, flush included."""
    import wandbkit

    rng = random.Random(0)
    start = time.perf_counter()
    with wandbkit.init(project="bench", name="long", dir=root, mode="disabled",
                       queue_size=200_000) as run:
        for step in range(steps):
            loss = 2.0 * math.exp(-step / (steps / 5)) + 0.05 * rng.random()
            if step == steps // 3:
                loss = 50.0  # one spike the chart must keep
            run.log({"train/loss": loss, "train/acc": step / steps, "lr": 1e-3}, step=step)
        run_id = run.id
    return run_id, time.perf_counter() - start


def prepare_curves(store: Any, run_id: str, downsample: bool) -> tuple[float, int, int]:
    """One Curves view, server side: read, shape, serialise. Returns (seconds, payload bytes,
    points)."""
    import gradio as gr

    from wandbkit.panels import DashboardContext
    from wandbkit_gradio import views
    from wandbkit_gradio.downsample import minmax_lttb

    start = time.perf_counter()
    ctx = DashboardContext(store=store, downsample=minmax_lttb if downsample else None)
    frame, _ = views.curves_frame(ctx, [run_id], KEYS)
    payload = gr.LinePlot(x="x", y="value", color="series").postprocess(frame)
    body = payload.model_dump_json().encode() if payload is not None else b""
    return time.perf_counter() - start, len(body), len(frame)


def read_json_rows(store: Any, run_id: str) -> float:
    """The pre-v3 read path: every history row's JSON parsed in Python."""
    start = time.perf_counter()
    history = store.history(run_id, KEYS)
    assert all(len(history[k]) > 0 for k in KEYS)
    return time.perf_counter() - start


def read_columns(store: Any, run_id: str) -> float:
    """The packed per-key columns (``Store.series``)."""
    start = time.perf_counter()
    series = store.series(run_id, KEYS)
    assert all(len(series[k][2]) > 0 for k in KEYS)
    return time.perf_counter() - start


def write_rate(root: Path, rows: int, rounds: int) -> dict[str, float]:
    """Rows/s from ``run.log`` to the store, finish included: the packed columns the store
    writes ("with columns") against one JSON history row per logged row and nothing else (the
    pre-v3 writer, :func:`store_write.v4_write` without its float copies), interleaved."""
    import functools

    from store_write import v4_write

    import wandbkit
    from wandbkit.sinks.store_sink import LocalStoreSink

    real = LocalStoreSink.write
    json_only = functools.partialmethod(v4_write, columns=False)
    times: dict[str, list[float]] = {"with columns": [], "JSON rows only": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    try:
        for _ in range(rounds):
            order = list(times)
            random.shuffle(order)
            for variant in order:
                LocalStoreSink.write = real if variant == "with columns" else json_only  # type: ignore[method-assign]
                start, start_cpu = time.perf_counter(), time.process_time()
                with wandbkit.init(project="write", dir=root, mode="disabled",
                                   queue_size=200_000) as run:
                    for step in range(rows):
                        run.log({"train/loss": step * 1e-6, "train/acc": 0.5, "lr": 1e-3},
                                step=step)
                times[variant].append(rows / (time.perf_counter() - start))
                cpu[variant].append((time.process_time() - start_cpu) / rows * 1e6)
    finally:
        LocalStoreSink.write = real  # type: ignore[method-assign]
    out = {k: statistics.median(v) for k, v in times.items()}
    out.update({f"{k} cpu_us_per_row": statistics.median(v) for k, v in cpu.items()})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100k steps, 2 rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    steps, rounds = (100_000, 2) if args.quick else (args.steps, args.rounds)
    note = "quick" if args.quick else ""

    from wandbkit.store import Store

    out: dict[str, Any] = {"steps": steps, "metrics": len(KEYS), "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="wandbkit-dash-bench-") as tmp:
        root = Path(tmp) / "store"
        run_id, write_s = write_run(root, steps)
        out["write_s"] = write_s
        store = Store.open(root)
        prepare_curves(store, run_id, True)  # imports and first-touch outside the timing
        timings: dict[str, list[float]] = {"downsampled": [], "naive": [], "json_rows_read": [],
                                           "columns_read": []}
        sizes: dict[str, int] = {}
        points: dict[str, int] = {}
        for _ in range(rounds):
            order = list(timings)
            random.shuffle(order)
            for variant in order:
                if variant in ("downsampled", "naive"):
                    seconds, size, n = prepare_curves(store, run_id, variant == "downsampled")
                    sizes[variant], points[variant] = size, n
                elif variant == "json_rows_read":
                    seconds = read_json_rows(store, run_id)
                else:
                    seconds = read_columns(store, run_id)
                timings[variant].append(seconds)
        median = {k: statistics.median(v) for k, v in timings.items()}
        rate = write_rate(Path(tmp) / "write", 20_000 if args.quick else 100_000,
                          rounds if args.quick else max(rounds, 5))

    ratio = sizes["naive"] / max(sizes["downsampled"], 1)
    out.update({"prepare_s": median, "payload_bytes": sizes, "points": points,
                "payload_ratio": ratio, "write_rows_per_s": rate,
                "load_avg": os.getloadavg()})
    ok_time, ok_ratio = median["downsampled"] <= TARGET_S, ratio >= TARGET_RATIO
    record("dashboard_load", f"Curves view, {steps:,} steps x 3 metrics, downsampled "
           "(ratio: naive/downsampled time)",
           median["downsampled"], "s", baseline=f"naive (all points): {median['naive']:.3f} s",
           ratio=median["naive"] / median["downsampled"], target=f"<= {TARGET_S:g} s",
           passed=ok_time, note=note)
    record("dashboard_load", "Curves payload, naive / downsampled", ratio, "x",
           baseline=f"naive: {sizes['naive'] / 1e6:,.1f} MB; downsampled: "
           f"{sizes['downsampled'] / 1e3:,.0f} kB", ratio=ratio, target=f">= {TARGET_RATIO:g}x",
           passed=ok_ratio, note=note)
    record("dashboard_load", "history read: JSON rows / packed columns",
           median["json_rows_read"] / median["columns_read"], "x",
           baseline=f"JSON rows: {median['json_rows_read']:.2f} s; columns: "
           f"{median['columns_read']:.3f} s",
           note=note)
    record("dashboard_load", "store write rate with columns / JSON only",
           rate["with columns"] / rate["JSON rows only"], "x",
           baseline=f"JSON rows only: {rate['JSON rows only']:,.0f} rows/s; with columns: "
           f"{rate['with columns']:,.0f} rows/s",
           note=note)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"run: {steps:,} steps x {len(KEYS)} metrics, written through wandbkit.init in "
          f"{write_s:.1f} s; {rounds} rounds, medians (load average {os.getloadavg()[0]:.1f} "
          "on a shared machine)")
    print(f"  Curves view, downsampled : {median['downsampled']:.3f} s, "
          f"{sizes['downsampled'] / 1e3:,.0f} kB, {points['downsampled']:,} points "
          f"[target <= {TARGET_S:g} s: {'met' if ok_time else 'NOT met'}]")
    print(f"  Curves view, naive       : {median['naive']:.3f} s, {sizes['naive'] / 1e6:,.1f} MB, "
          f"{points['naive']:,} points")
    print(f"  payload naive/downsampled: {ratio:,.0f}x [target >= {TARGET_RATIO:g}x: "
          f"{'met' if ok_ratio else 'NOT met'}]; time naive/downsampled "
          f"{median['naive'] / median['downsampled']:.1f}x")
    print(f"  read 3 series: JSON rows {median['json_rows_read']:.2f} s vs packed columns "
          f"{median['columns_read']:.3f} s "
          f"({median['json_rows_read'] / median['columns_read']:.0f}x)")
    print(f"  store sink write, 3 scalars: {rate['with columns']:,.0f} rows/s with columns vs "
          f"{rate['JSON rows only']:,.0f} rows/s JSON rows only "
          f"({rate['with columns'] / rate['JSON rows only']:.2f}x); CPU of the process "
          f"{rate['with columns cpu_us_per_row']:.1f} vs {rate['JSON rows only cpu_us_per_row']:.1f}"
          " us/row (run.log to the store, all threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
