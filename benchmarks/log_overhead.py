"""What logging costs the training thread: plain dict vs raw ``wandb.log`` vs ``wandbkit``.

Run it: ``python benchmarks/log_overhead.py`` (about 2-3 minutes on 2 cores), ``--quick`` for a
smoke run with small counts, ``--json`` for the figures as one JSON object on stdout (the table
then goes to stderr).

In one process, with the same values, for 10 and for 100 scalars per call, it measures

* (a) a plain ``rows.append(dict(metrics))``, (b) raw ``wandb.log`` offline, (c) ``run.log``
  of ``wandbkit.init(mode="offline")`` with both sinks (W&B worker process + SQLite store);
* hot-path cost: the calling thread's wall time over N calls in a tight loop / N (a mean, so
  time lost waiting on the flusher or the GIL counts), plus p50/p99 from a second pass that times
  each call with ``perf_counter_ns``;
* loop slowdown: per-step time added by one log call to a loop whose step is a ~1 ms numpy
  matrix product (BLAS pinned to one thread; the product releases the GIL), against the same loop
  without logging, in interleaved blocks whose order rotates every round;
* delivery: rows/s from the first ``log`` to ``finish()`` returning, and the rows W&B recorded
  (read back with ``wandb leet inspect --json``) and the store holds; also each sink alone;
* ``wandbkit.init()`` wall time vs ``wandb.init()``: the first call in the process and a later one.

Every figure is printed with the ratio (c)/(b) and the target beside it, PASS or MISS.
"""

from __future__ import annotations

import os

# Pin BLAS to one thread BEFORE numpy is imported (numpy is imported below, in main), so the
# "~1 ms of work" step uses one core and the other core is left to the logging machinery.
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
for _var in BLAS_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

SIZES = (10, 100)
LOGGERS = ("a", "b", "c")
LABELS = {"a": "(a) plain dict append", "b": "(b) raw wandb.log offline",
          "c": "(c) wandbkit run.log (both sinks)"}
PROJECT = "log-overhead-bench"
RATIO_TARGET = 0.1
DELIVERY_TARGET = 5_000.0  # rows/s of 10 scalars, both sinks
INIT_TARGET_S = 0.020


@dataclass(frozen=True)
class Plan:
    """How many calls, steps and rounds to measure; ``QUICK`` only checks that it all runs."""

    tight_b: dict[int, int]      # raw wandb.log calls in the tight loop (and in the p99 pass)
    tight_ac: dict[int, int]     # plain / wandbkit calls (wandbkit: also its delivery run)
    per_call: dict[int, int]     # calls timed one by one for p50/p99 (a and c)
    rounds: int                  # loop-slowdown rounds; each has one block per variant
    block_steps: int             # steps per block
    settle_s: float              # longest wait for our child processes to go idle


FULL = Plan(tight_b={10: 2_000, 100: 1_000}, tight_ac={10: 10_000, 100: 2_000},
            per_call={10: 2_000, 100: 1_000}, rounds=8, block_steps=300, settle_s=5.0)
QUICK = Plan(tight_b={10: 150, 100: 80}, tight_ac={10: 600, 100: 300},
             per_call={10: 150, 100: 80}, rounds=2, block_steps=40, settle_s=2.0)


# --- environment ---------------------------------------------------------------------------


def isolate_environment() -> Path:
    """Send every W&B and wandbkit file to a fresh temp folder; offline, silent."""
    root = Path(tempfile.mkdtemp(prefix="wandbkit-bench-"))
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR",
                "WANDB_ARTIFACT_DIR"):
        os.environ[var] = str(root / "wandb-home")
    os.environ["WANDBKIT_DIR"] = str(root / "store")
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDBKIT_QUIET="1")
    os.environ.pop("WANDB_API_KEY", None)
    (root / "wandb-home").mkdir()
    return root


def blas_pinning() -> str:
    """Pin BLAS with threadpoolctl when installed; say how it was pinned."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pinned = ", ".join(f"{v}=1" for v in BLAS_VARS[:3])
        return f"env vars ({pinned}, ...) set before numpy import"
    threadpool_limits(1)
    return "threadpoolctl.threadpool_limits(1) + env vars set before numpy import"


# --- waiting for quiet ---------------------------------------------------------------------


class Quiet:
    """Waits (uncounted) until this process's children — W&B worker, wandb-core — are idle.

    Otherwise work queued by one block (a W&B worker behind on its rows) would slow the next
    block, e.g. the baseline, and hide the cost from the block that caused it.
    """

    def __init__(self, max_s: float) -> None:
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.max_s = max_s
        self.timeouts = 0

    def children_cpu(self) -> float:
        """CPU seconds used so far by this process's live descendants."""
        total = 0.0
        for child in self.me.children(recursive=True):
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                continue
        return total

    def wait(self) -> None:
        """Return once the children use < 10% of a core over 0.1 s, or after ``max_s``."""
        deadline = time.monotonic() + self.max_s
        while time.monotonic() < deadline:
            before = self.children_cpu()
            time.sleep(0.1)
            if self.children_cpu() - before < 0.01:
                gc.collect()
                return
        self.timeouts += 1
        gc.collect()


# --- what is logged ------------------------------------------------------------------------


def metrics_of(size: int) -> dict[str, float]:
    """``size`` namespaced float scalars; the same dict is logged by every variant."""
    return {f"train/m{i:03d}": 0.5 + i * 1e-3 for i in range(size)}


class PlainLog:
    """Variant (a): what a hand-rolled logger does at minimum — keep a copy of the dict."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def log(self, metrics: dict[str, Any]) -> None:
        """Append a copy (the caller may reuse its dict)."""
        self.rows.append(dict(metrics))


def wait_for_wandb(run: Any, timeout: float = 120.0) -> float:
    """Seconds until wandbkit's W&B worker reported that ``wandb.init`` finished."""
    start = time.perf_counter()
    while not run.wandb:
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"the W&B worker of run {run.id} did not start in {timeout:.0f} s")
        time.sleep(0.01)
    return time.perf_counter() - start


# --- hot path ------------------------------------------------------------------------------


def tight_loop(log: Callable[[dict[str, Any]], None], metrics: dict[str, Any], n: int) -> float:
    """Mean µs per call over ``n`` back-to-back calls (includes any waiting they cause)."""
    start = time.perf_counter_ns()
    for _ in range(n):
        log(metrics)
    return (time.perf_counter_ns() - start) / n / 1_000


def per_call(log: Callable[[dict[str, Any]], None], metrics: dict[str, Any],
             n: int) -> dict[str, float]:
    """Time each call on its own: mean, p50, p99 and max in µs (timer overhead included)."""
    clock = time.perf_counter_ns
    times = [0] * n
    for i in range(n):
        start = clock()
        log(metrics)
        times[i] = clock() - start
    times.sort()
    return {"mean_us": sum(times) / n / 1_000, "p50_us": times[n // 2] / 1_000,
            "p99_us": times[min(n - 1, math.ceil(0.99 * n) - 1)] / 1_000,
            "max_us": times[-1] / 1_000, "n": n}


# --- loop slowdown -------------------------------------------------------------------------


def make_step(target_s: float = 0.001) -> tuple[Callable[[], None], int, float]:
    """A step of ~``target_s`` of single-threaded BLAS (releases the GIL): the work unit."""
    import numpy as np

    rng = np.random.default_rng(0)
    best: tuple[float, int] | None = None
    for n in (96, 128, 160, 192, 224, 256, 288, 320, 384, 448, 512):
        a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        out = np.empty((n, n))
        np.matmul(a, b, out=out)
        samples = []
        for _ in range(15):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            samples.append(time.perf_counter() - start)
        median = sorted(samples)[len(samples) // 2]
        if best is None or abs(median - target_s) < abs(best[0] - target_s):
            best = (median, n)
        if median > target_s * 1.5:
            break
    assert best is not None
    n = best[1]
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))

    def step() -> None:
        np.matmul(a, b, out=out)

    return step, n, best[0]


def block(step: Callable[[], None], log: Callable[[dict[str, Any]], None] | None,
          metrics: dict[str, Any], steps: int) -> float:
    """Mean seconds per step over ``steps`` steps, logging once per step unless ``log`` is None."""
    if log is None:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps
    start = time.perf_counter()
    for _ in range(steps):
        step()
        log(metrics)
    return (time.perf_counter() - start) / steps


def loop_slowdown(step: Callable[[], None], loggers: dict[str, Any], metrics: dict[str, Any],
                  plan: Plan, quiet: Quiet, after: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Per-step µs added by each logger vs. the unlogged baseline of the same round.

    Each round runs one block per variant (baseline, a, b, c) in an order rotated every round,
    so slow drift of the shared machine hits every variant alike; the added time is the paired
    difference with the round's baseline, averaged over rounds (mean ± standard error).
    """
    variants = ["base", *LOGGERS]
    per_step: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    for r in range(plan.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for variant in order:
            quiet.wait()
            log = None if variant == "base" else loggers[variant]
            own, children = time.process_time(), quiet.children_cpu()
            per_step[variant].append(block(step, log, metrics, plan.block_steps))
            if variant in after:
                after[variant]()  # e.g. hand wandbkit's last rows to the sinks (uncounted)
            quiet.wait()  # the children's CPU for this block's rows, counted below
            cpu[variant].append(((time.process_time() - own) / plan.block_steps,
                                 (quiet.children_cpu() - children) / plan.block_steps))
    base = per_step["base"]
    out: dict[str, Any] = {"base_step_ms": sum(base) / len(base) * 1e3,
                           "rounds": plan.rounds, "steps_per_block": plan.block_steps}
    for name in LOGGERS:
        diffs = [(x - b) * 1e6 for x, b in zip(per_step[name], base, strict=True)]
        mean = sum(diffs) / len(diffs)
        var = sum((d - mean) ** 2 for d in diffs) / max(1, len(diffs) - 1)
        out[name] = {"added_us": mean, "stderr_us": math.sqrt(var / len(diffs)),
                     "step_ms": sum(per_step[name]) / len(per_step[name]) * 1e3}
    for name in variants:
        # CPU per step: this process (all threads: training, flusher, wandb's asyncio thread)
        # and its child processes (wandbkit's W&B worker, wandb-core), including the work a
        # block left behind. Shows where logging's work runs, not just how long the step took.
        pairs = cpu[name]
        out.setdefault(name, {}).update(
            own_cpu_us=sum(p[0] for p in pairs) / len(pairs) * 1e6,
            children_cpu_us=sum(p[1] for p in pairs) / len(pairs) * 1e6)
    base_cpu = out["base"]["own_cpu_us"] + out["base"]["children_cpu_us"]
    for name in LOGGERS:
        used = out[name]["own_cpu_us"] + out[name]["children_cpu_us"]
        out[name]["added_cpu_us"] = used - base_cpu
    return out


# --- delivery ------------------------------------------------------------------------------


def wandb_history_records(run_dir: str) -> int:
    """Count ``"type":"history"`` records in an offline W&B run, read back with ``wandb leet``."""
    exe = Path(sys.executable).with_name("wandb")
    cmd = [str(exe) if exe.exists() else (shutil.which("wandb") or "wandb"),
           "leet", "inspect", "--json", run_dir]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-500:]}")
    count = 0
    for line in done.stdout.splitlines():
        line = line.strip()
        if line and json.loads(line).get("type") == "history":
            count += 1
    return count


def delivery(wandbkit: Any, metrics: dict[str, Any], n: int, sinks: list[str] | None,
             quiet: Quiet, count: bool) -> dict[str, Any]:
    """Log ``n`` rows back to back, then ``finish()``: rows/s from first log to finish returning.

    W&B's start-up (the worker's ``wandb.init``) is waited out before the first log, so this is
    the sustained rate. The tight loop's mean is also the (c) hot-path figure.
    """
    from wandbkit.store import Store

    run = wandbkit.init(project=PROJECT, mode="offline", sinks=sinks)
    if sinks is None or "wandb" in sinks:
        wait_for_wandb(run)
    quiet.wait()
    start = time.perf_counter()
    loop_us = tight_loop(run.log, metrics, n)
    finish_start = time.perf_counter()
    report = run.finish()
    end = time.perf_counter()
    out: dict[str, Any] = {
        "rows": n, "seconds": end - start, "rows_per_s": n / (end - start),
        "finish_s": end - finish_start, "tight_loop_us": loop_us,
        "report_complete": report.complete,
        "per_sink": {s.name: s.rows_delivered for s in report.sinks}}
    if count:
        out["wandb_history_records"] = wandb_history_records(run.wandb["dir"])
        out["store_rows"] = Store.open(run.store_dir).row_count(run.id)
    return out


# --- init ----------------------------------------------------------------------------------


def init_times(wandb: Any, wandbkit: Any, quiet: Quiet) -> dict[str, float]:
    """Wall time of ``wandb.init`` and ``wandbkit.init``: first call in the process, then later."""
    out: dict[str, float] = {}
    for label in ("first", "later"):
        quiet.wait()
        start = time.perf_counter()
        wrun = wandb.init(project=PROJECT, mode="offline")
        out[f"wandb_{label}_s"] = time.perf_counter() - start
        wrun.finish()
        quiet.wait()
        start = time.perf_counter()
        run = wandbkit.init(project=PROJECT, mode="offline")
        out[f"wandbkit_{label}_s"] = time.perf_counter() - start
        out[f"wandbkit_{label}_wandb_ready_s"] = wait_for_wandb(run)
        run.finish()
    return out


# --- one size ------------------------------------------------------------------------------


def bench_size(size: int, plan: Plan, wandb: Any, wandbkit: Any, step: Callable[[], None],
               quiet: Quiet, progress: Callable[[str], None]) -> dict[str, Any]:
    """Every figure for ``size`` scalars per call."""
    metrics = metrics_of(size)
    out: dict[str, Any] = {"hot": {}}

    progress(f"{size} scalars: delivery, both sinks (also the (c) tight loop)")
    both = delivery(wandbkit, metrics, plan.tight_ac[size], None, quiet, count=True)
    out["delivery"] = both
    progress(f"{size} scalars: delivery, store sink alone")
    store = delivery(wandbkit, metrics, plan.tight_ac[size], ["store"], quiet, count=False)
    progress(f"{size} scalars: delivery, W&B sink alone")
    wb = delivery(wandbkit, metrics, plan.tight_ac[size], ["wandb"], quiet, count=False)
    out["diagnosis"] = {"store_only_rows_per_s": store["rows_per_s"],
                        "wandb_only_rows_per_s": wb["rows_per_s"],
                        "store_only_finish_s": store["finish_s"],
                        "wandb_only_finish_s": wb["finish_s"]}

    progress(f"{size} scalars: hot path")
    plain = PlainLog()
    quiet.wait()
    out["hot"]["a"] = {"mean_us": tight_loop(plain.log, metrics, plan.tight_ac[size]),
                       "n": plan.tight_ac[size]}
    plain.rows.clear()
    out["hot"]["a"]["calls"] = per_call(plain.log, metrics, plan.per_call[size])
    plain.rows.clear()

    wrun = wandb.init(project=PROJECT, mode="offline")
    quiet.wait()
    out["hot"]["b"] = {"mean_us": tight_loop(wrun.log, metrics, plan.tight_b[size]),
                       "n": plan.tight_b[size]}
    quiet.wait()
    out["hot"]["b"]["calls"] = per_call(wrun.log, metrics, plan.tight_b[size])

    out["hot"]["c"] = {"mean_us": both["tight_loop_us"], "n": both["rows"]}
    run = wandbkit.init(project=PROJECT, mode="offline")
    wait_for_wandb(run)
    quiet.wait()
    out["hot"]["c"]["calls"] = per_call(run.log, metrics, plan.per_call[size])
    run.flush()

    progress(f"{size} scalars: loop slowdown")
    loggers = {"a": plain.log, "b": wrun.log, "c": run.log}
    out["loop"] = loop_slowdown(step, loggers, metrics, plan, quiet,
                                after={"a": plain.rows.clear, "c": run.flush})
    wrun.finish()
    loop_report = run.finish()
    out["loop"]["c_rows_delivered_complete"] = loop_report.complete
    return out


# --- verdicts and the table ----------------------------------------------------------------


def ratio(num: float, den: float) -> float:
    """num/den, NaN when the denominator is not positive (a ratio that means nothing)."""
    return num / den if den > 0 else float("nan")


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and PASS/MISS."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: float, target: str, ok: bool) -> None:
        out.append({"name": name, "value": value, "target": target,
                    "verdict": "PASS" if ok else "MISS"})

    for size in SIZES:
        r = results["sizes"][str(size)]
        hot = ratio(r["hot"]["c"]["mean_us"], r["hot"]["b"]["mean_us"])
        add(f"hot path (c)/(b), {size} scalars", hot, f"<= {RATIO_TARGET}", hot <= RATIO_TARGET)
        loop = ratio(r["loop"]["c"]["added_us"], r["loop"]["b"]["added_us"])
        add(f"loop slowdown (c)/(b), {size} scalars", loop, f"<= {RATIO_TARGET}",
            loop <= RATIO_TARGET)
        d = r["delivery"]
        for where, key in (("W&B history records", "wandb_history_records"),
                           ("store rows", "store_rows")):
            add(f"every row delivered, {size} scalars: {where}", d[key], f"= {d['rows']}",
                d[key] == d["rows"])
    d10 = results["sizes"]["10"]["delivery"]
    add("delivery rows/s, 10 scalars, both sinks", d10["rows_per_s"],
        f">= {DELIVERY_TARGET:,.0f}", d10["rows_per_s"] >= DELIVERY_TARGET)
    for label in ("first", "later"):
        t = results["init"][f"wandbkit_{label}_s"]
        add(f"wandbkit.init() wall time, {label} in process (ms)", t * 1e3,
            f"<= {INIT_TARGET_S * 1e3:.0f}", t <= INIT_TARGET_S)
    return out


def fmt(value: float, digits: int = 1) -> str:
    """A figure for the table."""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _table(title: str, columns: tuple[str, ...], left: tuple[str, ...] = ()) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def _init_table(init: dict[str, float]) -> Any:
    t = _table("init wall time (s)", ("", "first in process", "later"), left=("",))
    first, later = init["wandbkit_first_s"], init["wandbkit_later_s"]
    t.add_row("wandb.init()", fmt(init["wandb_first_s"], 3), fmt(init["wandb_later_s"], 3))
    t.add_row("wandbkit.init()", fmt(first, 4), fmt(later, 4))
    t.add_row("  W&B ready in wandbkit's worker after",
              fmt(init["wandbkit_first_wandb_ready_s"], 2),
              fmt(init["wandbkit_later_wandb_ready_s"], 2))
    t.add_row("ratio wandbkit/wandb", fmt(first / init["wandb_first_s"], 4),
              fmt(later / init["wandb_later_s"], 4))
    return t


def _size_table(size: int, r: dict[str, Any]) -> Any:
    loop, hot = r["loop"], r["hot"]
    t = _table(f"{size} scalars per call  (loop step: {fmt(loop['base_step_ms'], 3)} ms of BLAS, "
               f"{loop['rounds']} rounds x {loop['steps_per_block']} steps)",
               ("variant", "hot mean µs", "N", "p50 µs", "p99 µs", "max µs",
                "loop added µs/step", "± se", "CPU µs/step: own", "children", "CPU added"),
               left=("variant",))
    base = loop["base"]
    t.add_row("no logging (loop baseline)", *[""] * 7, fmt(base["own_cpu_us"], 0),
              fmt(base["children_cpu_us"], 0), "")
    for name in LOGGERS:
        h, calls, lp = hot[name], hot[name]["calls"], loop[name]
        t.add_row(LABELS[name], fmt(h["mean_us"], 2), fmt(h["n"]), fmt(calls["p50_us"], 2),
                  fmt(calls["p99_us"], 2), fmt(calls["max_us"], 0), fmt(lp["added_us"], 2),
                  fmt(lp["stderr_us"], 2), fmt(lp["own_cpu_us"], 0),
                  fmt(lp["children_cpu_us"], 0), fmt(lp["added_cpu_us"], 0))
    c, b = hot["c"]["calls"], hot["b"]["calls"]
    t.add_row("ratio (c)/(b)", fmt(ratio(hot["c"]["mean_us"], hot["b"]["mean_us"]), 4), "",
              fmt(ratio(c["p50_us"], b["p50_us"]), 4), fmt(ratio(c["p99_us"], b["p99_us"]), 4),
              "", fmt(ratio(loop["c"]["added_us"], loop["b"]["added_us"]), 4), "", "", "",
              fmt(ratio(loop["c"]["added_cpu_us"], loop["b"]["added_cpu_us"]), 3))
    return t


def _delivery_table(size: int, r: dict[str, Any]) -> Any:
    d, diag = r["delivery"], r["diagnosis"]
    t = _table(f"delivery, {size} scalars ({fmt(d['rows'])} rows logged back to back)",
               ("sinks", "rows/s (first log -> finish returned)", "finish() s"), left=("sinks",))
    t.add_row("both (store + W&B worker)", fmt(d["rows_per_s"], 0), fmt(d["finish_s"], 2))
    t.add_row("store alone", fmt(diag["store_only_rows_per_s"], 0),
              fmt(diag["store_only_finish_s"], 2))
    t.add_row("W&B worker alone", fmt(diag["wandb_only_rows_per_s"], 0),
              fmt(diag["wandb_only_finish_s"], 2))
    return t


def _checks_table(checks: list[dict[str, Any]]) -> Any:
    t = _table("targets", ("check", "measured", "target", "verdict"), left=("check", "verdict"))
    for c in checks:
        value = c["value"]
        t.add_row(c["name"], fmt(value, 4) if isinstance(value, float) else fmt(value),
                  c["target"], c["verdict"])
    return t


def render(results: dict[str, Any], console: Any) -> None:
    """Print the figures, the ratios and the verdicts as rich tables."""
    console.print(_init_table(results["init"]))
    for size in SIZES:
        r = results["sizes"][str(size)]
        console.print(_size_table(size, r))
        console.print(_delivery_table(size, r))
        d = r["delivery"]
        console.print(f"rows after finish(): W&B history records {fmt(d['wandb_history_records'])},"
                      f" store rows {fmt(d['store_rows'])}, logged {fmt(d['rows'])}; "
                      f"run report complete: {d['report_complete']}")
    console.print(_checks_table(results["checks"]))
    m = results["machine"]
    console.print(f"machine: {m['cpus']} CPUs, load average {m['load_before']} -> "
                  f"{m['load_after']}; BLAS: {m['blas']}; {results['seconds']:.0f} s total; "
                  f"settle waits that timed out: {m['settle_timeouts']}")


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small counts: checks that everything runs, figures are noisy")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the tables go to stderr)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder with the runs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the report."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    root = isolate_environment()
    began = time.perf_counter()
    from rich.console import Console

    console = Console(stderr=args.json, width=180)
    progress_console = Console(stderr=True)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    try:
        import numpy  # noqa: F401  (after the BLAS pin above)

        blas = blas_pinning()
        start = time.perf_counter()
        import wandb

        import_wandb = time.perf_counter() - start
        start = time.perf_counter()
        import wandbkit

        import_wandbkit = time.perf_counter() - start
        quiet = Quiet(plan.settle_s)
        results: dict[str, Any] = {"quick": args.quick, "sizes": {}}
        with progress_console.status("measuring") as status:
            def progress(text: str) -> None:
                status.update(text)
                progress_console.log(text)

            progress("init wall times")
            results["init"] = init_times(wandb, wandbkit, quiet)
            results["init"].update(import_wandb_s=import_wandb, import_wandbkit_s=import_wandbkit)
            step, matrix_n, step_s = make_step()
            for size in SIZES:
                results["sizes"][str(size)] = bench_size(size, plan, wandb, wandbkit, step, quiet,
                                                         progress)
        results["machine"] = {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "wandb": wandb.__version__, "wandbkit": wandbkit.__version__, "blas": blas,
            "step_matrix_n": matrix_n, "step_calibrated_ms": step_s * 1e3,
            "load_before": load_before,
            "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "settle_timeouts": quiet.timeouts}
        results["checks"] = checks(results)
        results["seconds"] = time.perf_counter() - began
        render(results, console)
        if args.json:
            print(json.dumps(results, indent=1))
    finally:
        if args.keep:
            progress_console.print(f"runs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
