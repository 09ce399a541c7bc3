"""Shared fixtures: every test runs wandb offline with all its directories in a temp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

WANDB_VARS = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR",
              "WANDB_ARTIFACT_DIR")


@pytest.fixture(autouse=True)
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point wandbkit and wandb at a fresh temp folder, offline, with no API key."""
    home = tmp_path / "wk"
    home.mkdir()
    monkeypatch.setenv("WANDBKIT_DIR", str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDBKIT_PLUGINS", raising=False)
    monkeypatch.delenv("WANDBKIT_STRICT", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for var in WANDB_VARS:
        monkeypatch.delenv(var, raising=False)  # wandbkit puts wandb's folders under WANDBKIT_DIR
    # wandb's settings folder is the user's (entity, base URL): wandbkit leaves it alone, so
    # tests point it at a temp folder themselves
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.chdir(tmp_path)
    return home
