"""The sweep tests start many Python processes (workers, agents, programs): each loads only
this plugin (``WANDBKIT_PLUGINS``), not every installed one, so none pays for torch or
transformers it does not use."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def only_the_sweeps_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes load the sweeps plugin alone."""
    monkeypatch.setenv("WANDBKIT_PLUGINS", "sweeps")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # the Sweeps tab test: no lookups
