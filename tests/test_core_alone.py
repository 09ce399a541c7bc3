"""`pip install ./packages/core` alone, in a clean venv, gives a working `wandbkit`.

No torch, transformers or gradio may be needed for import, the CLI or a run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "packages" / "core"


@pytest.mark.slow
def test_core_installs_and_runs_alone_in_a_clean_venv(offline_env: Path, tmp_path: Path) -> None:
    source = tmp_path / "core"  # build from a copy: pip leaves build/ folders behind
    shutil.copytree(CORE, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                "__pycache__"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)],
                   check=True, env=env, timeout=900)

    listed = subprocess.run([str(bin_dir / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True, env=env)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "wandbkit" in installed
    assert not {"torch", "transformers", "gradio"} & installed

    plugins = subprocess.run([str(bin_dir / "wandbkit"), "plugins", "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert plugins.returncode == 0, plugins.stderr
    names = {p["name"]: p["status"] for p in json.loads(plugins.stdout)}
    assert names == {"store": "ok", "wandb": "ok", "core-commands": "ok"}

    demo = subprocess.run([str(bin_dir / "wandbkit"), "demo", "--steps", "20"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert demo.returncode == 0, demo.stderr
    # 20 training steps plus the final row of media (picture, table)
    assert "wandb: 21/21 rows" in demo.stderr and "store: 21/21 rows" in demo.stderr
    no_torch = subprocess.run([str(bin_dir / "python"), "-c",
                               "import sys, wandbkit; wandbkit.init(mode='disabled').finish(); "
                               "assert 'torch' not in sys.modules"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert no_torch.returncode == 0, no_torch.stderr
