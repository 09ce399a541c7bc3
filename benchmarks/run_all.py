"""Run every benchmark and write one table to ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py            # full runs (about 11 min on 2 quiet cores, more under load)
    python benchmarks/run_all.py --quick    # each script's quick mode: proves they run, noisy figures
    python benchmarks/run_all.py --only log_overhead,sweep_overhead --out /tmp/some.md

Each script measures its figures and their baselines side by side in one run and reports its
headline figures through ``benchmarks/results.py``; this runner collects them with the machine
they were measured on (cores, CPU, load average before and after) and whether each met its
target. A script that fails, times out or is skipped (the GPU benchmark without CUDA) gets a
status row that says so. The table holds only the scripts of this call (``--only`` writes a
table of just those). The README quotes this file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bench:
    """A benchmark script with its full and quick arguments."""

    name: str
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] = ("--quick",)
    needs_cuda: bool = False


BENCHMARKS = [
    Bench("log_overhead"),
    Bench("torch_tracking"),
    Bench("checkpoint_io"),
    Bench("hf_overhead"),
    Bench("lightning_overhead"),
    Bench("sweep_overhead"),
    Bench("vlm_metrics"),
    Bench("dashboard_load"),
    Bench("store_write"),
    Bench("wandb_online_designs"),
    Bench("gpu_tracking", quick=("--cpu-dry-run",), needs_cuda=True),
    Bench("gpu_system_stats", quick=("--seconds", "4"), needs_cuda=True),
]


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False without torch)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for module in ("torch", "wandb", "transformers", "optuna", "gradio"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # absent or broken: the table just omits it
            continue
    return {"cores": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version(),
            "cuda": "yes" if cuda_available() else "no",
            **{k: v for k, v in versions.items()}}


def run_one(bench: Bench, quick: bool, results: Path, logs: Path,
            timeout: float) -> tuple[str, float]:
    """Run one script (its output to ``logs/<name>.log``, its figures appended to ``results``);
    returns its status (``ok``, ``failed (exit N)``, ``timeout``, ``skipped ...``) and seconds."""
    script = HERE / f"{bench.name}.py"
    if not script.exists():
        return "missing", 0.0
    args = list(bench.quick if quick else bench.args)
    dry_run = bench.needs_cuda and not cuda_available()
    if dry_run and not quick:
        return "skipped (no CUDA)", 0.0
    env = {**os.environ, "WANDBKIT_BENCH_RESULTS": str(results), "PYTHONUNBUFFERED": "1"}
    log = logs / f"{bench.name}.log"
    started = time.monotonic()
    # Its own session and a scratch cwd: a timeout ends the whole tree (W&B worker, wandb-core,
    # sweep workers), and nothing a script leaves in its cwd lands in the caller's.
    with log.open("w") as out, tempfile.TemporaryDirectory(prefix=f"bench-{bench.name}-") as cwd:
        proc = subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return f"timeout (after {timeout:.0f} s)", time.monotonic() - started
        finally:
            _end_group(proc.pid)
    seconds = time.monotonic() - started
    if code != 0:
        return f"failed (exit {code})", seconds
    return ("ok (CPU dry run: no figures)" if dry_run else "ok"), seconds


def _end_group(pgid: int) -> None:
    """Kill what a script left running in its process group (a leaked child keeps no figure)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def fmt(value: object) -> str:
    """A number for the table: 3 significant figures, thousands separated; n/a for NaN."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def cell(text: object) -> str:
    """Text for a Markdown table cell (a ``|`` would split the cell)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_table(path: Path, rows: list[dict[str, object]], statuses: dict[str, tuple[str, float]],
                info: dict[str, str], quick: bool, load: tuple[float, float]) -> None:
    """RESULTS.md: the machine, then one row per figure, then one row per script's status."""
    lines = ["# Benchmark results", "",
             "Written by `python benchmarks/run_all.py" + (" --quick" if quick else "") + "`; "
             "every figure is measured beside its baseline in the same run of its script.", "",
             f"- measured: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
             + (" (quick mode: small counts, noisy figures)" if quick else ""),
             f"- machine: {info.get('cores')} cores, {info.get('cpu')}, CUDA: {info.get('cuda')}, "
             f"load average {load[0]:.1f} before, {load[1]:.1f} after",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in info.items()
                                        if k not in ("cores", "cpu", "cuda")), "",
             "*ratio*: value / baseline, unless the figure or its target names another order "
             "(raw/save, naive/downsampled); *result*: PASS or MISS against the target, empty "
             "for a figure without one.", "",
             "| benchmark | figure | value | baseline | ratio | target | result | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        result = {True: "PASS", False: "MISS"}.get(r.get("passed"), "")  # type: ignore[arg-type]
        lines.append("| " + " | ".join(cell(c) for c in (
            r["benchmark"], r["figure"], f"{fmt(r['value'])} {r['unit']}".strip(), r["baseline"],
            fmt(r["ratio"]), r["target"], result, r.get("note", ""))) + " |")
    lines += ["", "| script | status | seconds | command |", "|---|---|---|---|"]
    for bench in BENCHMARKS:
        if bench.name not in statuses:
            continue
        status, seconds = statuses[bench.name]
        args = " ".join(bench.quick if quick else bench.args)
        lines.append(f"| {bench.name} | {cell(status)} | {seconds:.0f} | "
                     f"`python benchmarks/{bench.name}.py{(' ' + args) if args else ''}` |")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    """Run the benchmarks and write the table; exit 1 if a script failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each script's quick mode")
    parser.add_argument("--only", default="", help="comma-separated script names")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - {b.name for b in BENCHMARKS})
    if unknown:
        parser.error(f"--only: no benchmark named {', '.join(unknown)} "
                     f"(known: {', '.join(b.name for b in BENCHMARKS)})")
    wanted = [b for b in BENCHMARKS if not names or b.name in names]
    console = Console()
    info = machine()
    load_before = os.getloadavg()[0]
    statuses: dict[str, tuple[str, float]] = {}
    logs = Path(tempfile.mkdtemp(prefix="wandbkit-bench-logs-"))  # kept: the scripts' output
    results = logs / "results.jsonl"
    results.touch()
    with Progress(console=console) as progress:
        task = progress.add_task("benchmarks", total=len(wanted))
        for bench in wanted:
            progress.update(task, description=f"{bench.name}")
            statuses[bench.name] = run_one(bench, args.quick, results, logs, args.timeout)
            progress.advance(task)
            progress.console.print(f"{bench.name}: {statuses[bench.name][0]} "
                                   f"({statuses[bench.name][1]:.0f} s)")
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    failed = [b for b in wanted if not statuses[b.name][0].startswith(("ok", "skipped"))]
    for bench in failed:
        log = logs / f"{bench.name}.log"
        if log.exists():
            console.print(f"--- {bench.name} (last lines of {log}) ---")
            console.print("\n".join(log.read_text().splitlines()[-15:]), markup=False)
    write_table(Path(args.out), rows, statuses, info, args.quick, (load_before, os.getloadavg()[0]))
    console.print(f"wrote {args.out}: {len(rows)} figures from {len(wanted)} scripts; "
                  f"each script's output is in {logs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
