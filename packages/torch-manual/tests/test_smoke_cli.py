"""`wandbkit smoke` through the real wandbkit CLI: exit codes 0/1/2, --json, the table, the run.

Two runs go through a real `python -m wandbkit` process (as a user types it, from the repo
root); the usage errors go through `wandbkit.cli.main` in-process, the same code path the
console script runs, to keep the file fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wandbkit.cli import main

REPO = Path(__file__).resolve().parents[3]
M = "examples/smoke_models.py"


pytestmark = pytest.mark.usefixtures("one_thread")


def wandbkit_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "wandbkit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_healthy_model_exit_0_json_and_run(tmp_path):
    proc = wandbkit_cli("smoke", "--model", f"{M}:healthy_mlp", "--data", f"{M}:blobs",
                        "--json", "--mode", "offline", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "pass" and report["exit_code"] == 0
    assert [(v["name"], v["status"]) for v in report["verdicts"]] == [
        (name, "pass") for name in ("forward", "loss_at_init", "backward", "batch_independence",
                                    "overfit_batch", "zero_input_baseline", "nonfinite",
                                    "lr_range", "determinism")]
    assert (tmp_path / "out" / "lr_range.png").is_file()
    # The run exists offline with the verdict summary (read with wandb's own reader).
    [run_dir] = Path(os.environ["WANDBKIT_DIR"]).glob(f"wandb/offline-run-*-{report['run_id']}")
    out = subprocess.run([str(Path(sys.executable).parent / "wandb"), "leet", "inspect",
                          "--summary", "--json", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=120)
    summary = json.loads(out.stdout)
    assert summary["project"] == "wandbkit-smoke"
    assert summary["summary"]["smoke/status"] == "pass"
    assert summary["config"]["smoke"]["model"] == f"{M}:healthy_mlp"


def test_planted_bug_exit_1_with_table():
    proc = wandbkit_cli("smoke", "--model", f"{M}:batch_mixing_mlp", "--data", f"{M}:blobs",
                        "--no-run", "--check", "batch_independence", "--check", "forward")
    assert proc.returncode == 1, proc.stderr
    assert "batch_independence" in proc.stdout and "mixes the batch" in proc.stdout
    assert "FAIL (1 pass, 0 warn, 1 fail, 0 skip)" in proc.stdout


def test_missing_attribute_exit_2_one_line_no_traceback():
    proc = wandbkit_cli("smoke", "--model", f"{M}:no_such_model", "--data", f"{M}:blobs")
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: --model '{M}:no_such_model': module '{M}' has no attribute "
                           "'no_such_model'; functions there: ")
    # the factories a --model can name come first, then classes, then what the file imported
    assert "healthy_mlp" in line.split("; classes there: ")[0]
    assert "MLP" in line.split("; classes there: ")[1] and "imported there: TensorDataset" in line
    assert "Traceback" not in proc.stderr


@pytest.fixture
def examples_cwd(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "nowhere.py:f", "--data", f"{M}:blobs"], "error: --model: file 'nowhere.py'"),
    (["--model", f"{M}:healthy_mlp"], "Missing option '--data'"),
    (["--model", f"{M}:not_a_model", "--data", f"{M}:blobs"], "returned a list"),
    (["--model", f"{M}:healthy_mlp", "--data", f"{M}:healthy_mlp"],
     "error: --data: factory returned a MLP"),
    (["--model", f"{M}:healthy_mlp", "--data", f"{M}:blobs", "--task", "vision"],
     "error: --task 'vision'"),
    (["--model", f"{M}:healthy_mlp", "--data", f"{M}:blobs", "--check", "nope"],
     "error: --check 'nope': unknown check"),
    (["--model", f"{M}:healthy_mlp", "--data", f"{M}:blobs", "--mode", "sometimes"],
     "error: mode='sometimes' is not one of"),
])
def test_usage_errors_exit_2(examples_cwd, capsys, args, message):
    assert main(["smoke", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_exit_2(examples_cwd, capsys):
    code = main(["smoke", "--model", f"{M}:healthy_mlp", "--data", f"{M}:blobs",
                 "--device", "cuda", "--no-run"])
    assert code == 2
    assert "error: --device cuda: CUDA is not available" in capsys.readouterr().err


def test_quick_train_json(examples_cwd, capsys, tmp_path):
    code = main(["smoke", "--quick-train", "--model", f"{M}:healthy_mlp", "--data",
                 f"{M}:blobs", "--json", "--no-run", "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    [v] = report["verdicts"]
    assert v["name"] == "quick_train" and v["status"] == "pass"
    assert v["numbers"]["examples"] == 100 and v["numbers"]["epochs"] == 10
    assert v["numbers"]["last_epoch"] < v["numbers"]["first_epoch"]


def test_smoke_is_listed_in_help(capsys):
    assert main(["--help"]) == 0
    assert "smoke" in capsys.readouterr().out
