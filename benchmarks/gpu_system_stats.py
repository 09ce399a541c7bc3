"""Do W&B's System charts get the same GPU metrics from wandbkit's writer as from wandb itself?

One short CUDA workload (matmuls in a loop) runs twice, in interleaved order: under a raw
``wandb.init`` offline (wandb-core samples NVML) and under ``wandbkit.init`` offline (the W&B
writer samples NVML itself), both every second. Each run folder is read back with
``wandb leet inspect`` and the ``gpu.*`` keys of their ``stats`` records are compared: the same
key set, and each key's mean beside wandb's. Exit 1 when wandbkit's writer misses a key wandb
writes (or writes one it does not).

    python benchmarks/gpu_system_stats.py               # needs CUDA and nvidia-ml-py; ~1 min
    python benchmarks/gpu_system_stats.py --cpu-dry-run # checks the script itself: no gpu keys
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_env import offline_wandb_dirs  # benchmarks/ is on sys.path: scripts run by path
from results import record


def workload(seconds: float, device: str) -> None:
    """Keep the GPU busy (or the CPU, in a dry run) for ``seconds``."""
    import torch

    x = torch.randn(2048 if device == "cuda" else 128, 2048 if device == "cuda" else 128,
                    device=device)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(20):
            x = torch.tanh(x @ x)
        if device == "cuda":
            torch.cuda.synchronize()  # one wait per 20 matmuls, so the loop checks the clock


def run_raw(seconds: float, device: str) -> Path:
    """A raw wandb run; returns its offline folder."""
    import wandb

    run = wandb.init(project="gpu-stats", settings=wandb.Settings(x_stats_sampling_interval=1.0))
    workload(seconds, device)
    run.log({"done": 1})
    run_dir = Path(run.dir).parent
    run.finish()
    return run_dir


def run_kit(seconds: float, device: str) -> Path:
    """A wandbkit run through the W&B writer; returns its offline folder."""
    import os

    import wandbkit

    os.environ["WANDBKIT_WANDB_STATS_S"] = "1"
    run = wandbkit.init(project="gpu-stats", mode="offline", sinks=["wandb"])
    workload(seconds, device)
    run.log({"done": 1})
    run.finish(quiet=True)
    return Path(run.wandb["dir"])


def gpu_stats(run_dir: Path) -> dict[str, list[float]]:
    """``{gpu key: [samples]}`` from a run folder's stats records."""
    wandb_cli = Path(sys.executable).parent / "wandb"
    out = subprocess.run([str(wandb_cli), "leet", "inspect", "--json", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=300)
    found: dict[str, list[float]] = {}
    for line in out.stdout.splitlines():
        record_ = json.loads(line)
        if record_.get("type") != "stats":
            continue
        for key, value in record_["stats"]["item"].items():
            if key.startswith("gpu."):
                found.setdefault(key, []).append(float(value))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--cpu-dry-run", action="store_true")
    args = parser.parse_args()
    import torch

    device = "cpu" if args.cpu_dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu-dry-run to check the script", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        offline_wandb_dirs(Path(tmp))
        import os

        os.environ.setdefault("WANDBKIT_DIR", str(Path(tmp) / "store"))
        raw = gpu_stats(run_raw(args.seconds, device))  # raw first here, wandbkit first below:
        kit = gpu_stats(run_kit(args.seconds, device))  # each variant sees a warm and a cold GPU
        kit2 = gpu_stats(run_kit(args.seconds, device))
        raw2 = gpu_stats(run_raw(args.seconds, device))
    raw_keys, kit_keys = set(raw) | set(raw2), set(kit) | set(kit2)
    print(f"wandb wrote {len(raw_keys)} gpu keys, wandbkit {len(kit_keys)}")
    print(f"{'key':42} {'wandb mean':>12} {'wandbkit mean':>14}")
    for key in sorted(raw_keys | kit_keys):
        r = raw.get(key, []) + raw2.get(key, [])
        k = kit.get(key, []) + kit2.get(key, [])
        print(f"{key:42} {statistics.fmean(r) if r else float('nan'):12.4g} "
              f"{statistics.fmean(k) if k else float('nan'):14.4g}")
    missing, extra = sorted(raw_keys - kit_keys), sorted(kit_keys - raw_keys)
    if missing:
        print(f"wandbkit misses: {', '.join(missing)}")
    if extra:
        print(f"wandbkit adds: {', '.join(extra)}")
    same = not missing and not extra
    record("gpu_system_stats", "gpu keys shared with wandb", float(len(raw_keys & kit_keys)), "keys",
           baseline=f"{len(raw_keys)} keys wandb wrote", target="same key set", passed=same,
           note="cpu dry run" if args.cpu_dry_run else "")
    print("same gpu keys as wandb" if same else "gpu keys differ from wandb's")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
