"""``make install`` keeps pip quiet (its output goes to a log) and shows that log when it fails.

Run against a throwaway virtual environment that has no pip, so pip's failure is real and
immediate and nothing is installed anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_a_failed_install_prints_pips_output_and_where_its_log_is(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    out = subprocess.run(["make", "-C", str(REPO), "install", f"VENV={venv}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    log = venv / "install.log"
    assert "No module named pip" in log.read_text()
    assert "No module named pip" in out.stdout  # the why, shown because it failed
    assert f"pip's output is above and in {log}" in out.stderr
    assert not (venv / ".installed").exists()

