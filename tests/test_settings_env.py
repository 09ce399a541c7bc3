"""Durations read from the environment: a bad value is one warning and the default, never an
``import wandbkit`` that fails with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wandbkit.settings import env_seconds


@pytest.mark.parametrize("variable", ["WANDBKIT_HEARTBEAT_S", "WANDBKIT_WANDB_INIT_TIMEOUT"])
def test_a_bad_duration_warns_once_and_import_and_a_run_still_work(offline_env: Path,
                                                                   variable: str) -> None:
    code = ("import wandbkit, wandbkit.store as s, wandbkit.sinks.wandb_sink as w\n"
            "print(s.HEARTBEAT_S, w.INIT_TIMEOUT_S)\n"
            "wandbkit.init(project='p', mode='offline').finish(quiet=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, variable: "30s"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["30.0", "30.0"]
    assert out.stderr.strip().splitlines() == [
        f"wandbkit: {variable}='30s' is not a positive number of seconds; using 30"]


def test_env_seconds_reads_numbers_and_refuses_what_is_not_a_positive_duration(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WANDBKIT_TEST_S", " 2.5 ")
    assert env_seconds("WANDBKIT_TEST_S", 9.0) == 2.5
    monkeypatch.setenv("WANDBKIT_TEST_S", "")
    assert env_seconds("WANDBKIT_TEST_S", 9.0) == 9.0
    for bad in ("0", "-1", "nan", "inf", "ten"):
        monkeypatch.setenv("WANDBKIT_TEST_S", bad)
        assert env_seconds("WANDBKIT_TEST_S", 9.0) == 9.0
        assert f"WANDBKIT_TEST_S={bad!r} is not a positive number" in capsys.readouterr().err


def test_zero_is_off_where_a_variable_documents_it(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WANDBKIT_TEST_S", "0")
    assert env_seconds("WANDBKIT_TEST_S", 15.0, zero_means_off=True) == 0.0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("WANDBKIT_TEST_S", "-0.5")
    assert env_seconds("WANDBKIT_TEST_S", 15.0, zero_means_off=True) == 15.0
    assert "is not a positive number of seconds or 0 (off)" in capsys.readouterr().err
