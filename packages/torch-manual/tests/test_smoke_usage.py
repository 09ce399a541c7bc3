"""How users reach smoke besides the core CLI tests: --loss, the README's Python example, the
example script, and a plugin module light enough that `wandbkit --help` never imports torch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wandbkit.cli import main
from wandbkit_torch.smoke import prepare_context, quick_train, run_smoke

REPO = Path(__file__).resolve().parents[3]
PACKAGE = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "smoke_models.py"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def losses(tmp_path: Path) -> Path:
    (tmp_path / "losses.py").write_text(
        "import torch.nn.functional as F\n"
        "def triple(out, y):\n    return 3 * F.cross_entropy(out, y)\n"
        "def per_example(out, y):\n    return F.cross_entropy(out, y, reduction='none')\n")
    return tmp_path


def test_custom_loss_is_the_one_checked(losses):
    default = run_smoke(f"{EXAMPLES}:healthy_mlp", f"{EXAMPLES}:blobs", device="cpu",
                        checks=["loss_at_init"]).verdicts[0]
    tripled = run_smoke(f"{EXAMPLES}:healthy_mlp", f"{EXAMPLES}:blobs", loss_fn="losses:triple",
                        device="cpu", checks=["loss_at_init"]).verdicts[0]
    assert tripled.numbers["actual"] == pytest.approx(3 * default.numbers["actual"], rel=1e-3)
    assert (default.status, tripled.status) == ("pass", "fail")


def test_non_scalar_loss_fails_forward_check_via_cli(losses, capsys):
    code = main(["smoke", "--model", f"{EXAMPLES}:healthy_mlp", "--data", f"{EXAMPLES}:blobs",
                 "--loss", "losses.py:per_example", "--check", "forward", "--no-run"])
    assert code == 1
    assert "must be a scalar" in capsys.readouterr().out


def test_loss_reference_errors_name_the_option(losses):
    from wandbkit.errors import UserError

    with pytest.raises(UserError, match="--loss 'losses:nothing': module 'losses' has no"):
        prepare_context(f"{EXAMPLES}:healthy_mlp", f"{EXAMPLES}:blobs", "losses:nothing")


def test_quick_train_python_call_on_a_loader():
    x, y = torch.randn(120, 16), torch.arange(120) % 8
    x = x + 3 * torch.nn.functional.one_hot(y, 16).float()  # learnable: class marks a feature
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    report = quick_train(f"{EXAMPLES}:healthy_mlp", lambda: loader, device="cpu")
    [v] = report.verdicts
    assert (v.name, v.status, report.exit_code) == ("quick_train", "pass", 0)
    assert v.numbers["examples"] == 100
    assert v.numbers["last_epoch"] < 0.9 * v.numbers["first_epoch"]


def test_readme_python_example_runs(tmp_path, capsys):
    readme = (PACKAGE / "README.md").read_text()
    [code] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "run_smoke" in b]
    (tmp_path / "examples").mkdir(exist_ok=True)
    shutil.copy(EXAMPLES, tmp_path / "examples" / "smoke_models.py")
    exec(compile(code, "README.md", "exec"), {})  # cwd is tmp_path (root conftest)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "pass 0"
    assert "forward pass output [16, 8] float32 for input [16, 16], all finite" in out


def test_example_script_runs(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, str(EXAMPLES)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "healthy_mlp: pass, exit code 0" in proc.stdout
    assert "batch_mixing_mlp: fail, exit code 1" in proc.stdout


def test_plugin_modules_do_not_import_torch():
    code = ("import sys, wandbkit_torch, wandbkit_torch.plugin, wandbkit_torch.smoke, "
            "wandbkit_torch.smoke.cli\n"
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "[]"
