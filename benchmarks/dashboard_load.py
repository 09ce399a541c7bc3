"""How fast the dashboard's workspace opens, stays live and handles a long run.

Part 1, in real Chromium (Debian's, through Playwright): 50 runs x 2,000 steps x 10 metrics
(plus one run still logging) written through the real run API. Printed: seconds from opening
the page until every chart is drawn (target <= 2 s), the bytes the page fetched, the points
per line (downsampled to about the chart's width, each bucket's min and max kept as a band),
the redraw after toggling a run (target <= 0.5 s), and on the server one live tick for the
running run (10 new rows, fetched after the page's cursor) beside a full refetch of the same
workspace (time and bytes, interleaved rounds: the tick must cost O(new rows)).

Part 2, server side: a run with 1,000,000 logged steps x 3 metrics; the workspace's lines
for it prepared two ways, interleaved in a random order per round (median of the rounds):

- downsampled: ~600 step buckets per line with min/max (what the page gets);
- naive: every point, the same code with no bucketing.

Targets: downsampled <= 1 s, and >= 20x less data than naive. Also printed: reading the three
series the pre-v3 way (one JSON row per log call parsed in Python, ``Store.history``) next to the
packed per-key columns the store now keeps, and what keeping those columns costs the writer
(store sink batches of 1,000 rows with and without the columns, interleaved).

    python benchmarks/dashboard_load.py               # 1M steps, 3 rounds (~5 min here)
    python benchmarks/dashboard_load.py --quick       # 100k steps, 2 rounds; 20 runs in Chromium
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


def prepare_lines(store: Any, run_id: str, downsample: bool) -> tuple[float, int, int]:
    """One workspace load of a run's charts, server side: read, bucket, encode, serialise.
    Returns (seconds, payload bytes, points)."""
    from wandbkit_gradio import workspace

    start = time.perf_counter()
    run = store.get_run(run_id)
    lines, _ = workspace.chart_lines(store, [run], KEYS, max_points=600 if downsample else None)
    payload = {k: {r: workspace.encode_line(ln) for r, ln in per.items()} for k, per in lines.items()}
    body = json.dumps(payload).encode()
    points = sum(len(ln.y) for per in lines.values() for ln in per.values())
    return time.perf_counter() - start, len(body), points


WS_RUNS, WS_STEPS, WS_KEYS = 50, 2000, [f"{section}/m{i}" for section in ("train", "val")
                                        for i in range(5)]
TARGET_OPEN_S, TARGET_TOGGLE_S = 2.0, 0.5


def write_workspace_store(root: Path, runs: int, steps: int) -> Any:
    """``runs`` finished runs of ``steps`` x 10 metrics, then one run left running (returned)."""
    import wandbkit

    rng = random.Random(1)
    for r in range(runs):
        with wandbkit.init(project="ws", name=f"run-{r:02d}", dir=root, mode="disabled",
                           config={"lr": 10 ** -(1 + r % 4), "seed": r}, queue_size=200_000) as run:
            for step in range(steps):
                base = math.exp(-step / (steps / 4)) * (1 + r / runs)
                run.log({k: base * (1 + i / 10) + 0.02 * rng.random()
                         for i, k in enumerate(WS_KEYS)}, step=step)
    live = wandbkit.init(project="ws", name="live", dir=root, mode="disabled", queue_size=200_000)
    for step in range(steps):
        live.log({k: 1.0 / (step + 1) for k in WS_KEYS}, step=step)
    live.flush()
    return live


def browser_figures(root: Path, live: Any, rounds: int) -> dict[str, Any]:
    """Open the workspace in Chromium; time the first full draw, the bytes, a toggle; then
    time a live tick against a full refetch on the server (interleaved)."""
    from playwright.sync_api import sync_playwright

    from wandbkit.store import Store
    from wandbkit_gradio import workspace
    from wandbkit_gradio.app import build_app, launch

    dashboard = build_app(root, project="ws", refresh_s=0)
    url = launch(dashboard, block=False, quiet=True)
    out: dict[str, Any] = {}
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-quic", "--no-first-run", "--disable-background-networking"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=flags)
            opens, sizes = [], []
            for _ in range(rounds):
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                fetched: list[int] = []
                page.on("response", lambda r, f=fetched: f.append(len(r.body()))
                        if "component_server" in r.url else None)
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_function(
                    "n => { const r = document.querySelector('#wandbkit-workspace .wk-root');"
                    " return r && r.dataset.loads >= 1 && document.querySelectorAll("
                    "'#wandbkit-workspace .wk-panel[data-drawn]').length >= n; }",
                    arg=len(WS_KEYS), timeout=120_000)
                # navigation start to the moment the last chart was drawn, in the page's clock
                marks = page.locator("#wandbkit-workspace .wk-root").evaluate(
                    "r => [r.dataset.requestedAt, r.dataset.answeredAt, r.dataset.drawnAt]")
                requested, answered, drawn = (float(m) / 1000 for m in marks)
                opens.append(drawn)
                out.setdefault("page_ready_s", []).append(requested)
                out.setdefault("answer_s", []).append(answered - requested)
                sizes.append(sum(fetched))
                toggle = page.evaluate(
                    "() => { const box = document.querySelector('#wandbkit-workspace .wk-run input');"
                    " const t = performance.now(); box.click(); return performance.now() - t; }")
                out.setdefault("toggle_s", []).append(toggle / 1000)
                per_line = page.evaluate(
                    "() => document.querySelector('#wandbkit-workspace .wk-root').__wk"
                    ".lines['train/m0'][Object.keys(document.querySelector("
                    "'#wandbkit-workspace .wk-root').__wk.lines['train/m0'])[0]].x.length")
                page.context.close()
            browser.close()
        out.update(open_s=statistics.median(opens), bytes=statistics.median(sizes),
                   page_ready_s=statistics.median(out["page_ready_s"]),
                   answer_s=statistics.median(out["answer_s"]),
                   toggle_s=statistics.median(out["toggle_s"]), points_per_line=per_line)
    finally:
        dashboard.blocks.close()
    store = Store.open(root)
    runs = store.runs(project="ws")
    first = workspace.workspace_data(store, runs, {"width": 400})
    cursors = {live.id: first["cursors"][live.id]}
    step = WS_STEPS
    timings: dict[str, list[float]] = {"tick": [], "full": []}
    bytes_: dict[str, int] = {}
    for _ in range(rounds * 2):
        for s in range(step, step + 10):
            live.log({k: 0.5 for k in WS_KEYS}, step=s)
        live.flush()
        step += 10
        order = list(timings)
        random.shuffle(order)
        for variant in order:
            start = time.perf_counter()
            request = ({"tick": True, "cursors": cursors, "known": [r.id for r in runs]}
                       if variant == "tick" else {"width": 400})
            data = workspace.workspace_data(store, store.runs(project="ws"), request)
            body = json.dumps(data).encode()
            timings[variant].append(time.perf_counter() - start)
            bytes_[variant] = len(body)
            if variant == "tick":
                assert data["points"] == 10 * len(WS_KEYS), data["points"]
                after = data["cursors"][live.id]
        cursors = {live.id: after}
    out.update(tick_s=statistics.median(timings["tick"]), full_s=statistics.median(timings["full"]),
               tick_bytes=bytes_["tick"], full_bytes=bytes_["full"])
    return out


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
    parser.add_argument("--quick", action="store_true",
                        help="100k steps, 2 rounds; 20 runs in the browser part")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    parser.add_argument("--runs", type=int, default=None, help="finished runs in the browser part")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    steps, rounds = (100_000, 2) if args.quick else (args.steps, args.rounds)
    note = "quick" if args.quick else ""

    from wandbkit.store import Store

    out: dict[str, Any] = {"steps": steps, "metrics": len(KEYS), "rounds": rounds}
    ws_runs = args.runs or (20 if args.quick else WS_RUNS)
    if not args.no_browser:
        with tempfile.TemporaryDirectory(prefix="wandbkit-ws-bench-") as tmp:
            start = time.perf_counter()
            live = write_workspace_store(Path(tmp) / "store", ws_runs, WS_STEPS)
            written = time.perf_counter() - start
            try:
                ws = browser_figures(Path(tmp) / "store", live, rounds)
            finally:
                live.finish()
        out["workspace"] = ws
        ok_open, ok_toggle = ws["open_s"] <= TARGET_OPEN_S, ws["toggle_s"] <= TARGET_TOGGLE_S
        label = f"{ws_runs + 1} runs x {WS_STEPS:,} steps x {len(WS_KEYS)} metrics"
        record("dashboard_load", f"workspace open to every chart drawn, {label} (Chromium)",
               ws["open_s"], "s", target=f"<= {TARGET_OPEN_S:g} s", passed=ok_open, note=note)
        record("dashboard_load", "workspace redraw after toggling a run", ws["toggle_s"], "s",
               target=f"<= {TARGET_TOGGLE_S:g} s", passed=ok_toggle, note=note)
        record("dashboard_load", "live tick (10 new rows, 1 running run) / full refetch, time",
               ws["tick_s"] / ws["full_s"], "x",
               baseline=f"full: {ws['full_s'] * 1e3:.0f} ms, {ws['full_bytes'] / 1e6:.2f} MB; tick: "
               f"{ws['tick_s'] * 1e3:.1f} ms, {ws['tick_bytes'] / 1e3:.1f} kB",
               ratio=ws["tick_s"] / ws["full_s"], note=note)
        if not args.json:
            print(f"workspace: {label}, written in {written:.0f} s; {rounds} page loads, medians")
            print(f"  open -> every chart drawn : {ws['open_s']:.2f} s, {ws['bytes'] / 1e6:.2f} MB "
                  f"fetched, {ws['points_per_line']} points per line (min-max band per bucket) "
                  f"[target <= {TARGET_OPEN_S:g} s: {'met' if ok_open else 'NOT met'}]")
            print(f"    of which: Gradio's page up to the workspace's request "
                  f"{ws['page_ready_s']:.2f} s, the data's answer {ws['answer_s']:.2f} s, "
                  f"drawing {ws['open_s'] - ws['page_ready_s'] - ws['answer_s']:.2f} s")
            print(f"  toggle a run, redraw      : {ws['toggle_s'] * 1e3:.0f} ms "
                  f"[target <= {TARGET_TOGGLE_S:g} s: {'met' if ok_toggle else 'NOT met'}]")
            print(f"  live tick, 10 new rows    : {ws['tick_s'] * 1e3:.1f} ms, "
                  f"{ws['tick_bytes'] / 1e3:.1f} kB vs full refetch {ws['full_s'] * 1e3:.0f} ms, "
                  f"{ws['full_bytes'] / 1e6:.2f} MB ({ws['full_bytes'] / ws['tick_bytes']:.0f}x "
                  "fewer bytes)")
    with tempfile.TemporaryDirectory(prefix="wandbkit-dash-bench-") as tmp:
        root = Path(tmp) / "store"
        run_id, write_s = write_run(root, steps)
        out["write_s"] = write_s
        store = Store.open(root)
        prepare_lines(store, run_id, True)  # imports and first-touch outside the timing
        timings: dict[str, list[float]] = {"downsampled": [], "naive": [], "json_rows_read": [],
                                           "columns_read": []}
        sizes: dict[str, int] = {}
        points: dict[str, int] = {}
        for _ in range(rounds):
            order = list(timings)
            random.shuffle(order)
            for variant in order:
                if variant in ("downsampled", "naive"):
                    seconds, size, n = prepare_lines(store, run_id, variant == "downsampled")
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
    record("dashboard_load", f"workspace lines, {steps:,} steps x 3 metrics, downsampled "
           "(ratio: naive/downsampled time)",
           median["downsampled"], "s", baseline=f"naive (all points): {median['naive']:.3f} s",
           ratio=median["naive"] / median["downsampled"], target=f"<= {TARGET_S:g} s",
           passed=ok_time, note=note)
    record("dashboard_load", "workspace lines payload, naive / downsampled", ratio, "x",
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
    print(f"  lines, downsampled       : {median['downsampled']:.3f} s, "
          f"{sizes['downsampled'] / 1e3:,.0f} kB, {points['downsampled']:,} points "
          f"[target <= {TARGET_S:g} s: {'met' if ok_time else 'NOT met'}]")
    print(f"  lines, naive (all points): {median['naive']:.3f} s, {sizes['naive'] / 1e6:,.1f} MB, "
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
