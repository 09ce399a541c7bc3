"""The smoke runner: user-input errors, robustness to broken checks, the plugin hook, the
report's JSON, and logging to a real wandbkit run (read back from wandb's offline records)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import wandbkit
from wandbkit.errors import UserError
from wandbkit.plugins import get_plugin_manager
from wandbkit.smoke import SmokeCheck, Verdict, collect_smoke_checks
from wandbkit_torch.smoke import (
    BUILTIN_CHECKS,
    SmokeReport,
    available_checks,
    prepare_context,
    run_checks,
    run_smoke,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "smoke_models.py"
M = f"{EXAMPLES}:healthy_mlp"
D = f"{EXAMPLES}:blobs"


pytestmark = pytest.mark.usefixtures("one_thread")


# --- bad input: one clear UserError naming the option and the problem ----------------------

@pytest.fixture
def user_files(tmp_path: Path) -> Path:
    """Small user modules in the current directory (the test's temp folder)."""
    (tmp_path / "mymodels.py").write_text(
        "import torch\n"
        "def make():\n    return torch.nn.Linear(16, 8)\n"
        "def boom():\n    raise ValueError('bad width 0')\n"
        "def text():\n    return 'not data'\n"
        "WIDTH = 3\n")
    (tmp_path / "broken.py").write_text("import no_such_dependency_xyz\n")
    return tmp_path


@pytest.mark.parametrize(("model", "data", "message"), [
    ("healthy_mlp", D, "--model 'healthy_mlp': expected MODULE:FACTORY"),
    ("nope/missing.py:f", D, "--model: file 'nope/missing.py' not found"),
    ("no_such_module_xyz:f", D, "--model: cannot import module 'no_such_module_xyz'"),
    ("mymodels:nothing", D, "has no attribute 'nothing'; functions there: boom, make, text"),
    ("mymodels:WIDTH", D, "'WIDTH' is a int, not callable"),
    ("mymodels:boom", D, "--model: factory mymodels:boom raised ValueError: bad width 0"),
    (f"{EXAMPLES}:not_a_model", D, "returned a list, expected a torch.nn.Module"),
    ("broken.py:f", D, "importing 'broken.py' raised ModuleNotFoundError"),
    (M, "mymodels:text", "--data: factory returned a str; expected an (inputs, targets) pair"),
    (M, "mymodels.py:boom", "--data: factory mymodels.py:boom raised ValueError: bad width 0"),
])
def test_bad_references_raise_one_clear_user_error(user_files, model, data, message):
    with pytest.raises(UserError) as err:
        prepare_context(model, data, device="cpu")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_dotted_module_and_file_path_resolve_from_cwd(user_files):
    for ref in ("mymodels:make", "mymodels.py:make", "./mymodels.py:make"):
        ctx = prepare_context(ref, D, device="cpu")
        assert isinstance(ctx.fresh_model(), torch.nn.Linear)


def test_bad_task_and_device_are_user_errors():
    with pytest.raises(UserError, match="--task 'vision': expected one of"):
        prepare_context(M, D, task="vision", device="cpu")
    with pytest.raises(UserError, match="--task classification: needs integer"):
        prepare_context(M, f"{EXAMPLES}:waves", task="classification", device="cpu")
    with pytest.raises(UserError, match="--device 'tpu': expected cpu or cuda"):
        prepare_context(M, D, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="--device cuda: CUDA is not available"):
            prepare_context(M, D, device="cuda")


def test_task_is_inferred_from_targets():
    assert prepare_context(M, D, device="cpu").task == "classification"
    assert prepare_context(f"{EXAMPLES}:tiny_lm", f"{EXAMPLES}:tokens", device="cpu").task == "lm"
    assert prepare_context(f"{EXAMPLES}:regression_mlp", f"{EXAMPLES}:waves",
                           device="cpu").task == "regression"


def test_data_from_loader_dataset_and_dict():
    x, y = torch.randn(40, 16), torch.arange(40) % 8
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=7)
    for data in (lambda: loader, lambda: {"inputs": x, "targets": y}, lambda: [x, y]):
        ctx = prepare_context(M, data, device="cpu")
        assert len(ctx.data) == 40 and torch.equal(ctx.data.inputs, x)


def test_unknown_check_name_lists_the_available_ones():
    with pytest.raises(UserError, match="unknown check; available: forward, loss_at_init"):
        run_smoke(M, D, device="cpu", checks=["forwards"])


# --- robustness: a crashing check is a fail verdict, the others still run ------------------

def test_crashing_and_malformed_checks_become_fail_verdicts():
    def crash(ctx):
        raise RuntimeError("boom in a third-party check")

    checks = [SmokeCheck("crashes", crash), SmokeCheck("returns_none", lambda ctx: None),
              BUILTIN_CHECKS[0]]
    report = run_checks(prepare_context(M, D, device="cpu"), checks)
    crashed, none, forward = report.verdicts
    assert crashed.status == "fail"
    assert crashed.reason == "check crashed: RuntimeError: boom in a third-party check"
    assert "test_smoke_runner.py" in crashed.numbers["where"]
    assert none.status == "fail" and "not a wandbkit.smoke.Verdict" in none.reason
    assert forward.status == "pass"
    assert report.status == "fail" and report.exit_code == 1


def test_multiline_errors_stay_one_line_and_grad_mode_does_not_leak():
    def multiline(ctx):
        raise ValueError("first line\nsecond line")

    def grad_off(ctx):
        torch.set_grad_enabled(False)
        return Verdict("grad_off", "pass", "switched grad mode off")

    checks = [SmokeCheck("multiline", multiline), SmokeCheck("grad_off", grad_off),
              BUILTIN_CHECKS[2]]
    try:
        report = run_checks(prepare_context(M, D, device="cpu"), checks)
    finally:
        torch.set_grad_enabled(True)
    multi, off, backward = report.verdicts
    assert multi.reason == "check crashed: ValueError: first line"
    assert multi.numbers["error"] == "ValueError: first line\nsecond line"
    assert off.status == "pass"
    assert backward.status == "pass", backward.reason


def test_report_status_and_exit_code():
    def rep(*statuses):
        return SmokeReport([Verdict(f"c{i}", s, "r") for i, s in enumerate(statuses)])

    assert (rep("pass", "skip").status, rep("pass", "skip").exit_code) == ("pass", 0)
    assert (rep("pass", "warn").status, rep("pass", "warn").exit_code) == ("warn", 0)
    assert (rep("warn", "fail").status, rep("warn", "fail").exit_code) == ("fail", 1)


def test_json_is_strict_even_with_nan_numbers():
    report = run_smoke(f"{EXAMPLES}:nan_division_mlp", D, device="cpu",
                       checks=["forward", "loss_at_init", "determinism"])
    data = json.loads(report.to_json())
    assert data["status"] == "fail" and data["exit_code"] == 1
    by_name = {v["name"]: v for v in data["verdicts"]}
    assert by_name["loss_at_init"]["numbers"]["actual"] == "nan"
    assert by_name["determinism"]["status"] == "skip"


# --- the plugin hook ----------------------------------------------------------------------

def test_builtin_checks_come_through_the_entry_point_hook():
    names = [c.name for c in collect_smoke_checks()]
    assert [c.name for c in BUILTIN_CHECKS] == [n for n in names if n in
                                                {c.name for c in BUILTIN_CHECKS}]


def test_third_party_check_registered_through_the_hook_runs():
    class Plugin:
        @wandbkit.hookimpl
        def wandbkit_register_smoke_checks(self, register):
            def param_count(ctx):
                n = sum(p.numel() for p in ctx.fresh_model().parameters())
                return Verdict("ignored", "warn" if n > 1000 else "pass", f"{n} parameters",
                               {"params": n})
            register(SmokeCheck("param_count", param_count, "model size", order=95))

    pm = get_plugin_manager()
    pm.register(Plugin(), name="test-smoke-plugin")
    try:
        assert [c.name for c in available_checks()][-2:] == ["determinism", "param_count"]
        report = run_smoke(M, D, device="cpu")
    finally:
        pm.unregister(name="test-smoke-plugin")
    extra = report.verdict("param_count")
    assert (extra.status, extra.numbers["params"]) == ("warn", 1864)
    assert report.status == "warn" and report.exit_code == 0
    assert len(report.verdicts) == 10


# --- logging to a real run ----------------------------------------------------------------

def test_a_run_that_cannot_log_does_not_lose_the_verdicts(capsys):
    run = wandbkit.init(project="smoke-test", mode="offline")
    run.finish(quiet=True)
    run.summary = None  # a broken run object: writing the summary raises

    report = run_smoke(M, D, device="cpu", run=run, checks=["forward"])
    assert report.verdict("forward").status == "pass"
    assert f"could not log the smoke report to run {run.id}: TypeError" in capsys.readouterr().err


def _run_dir(run_id: str) -> Path:
    [run_dir] = Path(os.environ["WANDBKIT_DIR"]).glob(f"wandb/offline-run-*-{run_id}")
    return run_dir


def _records(run_dir: Path) -> list[dict]:
    wandb_cli = Path(sys.executable).parent / "wandb"
    out = subprocess.run([str(wandb_cli), "leet", "inspect", "--json", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_report_logged_to_run_as_table_summary_curves_and_plot():
    run = wandbkit.init(project="smoke-test", mode="offline")
    for step in range(3):  # a run that already trained: smoke rows must come after these
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
    report = run_smoke(M, D, device="cpu", run=run,
                       checks=["forward", "overfit_batch", "lr_range"])
    run.finish(quiet=True)
    assert report.run_id == run.id and Path(report.out_dir).name == run.id
    run_dir = _run_dir(run.id)
    records = _records(run_dir)
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    overfit = [h for h in history if "smoke/overfit/loss" in h]
    assert [h["smoke/overfit/loss"] for h in overfit] == report.verdict(
        "overfit_batch").numbers["curve"]
    assert [h["smoke/step"] for h in overfit] == list(range(101))
    assert [h["_step"] for h in history] == list(range(len(history)))  # none dropped
    assert len(history) == 3 + 101 + 1
    last = next(h for h in history if "smoke/verdicts._type" in h)
    assert last["smoke/verdicts._type"] == "table-file"
    table = json.loads((run_dir / "files" / last["smoke/verdicts.path"]).read_text())
    assert table["columns"][:3] == ["check", "status", "reason"]
    assert [row[:2] for row in table["data"]] == [[v.name, v.status] for v in report.verdicts]
    assert last["smoke/lr_range_plot._type"] == "image-file"
    assert (run_dir / "files" / last["smoke/lr_range_plot.path"]).stat().st_size > 1000
    summary: dict = {}
    for r in records:
        if r["type"] == "summary":
            summary.update(r["summary"].get("update", {}))
    assert summary["smoke/status"] == "pass"
    assert summary["smoke/overfit_batch/status"] == "pass"
    assert summary["smoke/lr_range/suggested_lr"] == report.verdict(
        "lr_range").numbers["suggested_lr"]
