"""What logging costs the training thread: plain dict vs raw ``wandb.log`` vs ``wandbkit``.

Run it: ``python benchmarks/log_overhead.py`` (about 3-4 minutes on 2 cores), ``--quick`` for a
smoke run with small counts, ``--json`` for the figures as one JSON object on stdout (the tables
then go to stderr), ``--seed`` for the order of the loop blocks.

In one process, with the same values, for 10 and for 100 scalars per call, it measures every
variant in ``VARIANTS`` — (a) a plain ``rows.append(dict(metrics))``, (b) raw ``wandb.log``
offline, (c) ``run.log`` of ``wandbkit.init(mode="offline")`` with both sinks:

* hot path: the calling thread's wall time over N calls in a tight loop / N (a mean, so time
  lost waiting on the flusher or the GIL counts), plus p50/p99 from a second pass that times each
  call with ``perf_counter_ns``. Background work is not in this figure by definition;
* loop slowdown, the target: per-step time added by one log call to a loop whose step is a
  ~1 ms numpy matrix product, against the same loop without logging. Each block's timed window
  runs from its first step until everything it logged has been delivered (``run.flush()`` and
  every child process — the W&B worker, wandb-core — idle again), for every variant alike, so the
  work a logger leaves for later counts against it. Blocks run in a random order every round;
* CPU added per row: CPU time of this process (all threads) and of all its descendant processes
  over the same window, minus the unlogged block's;
* delivery: per sink set in ``DELIVERY``, rows/s from the first ``log`` to ``finish()``
  returning, the CPU per row of every process over that span, and the rows W&B recorded (read back
  with ``wandb leet inspect --json``) and the store holds; every set and raw ``wandb.log`` run in
  rounds (3, ``--quick`` 1), each round in a random order, the median round reported;
* ``wandbkit.init()`` wall time vs ``wandb.init()``: the first call of a process (fresh
  subprocesses, every installed plugin discovered, bytecode cached, variants in random order;
  ``import wandbkit`` of the same processes as a second baseline) and a later one in this process;
* the target table at 100 scalars: delivery rows/s, time added to a step, store alone and W&B
  writer alone CPU per row, first init — each beside its baseline, with the ratio and verdict.

Adding a variant (another sink, another logger): append a ``Variant`` to ``VARIANTS`` (its
``open`` returns an object with ``log``, ``drain`` and ``close``; see ``WandbkitLogger``); adding a
sink set to the delivery table: add an entry to ``DELIVERY``. Every table, the JSON and the CPU
columns pick them up.
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
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Protocol  # noqa: E402

from bench_env import CpuMeter, Quiet  # noqa: E402  (benchmarks/ is on sys.path: run by path)
from results import record  # noqa: E402

SIZES = (10, 100)
PROJECT = "log-overhead-bench"
RATIO_TARGET = 0.1
DELIVERY_TARGET = {10: 20_000.0, 100: 10_000.0}  # rows/s, both sinks
INIT_TARGET_S = 0.020
# CPU per row of every process, one sink alone, at 100 scalars (no target at 10)
SINK_CPU_TARGET_US = {"store alone": 20.0, "W&B writer alone": 50.0}


@dataclass(frozen=True)
class Plan:
    """How many calls, steps and rounds to measure; ``QUICK`` only checks that it all runs."""

    tight: dict[int, int]        # calls in the tight loop, per size (``Variant.slow``: tight_slow)
    tight_slow: dict[int, int]   # the same for variants whose cost per call does not depend on N
    per_call: dict[int, int]     # calls timed one by one for p50/p99
    delivery: dict[int, int]     # rows logged back to back in each delivery run
    rounds: int                  # loop-slowdown rounds; each has one block per variant
    block_steps: int             # steps per block
    settle_s: float              # longest wait for the child processes to go idle
    init_samples: int            # fresh processes per first-init variant
    delivery_rounds: int         # rounds of every delivery run, each in a random order


FULL = Plan(tight={10: 10_000, 100: 2_000}, tight_slow={10: 2_000, 100: 1_000},
            per_call={10: 2_000, 100: 1_000}, delivery={10: 10_000, 100: 2_000},
            rounds=8, block_steps=1_000, settle_s=10.0, init_samples=9, delivery_rounds=3)
QUICK = Plan(tight={10: 600, 100: 300}, tight_slow={10: 150, 100: 80},
             per_call={10: 150, 100: 80}, delivery={10: 600, 100: 300},
             rounds=2, block_steps=60, settle_s=3.0, init_samples=3, delivery_rounds=1)


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


# --- the variants --------------------------------------------------------------------------


def metrics_of(size: int) -> dict[str, float]:
    """``size`` namespaced float scalars; the same dict is logged by every variant."""
    return {f"train/m{i:03d}": 0.5 + i * 1e-3 for i in range(size)}


class Logger(Protocol):
    """What a variant hands the benchmark."""

    def log(self, metrics: dict[str, Any]) -> None:
        """Log one row (the call being measured)."""

    def drain(self) -> None:
        """Hand everything logged so far to where it goes (inside the timed window)."""

    def close(self) -> dict[str, Any]:
        """Finish; facts about what was delivered."""


@dataclass
class Context:
    """What a variant's ``open`` may use."""

    wandb: Any
    wandbkit: Any


class PlainLogger:
    """(a) what a hand-rolled logger does at minimum — keep a copy of the dict."""

    def __init__(self, ctx: Context) -> None:
        self.rows: list[dict[str, Any]] = []

    def log(self, metrics: dict[str, Any]) -> None:
        """Append a copy (the caller may reuse its dict)."""
        self.rows.append(dict(metrics))

    def drain(self) -> None:
        """Nothing is pending; drop the rows so memory does not grow across blocks."""
        self.rows.clear()

    def close(self) -> dict[str, Any]:
        """Nothing to finish."""
        return {}


class WandbLogger:
    """(b) raw ``wandb.log`` on an offline ``wandb.init`` run in this process.

    Its background work (wandb-core, a child process) is waited for by the settle that ends
    every timed window.
    """

    def __init__(self, ctx: Context) -> None:
        self.run = ctx.wandb.init(project=PROJECT, mode="offline")
        self.log = self.run.log  # type: ignore[method-assign]

    def log(self, metrics: dict[str, Any]) -> None:  # replaced by the run's own method
        """``wandb.log``."""
        self.run.log(metrics)

    def drain(self) -> None:
        """wandb has no public flush; the settle after it waits for wandb-core."""

    def close(self) -> dict[str, Any]:
        """``wandb.finish``."""
        self.run.finish()
        return {}


class WandbkitLogger:
    """(c) ``wandbkit.init(mode="offline", sinks=...)``; ``sinks=None`` means every sink."""

    def __init__(self, ctx: Context, sinks: list[str] | None = None) -> None:
        self.run = ctx.wandbkit.init(project=PROJECT, mode="offline", sinks=sinks)
        if sinks is None or "wandb" in sinks:
            wait_for_wandb(self.run)
        self.log = self.run.log  # type: ignore[method-assign]

    def log(self, metrics: dict[str, Any]) -> None:  # replaced by the run's own method
        """``run.log``."""
        self.run.log(metrics)

    def drain(self) -> None:
        """Hand every queued row to the sinks (the worker's share is settled after)."""
        self.run.flush()

    def close(self) -> dict[str, Any]:
        """``run.finish()``: whether every sink got every row."""
        report = self.run.finish()
        return {"complete": report.complete,
                "per_sink": {s.name: s.rows_delivered for s in report.sinks}}


@dataclass(frozen=True)
class Variant:
    """One way of logging, measured in every table."""

    key: str
    label: str
    open: Callable[[Context], Logger]
    slow: bool = False   # cost per call independent of N: the tight loop uses ``tight_slow``


VARIANTS: tuple[Variant, ...] = (
    Variant("a", "(a) plain dict append", PlainLogger),
    Variant("b", "(b) raw wandb.log offline", WandbLogger, slow=True),
    Variant("c", "(c) wandbkit run.log (both sinks)", WandbkitLogger),
)
LOGGERS = tuple(v.key for v in VARIANTS)
LABELS = {v.key: v.label for v in VARIANTS}
# Sink sets for the delivery table: label -> ``sinks=`` of wandbkit.init (None: all sinks).
# The first is the one the targets and the read-back counts use.
DELIVERY: dict[str, list[str] | None] = {
    "both (store + W&B writer)": None,
    "store alone": ["store"],
    "W&B writer alone": ["wandb"],
    "W&B SDK worker alone": ["wandb"],
}
# Environment for a sink set's run: the W&B sink as it was before the writer (the SDK worker,
# still the online path and the fallback), so the two are measured side by side.
DELIVERY_ENV: dict[str, dict[str, str]] = {"W&B SDK worker alone": {"WANDBKIT_WANDB_WRITER": "worker"}}
RAW = "(b) raw wandb.log"  # the delivery baseline, run in the same rounds


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


@dataclass
class BlockResult:
    """One timed block: seconds per step with and without the drain, CPU per step."""

    steps_s: float      # first step to last step, per step
    drained_s: float    # first step to everything delivered and the children idle, per step
    own_cpu_s: float    # this process, per step, over the drained window
    children_cpu_s: float
    settled: bool


def timed_block(step: Callable[[], None], logger: Logger | None, metrics: dict[str, Any],
                steps: int, meter: CpuMeter, quiet: Quiet) -> BlockResult:
    """Run ``steps`` steps (logging once per step unless ``logger`` is None), then drain.

    The window closes when the logger has handed everything on and the child processes are
    idle again — for the baseline too, so the delay of noticing idleness cancels out.
    """
    own0, children0 = meter.sample()
    start = time.perf_counter()
    if logger is None:
        for _ in range(steps):
            step()
    else:
        log = logger.log
        for _ in range(steps):
            step()
            log(metrics)
    steps_end = time.perf_counter()
    if logger is not None:
        logger.drain()
    settled = quiet.settle()
    end = time.perf_counter()
    own1, children1 = meter.sample()
    return BlockResult((steps_end - start) / steps, (end - start) / steps,
                       (own1 - own0) / steps, (children1 - children0) / steps, settled)


def _mean_se(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)
    return mean, math.sqrt(var / len(values))


def loop_slowdown(step: Callable[[], None], loggers: dict[str, Logger], metrics: dict[str, Any],
                  plan: Plan, meter: CpuMeter, quiet: Quiet, rng: random.Random) -> dict[str, Any]:
    """Per-step µs and CPU added by each logger vs. the unlogged baseline of the same round.

    Each round runs one block per variant (baseline included) in a random order; the added time
    is the paired difference with the round's baseline, averaged over rounds (mean ± standard
    error).
    """
    keys = ["base", *loggers]
    blocks: dict[str, list[BlockResult]] = {k: [] for k in keys}
    orders = []
    for _ in range(plan.rounds):
        order = rng.sample(keys, len(keys))
        orders.append("".join(k[0] if k != "base" else "-" for k in order))
        for key in order:
            quiet.wait()  # uncounted: start from idle children, whatever ran before
            logger = None if key == "base" else loggers[key]
            blocks[key].append(timed_block(step, logger, metrics, plan.block_steps, meter, quiet))
    base = blocks["base"]
    out: dict[str, Any] = {"base_step_ms": sum(b.steps_s for b in base) / len(base) * 1e3,
                           "rounds": plan.rounds, "steps_per_block": plan.block_steps,
                           "orders": orders,
                           "unsettled_blocks": sum(not b.settled for bs in blocks.values()
                                                   for b in bs)}
    for key in keys:
        bs = blocks[key]
        out[key] = {"own_cpu_us": sum(b.own_cpu_s for b in bs) / len(bs) * 1e6,
                    "children_cpu_us": sum(b.children_cpu_s for b in bs) / len(bs) * 1e6,
                    "drained_step_ms": sum(b.drained_s for b in bs) / len(bs) * 1e3}
    for key in loggers:
        bs = blocks[key]
        added, se = _mean_se([(x.drained_s - b.drained_s) * 1e6 for x, b in zip(bs, base,
                                                                                 strict=True)])
        steps_added, steps_se = _mean_se([(x.steps_s - b.steps_s) * 1e6
                                          for x, b in zip(bs, base, strict=True)])
        cpu, cpu_se = _mean_se([((x.own_cpu_s + x.children_cpu_s)
                                 - (b.own_cpu_s + b.children_cpu_s)) * 1e6
                                for x, b in zip(bs, base, strict=True)])
        out[key].update(added_us=added, stderr_us=se, steps_only_added_us=steps_added,
                        steps_only_stderr_us=steps_se, added_cpu_us=cpu,
                        added_cpu_per_row_us=cpu, added_cpu_stderr_us=cpu_se,
                        step_ms=sum(b.steps_s for b in bs) / len(bs) * 1e3)
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
             meter: CpuMeter, quiet: Quiet, count: bool,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    """Log ``n`` rows back to back, then ``finish()``: rows/s from first log to finish returning.

    W&B's start-up (the worker's ``wandb.init``) is waited out before the first log, so this is
    the sustained rate. CPU per row: every process (this one, the W&B worker and wandb-core, which
    exit inside the span and are then counted through ``RUSAGE_CHILDREN``) over the same span,
    wandb's ``finish`` included.
    """
    from wandbkit.store import Store

    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})  # read by wandbkit.init when it picks the sinks
    try:
        run = wandbkit.init(project=PROJECT, mode="offline", sinks=sinks)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if sinks is None or "wandb" in sinks:
        wait_for_wandb(run)
    quiet.wait()
    own0, children0 = meter.sample()
    start = time.perf_counter()
    loop_us = tight_loop(run.log, metrics, n)
    finish_start = time.perf_counter()
    report = run.finish()
    end = time.perf_counter()
    own1, children1 = meter.sample()
    out: dict[str, Any] = {
        "rows": n, "seconds": end - start, "rows_per_s": n / (end - start),
        "finish_s": end - finish_start, "tight_loop_us": loop_us,
        "own_cpu_per_row_us": (own1 - own0) / n * 1e6,
        "children_cpu_per_row_us": (children1 - children0) / n * 1e6,
        "cpu_per_row_us": ((own1 - own0) + (children1 - children0)) / n * 1e6,
        "report_complete": report.complete,
        "per_sink": {s.name: s.rows_delivered for s in report.sinks}}
    if count:
        out["wandb_history_records"] = wandb_history_records(run.wandb["dir"])
        out["store_rows"] = Store.open(run.store_dir).row_count(run.id)
    return out


def raw_wandb_delivery(wandb: Any, metrics: dict[str, Any], n: int, meter: CpuMeter,
                       quiet: Quiet) -> dict[str, Any]:
    """The same as :func:`delivery` for raw ``wandb.log``: CPU per row of every process from the
    first log until ``finish()`` returned (wandb-core exits inside the span)."""
    wrun = wandb.init(project=PROJECT, mode="offline")
    quiet.wait()
    own0, children0 = meter.sample()
    start = time.perf_counter()
    loop_us = tight_loop(wrun.log, metrics, n)
    finish_start = time.perf_counter()
    wrun.finish()
    end = time.perf_counter()
    own1, children1 = meter.sample()
    return {"rows": n, "seconds": end - start, "rows_per_s": n / (end - start),
            "finish_s": end - finish_start, "tight_loop_us": loop_us,
            "own_cpu_per_row_us": (own1 - own0) / n * 1e6,
            "children_cpu_per_row_us": (children1 - children0) / n * 1e6,
            "cpu_per_row_us": ((own1 - own0) + (children1 - children0)) / n * 1e6}


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


# Each sample is a fresh interpreter: what a training script pays on its first init. Bytecode
# is cached as after ``pip install`` (PYTHONPYCACHEPREFIX in the bench folder, warmed by one
# uncounted run of each variant), whatever PYTHONDONTWRITEBYTECODE the caller has set.
FIRST_INIT_CODE = {
    "wandbkit": """
import json, sys, time
t0 = time.perf_counter()
import wandbkit
t1 = time.perf_counter()
run = wandbkit.init(project=sys.argv[1], mode="offline")
t2 = time.perf_counter()
run.finish(quiet=True)
print(json.dumps({"import_s": t1 - t0, "init_s": t2 - t1}))
""",
    "wandb": """
import json, sys, time
t0 = time.perf_counter()
import wandb
t1 = time.perf_counter()
run = wandb.init(project=sys.argv[1], mode="offline", settings=wandb.Settings(console="off"))
t2 = time.perf_counter()
run.finish()
print(json.dumps({"import_s": t1 - t0, "init_s": t2 - t1}))
""",
}


def first_init(plan: Plan, root: Path, rng: random.Random) -> dict[str, Any]:
    """Wall time of the first ``wandbkit.init()`` and the first ``wandb.init()`` of a process,
    each sample a fresh subprocess (every installed plugin discovered and loaded), variants in a
    random order; medians, with ``import wandbkit`` of the same processes as the other baseline."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    order = [name for name in FIRST_INIT_CODE for _ in range(plan.init_samples)]
    rng.shuffle(order)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in FIRST_INIT_CODE}
    for i, name in enumerate([*FIRST_INIT_CODE, *order]):  # the first of each: the warm-up
        run_env = {**env, "WANDBKIT_DIR": str(root / "init" / f"store-{i}")}
        done = subprocess.run([sys.executable, "-c", FIRST_INIT_CODE[name], PROJECT],
                              capture_output=True, text=True, timeout=300, env=run_env,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"first-init sample ({name}) failed: {done.stderr[-800:]}")
        if i >= len(FIRST_INIT_CODE):
            samples[name].append(json.loads(done.stdout.strip().splitlines()[-1]))

    def median(name: str, key: str) -> float:
        values = sorted(s[key] for s in samples[name])
        return values[len(values) // 2]

    out: dict[str, Any] = {"samples": plan.init_samples, "order": "".join(n[-3] for n in order)}
    for name in FIRST_INIT_CODE:
        out[f"{name}_init_s"] = median(name, "init_s")
        out[f"{name}_import_s"] = median(name, "import_s")
        out[f"{name}_init_all_s"] = [s["init_s"] for s in samples[name]]
    out["ratio_to_wandb_init"] = ratio(out["wandbkit_init_s"], out["wandb_init_s"])
    out["ratio_to_import"] = ratio(out["wandbkit_init_s"], out["wandbkit_import_s"])
    return out


# --- one size ------------------------------------------------------------------------------


def bench_size(size: int, plan: Plan, ctx: Context, step: Callable[[], None], meter: CpuMeter,
               quiet: Quiet, rng: random.Random,
               progress: Callable[[str], None]) -> dict[str, Any]:
    """Every figure for ``size`` scalars per call."""
    metrics = metrics_of(size)
    out: dict[str, Any] = {"hot": {}, "delivery_sinks": {}}

    # Rounds of every sink set and raw wandb.log, each round in a random order; per set the run
    # with the median rate is reported, and every round's both-sinks run is read back.
    runs: dict[str, list[dict[str, Any]]] = {RAW: [], **{label: [] for label in DELIVERY}}
    both = next(iter(DELIVERY))
    for round_ in range(plan.delivery_rounds):
        for label in rng.sample(list(runs), len(runs)):
            progress(f"{size} scalars: delivery round {round_ + 1}, {label}")
            if label == RAW:
                runs[label].append(raw_wandb_delivery(ctx.wandb, metrics,
                                                      plan.tight_slow[size], meter, quiet))
                continue
            runs[label].append(delivery(ctx.wandbkit, metrics, plan.delivery[size],
                                        DELIVERY[label], meter, quiet, count=label == both,
                                        env=DELIVERY_ENV.get(label)))
    for label, done in runs.items():
        chosen = dict(sorted(done, key=lambda d: d["rows_per_s"])[len(done) // 2])
        chosen["rounds_rows_per_s"] = [d["rows_per_s"] for d in done]
        chosen["rounds_cpu_per_row_us"] = [d["cpu_per_row_us"] for d in done]
        if label == RAW:
            out["raw_wandb_delivery"] = chosen
            continue
        out["delivery_sinks"][label] = chosen
        if label == both:
            # every round must have delivered every row: the counts are the worst round's
            chosen["wandb_history_records"] = min(d["wandb_history_records"] for d in done)
            chosen["store_rows"] = min(d["store_rows"] for d in done)
            chosen["report_complete"] = all(d["report_complete"] for d in done)
            out["delivery"] = chosen
    sink_rates = list(out["delivery_sinks"].values())
    out["diagnosis"] = {"store_only_rows_per_s": sink_rates[1]["rows_per_s"],
                        "wandb_only_rows_per_s": sink_rates[2]["rows_per_s"],
                        "store_only_finish_s": sink_rates[1]["finish_s"],
                        "wandb_only_finish_s": sink_rates[2]["finish_s"]}

    loggers: dict[str, Logger] = {}
    for variant in VARIANTS:
        progress(f"{size} scalars: hot path, {variant.label}")
        logger = variant.open(ctx)
        loggers[variant.key] = logger
        n = (plan.tight_slow if variant.slow else plan.tight)[size]
        quiet.wait()
        hot: dict[str, Any] = {"mean_us": tight_loop(logger.log, metrics, n), "n": n}
        logger.drain()
        quiet.wait()
        hot["calls"] = per_call(logger.log, metrics,
                                (plan.tight_slow if variant.slow else plan.per_call)[size])
        logger.drain()
        out["hot"][variant.key] = hot

    progress(f"{size} scalars: loop slowdown")
    out["loop"] = loop_slowdown(step, loggers, metrics, plan, meter, quiet, rng)
    for key, logger in loggers.items():
        facts = logger.close()
        if "complete" in facts:
            out["loop"][key]["rows_delivered_complete"] = facts["complete"]
    out["loop"]["c_rows_delivered_complete"] = out["loop"]["c"]["rows_delivered_complete"]
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
    for size in SIZES:
        r = results["sizes"][str(size)]
        d = r["delivery"]
        add(f"delivery rows/s, {size} scalars, both sinks", d["rows_per_s"],
            f">= {DELIVERY_TARGET[size]:,.0f}", d["rows_per_s"] >= DELIVERY_TARGET[size])
        raw_cpu = r["raw_wandb_delivery"]["cpu_per_row_us"]
        writer = ratio(r["delivery_sinks"]["W&B writer alone"]["cpu_per_row_us"], raw_cpu)
        add(f"CPU per row, all processes, W&B writer alone / raw wandb, {size} scalars", writer,
            f"<= {RATIO_TARGET}", writer <= RATIO_TARGET)
        if size == 100:
            for label, target in SINK_CPU_TARGET_US.items():
                cpu = r["delivery_sinks"][label]["cpu_per_row_us"]
                add(f"CPU per row (µs), all processes, {label}, {size} scalars", cpu,
                    f"<= {target:.0f}", cpu <= target)
    for label in ("first", "later"):
        t = results["init"][f"wandbkit_{label}_s"]
        add(f"wandbkit.init() wall time, {label} in process (ms)", t * 1e3,
            f"<= {INIT_TARGET_S * 1e3:.0f}", t <= INIT_TARGET_S)
    return out


def issue_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The five figures of the 100-scalar target table, each with its baseline and verdict."""
    r = results["sizes"]["100"]
    d, loop, raw = r["delivery"], r["loop"], r["raw_wandb_delivery"]
    first = results["first_init"]
    sinks = r["delivery_sinks"]
    step_ratio = ratio(loop["c"]["added_us"], loop["b"]["added_us"])
    rows = [
        ("delivery, store + W&B writer", f"{d['rows_per_s']:,.0f} rows/s",
         f"raw wandb.log {raw['rows_per_s']:,.0f} rows/s",
         ratio(d["rows_per_s"], raw["rows_per_s"]), f">= {DELIVERY_TARGET[100]:,.0f} rows/s",
         d["rows_per_s"] >= DELIVERY_TARGET[100]),
        ("time added to a training step, drain included", f"{loop['c']['added_us']:,.1f} µs/step",
         f"raw wandb.log {loop['b']['added_us']:,.1f} µs/step", step_ratio,
         f"<= {RATIO_TARGET} x raw", step_ratio <= RATIO_TARGET),
    ]
    for label, target in SINK_CPU_TARGET_US.items():
        cpu = sinks[label]["cpu_per_row_us"]
        rows.append((f"{label}, CPU per row", f"{cpu:,.1f} µs", f"raw wandb {raw['cpu_per_row_us']:,.0f} µs",
                     ratio(cpu, raw["cpu_per_row_us"]), f"<= {target:.0f} µs", cpu <= target))
    kit = first["wandbkit_init_s"]
    rows.append(("first wandbkit.init() in a process", f"{kit * 1e3:,.1f} ms",
                 f"wandb.init {first['wandb_init_s'] * 1e3:,.0f} ms; import wandbkit "
                 f"{first['wandbkit_import_s'] * 1e3:,.0f} ms", first["ratio_to_wandb_init"],
                 f"<= {INIT_TARGET_S * 1e3:.0f} ms", kit <= INIT_TARGET_S))
    return [{"figure": f, "measured": m, "baseline": b, "ratio": q, "target": t,
             "verdict": "PASS" if ok else "MISS"} for f, m, b, q, t, ok in rows]


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


def _hot_table(size: int, r: dict[str, Any]) -> Any:
    hot = r["hot"]
    t = _table(f"{size} scalars per call: hot path (the caller's thread only)",
               ("variant", "mean µs", "N", "p50 µs", "p99 µs", "max µs"), left=("variant",))
    for v in VARIANTS:
        h, calls = hot[v.key], hot[v.key]["calls"]
        t.add_row(v.label, fmt(h["mean_us"], 2), fmt(h["n"]), fmt(calls["p50_us"], 2),
                  fmt(calls["p99_us"], 2), fmt(calls["max_us"], 0))
    c, b = hot["c"]["calls"], hot["b"]["calls"]
    t.add_row("ratio (c)/(b)", fmt(ratio(hot["c"]["mean_us"], hot["b"]["mean_us"]), 4), "",
              fmt(ratio(c["p50_us"], b["p50_us"]), 4), fmt(ratio(c["p99_us"], b["p99_us"]), 4), "")
    return t


def _loop_table(size: int, r: dict[str, Any]) -> Any:
    loop = r["loop"]
    t = _table(f"{size} scalars per call: loop slowdown (step: {fmt(loop['base_step_ms'], 3)} ms "
               f"of BLAS, {loop['rounds']} rounds x {loop['steps_per_block']} steps, random "
               f"order; window = steps + drain until every child process is idle)",
               ("variant", "added µs/step (drain incl.)", "± se", "steps only µs/step", "± se",
                "CPU µs/step: own", "children", "CPU added µs/row", "± se"),
               left=("variant",))
    base = loop["base"]
    t.add_row("no logging (loop baseline)", "", "", "", "", fmt(base["own_cpu_us"], 0),
              fmt(base["children_cpu_us"], 0), "", "")
    for v in VARIANTS:
        lp = loop[v.key]
        t.add_row(v.label, fmt(lp["added_us"], 2), fmt(lp["stderr_us"], 2),
                  fmt(lp["steps_only_added_us"], 2), fmt(lp["steps_only_stderr_us"], 2),
                  fmt(lp["own_cpu_us"], 0), fmt(lp["children_cpu_us"], 0),
                  fmt(lp["added_cpu_per_row_us"], 0), fmt(lp["added_cpu_stderr_us"], 0))
    t.add_row("ratio (c)/(b)", fmt(ratio(loop["c"]["added_us"], loop["b"]["added_us"]), 4), "",
              fmt(ratio(loop["c"]["steps_only_added_us"], loop["b"]["steps_only_added_us"]), 4),
              "", "", "", fmt(ratio(loop["c"]["added_cpu_per_row_us"],
                                    loop["b"]["added_cpu_per_row_us"]), 3), "")
    return t


def _delivery_table(size: int, r: dict[str, Any]) -> Any:
    rows = r["delivery"]["rows"]
    raw = r["raw_wandb_delivery"]
    t = _table(f"delivery, {size} scalars ({fmt(rows)} rows logged back to back, raw wandb "
               f"{fmt(raw['rows'])}; CPU added per row = CPU of every process from the first log "
               "to finish() returning, per row)",
               ("sinks", "rows/s", "finish() s", "CPU µs/row: own", "children",
                "CPU added per row (all processes)", "/ raw wandb", "rounds: rows/s | CPU µs/row"),
               left=("sinks", "rounds: rows/s | CPU µs/row"))

    def rounds(d: dict[str, Any]) -> str:
        return (" ".join(f"{x:,.0f}" for x in d["rounds_rows_per_s"]) + " | "
                + " ".join(f"{x:,.1f}" for x in d["rounds_cpu_per_row_us"]))

    t.add_row("(b) raw wandb.log, for reference", fmt(raw["rows_per_s"], 0),
              fmt(raw["finish_s"], 2), fmt(raw["own_cpu_per_row_us"], 0),
              fmt(raw["children_cpu_per_row_us"], 0), fmt(raw["cpu_per_row_us"], 0), "1",
              rounds(raw))
    for label, d in r["delivery_sinks"].items():
        t.add_row(label, fmt(d["rows_per_s"], 0), fmt(d["finish_s"], 2),
                  fmt(d["own_cpu_per_row_us"], 0), fmt(d["children_cpu_per_row_us"], 0),
                  fmt(d["cpu_per_row_us"], 1),
                  fmt(ratio(d["cpu_per_row_us"], raw["cpu_per_row_us"]), 3), rounds(d))
    return t


def _issue_table(rows: list[dict[str, Any]], first: dict[str, Any]) -> Any:
    t = _table(f"100 scalars, offline: the targets (first init: median of {first['samples']} "
               "fresh processes per variant, random order; ratio = measured / baseline)",
               ("figure", "measured", "baseline", "ratio", "target", "verdict"),
               left=("figure", "measured", "baseline", "verdict"))
    for row in rows:
        t.add_row(row["figure"], row["measured"], row["baseline"], fmt(row["ratio"], 3),
                  row["target"], row["verdict"])
    return t


def _first_init_table(first: dict[str, Any]) -> Any:
    t = _table(f"first init in a fresh process (median of {first['samples']}, ms; order "
               f"{first['order']})", ("", "import", "init()", "init() samples"), left=("",))
    for name in FIRST_INIT_CODE:
        t.add_row(f"{name}.init()", fmt(first[f"{name}_import_s"] * 1e3, 1),
                  fmt(first[f"{name}_init_s"] * 1e3, 1),
                  " ".join(f"{x * 1e3:.1f}" for x in first[f"{name}_init_all_s"]))
    t.add_row("ratio wandbkit.init() / wandb.init()", "", fmt(first["ratio_to_wandb_init"], 4), "")
    t.add_row("ratio wandbkit.init() / import wandbkit", "", fmt(first["ratio_to_import"], 3), "")
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
        console.print(_hot_table(size, r))
        console.print(_loop_table(size, r))
        console.print(_delivery_table(size, r))
        d = r["delivery"]
        console.print(f"rows after finish(): W&B history records {fmt(d['wandb_history_records'])},"
                      f" store rows {fmt(d['store_rows'])}, logged {fmt(d['rows'])}; "
                      f"run report complete: {d['report_complete']}; loop block orders "
                      f"(- = no logging): {' '.join(r['loop']['orders'])}")
    console.print(_first_init_table(results["first_init"]))
    console.print(_checks_table(results["checks"]))
    console.print(_issue_table(results["issue_table"], results["first_init"]))
    m = results["machine"]
    console.print(f"machine: {m['cpus']} CPUs, load average {m['load_before']} -> "
                  f"{m['load_after']}; BLAS: {m['blas']}; seed {results['seed']}; "
                  f"{results['seconds']:.0f} s total; settle waits that timed out: "
                  f"{m['settle_timeouts']}")


def record_headlines(results: dict[str, Any]) -> None:
    """The figures the targets are on, for ``run_all.py``'s table (no-op when run alone)."""
    note = "quick" if results["quick"] else ""
    for size in SIZES:
        r = results["sizes"][str(size)]
        hot, loop = r["hot"], r["loop"]
        record("log_overhead", f"hot path, run.log (c), {size} scalars", hot["c"]["mean_us"],
               "µs/call", baseline=f"(b) raw wandb.log: {hot['b']['mean_us']:,.1f} µs/call",
               ratio=ratio(hot["c"]["mean_us"], hot["b"]["mean_us"]),
               target=f"ratio <= {RATIO_TARGET}",
               passed=ratio(hot["c"]["mean_us"], hot["b"]["mean_us"]) <= RATIO_TARGET, note=note)
        loop_ratio = ratio(loop["c"]["added_us"], loop["b"]["added_us"])
        record("log_overhead", f"loop slowdown, run.log (c), {size} scalars (drain incl.)",
               loop["c"]["added_us"], "µs/step",
               baseline=f"(b) raw wandb.log: {loop['b']['added_us']:,.1f} µs/step",
               ratio=loop_ratio, target=f"ratio <= {RATIO_TARGET}",
               passed=loop_ratio <= RATIO_TARGET, note=note)
        d = r["delivery"]
        raw = r["raw_wandb_delivery"]
        record("log_overhead", f"delivery, both sinks, {size} scalars", d["rows_per_s"], "rows/s",
               baseline=f"raw wandb.log: {raw['rows_per_s']:,.0f} rows/s",
               target=f">= {DELIVERY_TARGET[size]:,.0f} rows/s",
               passed=d["rows_per_s"] >= DELIVERY_TARGET[size], note=note)
        for where, key in (("W&B history records", "wandb_history_records"),
                           ("store rows", "store_rows")):
            record("log_overhead", f"every row delivered, {size} scalars: {where}", d[key], "rows",
                   baseline=f"{d['rows']:,} logged", target=f"= {d['rows']:,}",
                   passed=d[key] == d["rows"], note=note)
        if size == 100:
            for label, target in SINK_CPU_TARGET_US.items():
                cpu = r["delivery_sinks"][label]["cpu_per_row_us"]
                record("log_overhead", f"CPU per row (µs target), all processes, {label}, "
                       f"{size} scalars", cpu, "µs/row",
                       baseline=f"raw wandb.log: {raw['cpu_per_row_us']:,.0f} µs/row",
                       ratio=ratio(cpu, raw["cpu_per_row_us"]), target=f"<= {target:.0f} µs/row",
                       passed=cpu <= target, note=note)
        writer = r["delivery_sinks"]["W&B writer alone"]["cpu_per_row_us"]
        record("log_overhead", f"CPU per row, all processes, W&B writer alone, {size} scalars",
               writer, "µs/row", baseline=f"raw wandb.log: {raw['cpu_per_row_us']:,.0f} µs/row",
               ratio=ratio(writer, raw["cpu_per_row_us"]), target=f"ratio <= {RATIO_TARGET}",
               passed=ratio(writer, raw["cpu_per_row_us"]) <= RATIO_TARGET, note=note)
    init = results["init"]
    for label in ("first", "later"):
        kit, raw_init = init[f"wandbkit_{label}_s"], init[f"wandb_{label}_s"]
        record("log_overhead", f"wandbkit.init() wall time, {label} in process", kit * 1e3, "ms",
               baseline=f"wandb.init(): {raw_init * 1e3:,.0f} ms", ratio=kit / raw_init,
               target=f"<= {INIT_TARGET_S * 1e3:.0f} ms", passed=kit <= INIT_TARGET_S, note=note)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small counts: checks that everything runs, figures are noisy")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the tables go to stderr)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder with the runs")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the random block order (default: drawn, and printed)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the report."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed)
    root = isolate_environment()
    began = time.perf_counter()
    from rich.console import Console

    console = Console(stderr=args.json, width=200)
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
        meter = CpuMeter()
        quiet = Quiet(meter, plan.settle_s)
        ctx = Context(wandb=wandb, wandbkit=wandbkit)
        results: dict[str, Any] = {"quick": args.quick, "seed": seed, "sizes": {}}
        with progress_console.status("measuring") as status:
            def progress(text: str) -> None:
                status.update(text)
                progress_console.log(text)

            progress("first init, fresh processes")
            results["first_init"] = first_init(plan, root, rng)
            progress("init wall times")
            results["init"] = init_times(wandb, wandbkit, quiet)
            # the first init of a process is the fresh-process median (this one has imported
            # wandb and the benchmark); the in-process first call is kept beside it
            for name in ("wandbkit", "wandb"):
                results["init"][f"{name}_first_in_bench_s"] = results["init"][f"{name}_first_s"]
                results["init"][f"{name}_first_s"] = results["first_init"][f"{name}_init_s"]
            results["init"].update(import_wandb_s=import_wandb, import_wandbkit_s=import_wandbkit)
            step, matrix_n, step_s = make_step()
            for size in SIZES:
                results["sizes"][str(size)] = bench_size(size, plan, ctx, step, meter, quiet, rng,
                                                         progress)
        results["machine"] = {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "wandb": wandb.__version__, "wandbkit": wandbkit.__version__, "blas": blas,
            "step_matrix_n": matrix_n, "step_calibrated_ms": step_s * 1e3,
            "load_before": load_before,
            "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "settle_timeouts": quiet.timeouts}
        results["checks"] = checks(results)
        results["issue_table"] = issue_table(results)
        record_headlines(results)
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
