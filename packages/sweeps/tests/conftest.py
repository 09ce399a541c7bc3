"""The sweep tests start many Python processes (workers, agents, programs): those load only
this plugin (``WANDBKIT_PLUGINS``), not every installed one, so none pays for torch or
transformers it does not use. This process keeps its full plugin set: it is loaded first, and
the variable only reaches processes started during a test."""

from __future__ import annotations

import pytest

from wandbkit.plugins import get_plugin_manager


@pytest.fixture(autouse=True)
def only_the_sweeps_plugin_in_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes load the sweeps plugin alone; this one is unaffected."""
    get_plugin_manager()  # cached with every installed plugin before the variable is set
    monkeypatch.setenv("WANDBKIT_PLUGINS", "sweeps")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # the Sweeps tab test: no lookups
