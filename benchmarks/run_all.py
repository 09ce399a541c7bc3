"""Run every benchmark and write one table to ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py            # full runs (about 20-30 min on 2 cores)
    python benchmarks/run_all.py --quick    # each script's quick mode: proves they run, noisy figures
    python benchmarks/run_all.py --only log_overhead,sweep_overhead

Each script measures its figure and its baseline side by side in one run and reports its
headline figures through ``benchmarks/results.py``; this runner collects them with the machine
they were measured on (cores, CPU, load average before and after) and whether each met its
target. A script that fails or is skipped (the GPU benchmark without CUDA) gets a row that
says so. The README quotes this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
    Bench("checkpoint_io", quick=("--mb", "20", "--repeats", "2")),
    Bench("hf_overhead"),
    Bench("sweep_overhead"),
    Bench("vlm_metrics"),
    Bench("dashboard_load"),
    Bench("gpu_tracking", quick=("--cpu-dry-run",), needs_cuda=True),
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


def run_one(bench: Bench, quick: bool, results: Path, timeout: float) -> tuple[str, float]:
    """Run one script; returns its status (``ok``, ``failed (exit N)``, ``timeout``) and seconds."""
    script = HERE / f"{bench.name}.py"
    if not script.exists():
        return "missing", 0.0
    args = list(bench.quick if quick else bench.args)
    if bench.needs_cuda and not cuda_available():
        if not quick:
            return "skipped (no CUDA)", 0.0
    env = {**os.environ, "WANDBKIT_BENCH_RESULTS": str(results), "PYTHONUNBUFFERED": "1"}
    log = results.with_name(f"{bench.name}.log")
    started = time.monotonic()
    try:
        with log.open("w") as out:
            proc = subprocess.run([sys.executable, str(script), *args], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode}, see {log.name})"
    return status, time.monotonic() - started


def fmt(value: object) -> str:
    """A number for the table: 3 significant figures, thousands separated."""
    if value is None:
        return ""
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


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
             "| benchmark | figure | value | baseline | ratio | target | result | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        result = {True: "PASS", False: "MISS", None: ""}[r.get("passed")]  # type: ignore[index]
        lines.append(f"| {r['benchmark']} | {r['figure']} | {fmt(r['value'])} {r['unit']} | "
                     f"{r['baseline']} | {fmt(r['ratio'])} | {r['target']} | {result} | "
                     f"{r.get('note', '')} |")
    lines += ["", "| script | status | seconds | command |", "|---|---|---|---|"]
    for bench in BENCHMARKS:
        status, seconds = statuses.get(bench.name, ("not run", 0.0))
        args = " ".join(bench.quick if quick else bench.args)
        lines.append(f"| {bench.name} | {status} | {seconds:.0f} | "
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
    wanted = [b for b in BENCHMARKS if not args.only or b.name in args.only.split(",")]
    console = Console()
    info = machine()
    load_before = os.getloadavg()[0]
    statuses: dict[str, tuple[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="wandbkit-bench-") as tmp:
        results = Path(tmp) / "results.jsonl"
        results.touch()
        with Progress(console=console) as progress:
            task = progress.add_task("benchmarks", total=len(wanted))
            for bench in wanted:
                progress.update(task, description=f"{bench.name}")
                statuses[bench.name] = run_one(bench, args.quick, results, args.timeout)
                progress.advance(task)
                console.print(f"{bench.name}: {statuses[bench.name][0]} "
                              f"({statuses[bench.name][1]:.0f} s)")
        rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        for bench in wanted:
            log = results.with_name(f"{bench.name}.log")
            if log.exists() and not statuses[bench.name][0].startswith("ok"):
                console.print(f"--- {bench.name} (last lines) ---")
                console.print("\n".join(log.read_text().splitlines()[-15:]), markup=False)
    write_table(Path(args.out), rows, statuses, info, args.quick, (load_before, os.getloadavg()[0]))
    console.print(f"wrote {args.out}: {len(rows)} figures from {len(wanted)} scripts")
    return 0 if all(s.startswith(("ok", "skipped")) for s, _ in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
