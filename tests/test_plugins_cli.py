"""``wandbkit plugins [--json]``: what is installed, its version, hooks and status."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import wandbkit
from wandbkit import hookimpl, hookspecs
from wandbkit.cli import main as cli_main
from wandbkit.plugins import get_plugin_manager

BUILTIN_HOOKS = {
    "store": ["wandbkit_register_sinks"],
    "wandb": ["wandbkit_register_sinks"],
    "core-commands": ["wandbkit_register_commands"],
}
HOOK_NAMES = {name for name in vars(hookspecs) if name.startswith("wandbkit_")}


class Throwaway:
    """A plugin registered for one test."""

    @hookimpl
    def wandbkit_run_started(self, run: Any) -> None:
        """Nothing to do: only its listing matters."""

    @hookimpl
    def wandbkit_register_metrics(self, register: Any) -> None:
        """Registers nothing."""


@pytest.fixture
def throwaway() -> Iterator[str]:
    """A plugin named ``throwaway-listing`` for the length of the test."""
    pm = get_plugin_manager()
    plugin = Throwaway()
    pm.register(plugin, name="throwaway-listing")
    try:
        yield "throwaway-listing"
    finally:
        pm.unregister(plugin)


def plugins_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Run ``wandbkit plugins --json`` in this process and parse what it printed."""
    capsys.readouterr()
    assert cli_main(["plugins", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_plugins_json_lists_builtins_with_their_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    """A list of objects with name, version, hooks, status; the built-ins are there and ok."""
    data = plugins_json(capsys)
    assert isinstance(data, list) and data
    for entry in data:
        assert {"name", "distribution", "version", "hooks", "status"} <= set(entry), entry
        assert entry["status"] == "ok" or entry["status"].startswith("broken: "), entry
        assert set(entry["hooks"]) <= HOOK_NAMES, entry
        if entry["status"] == "ok":
            assert entry["hooks"], f"{entry['name']} is ok but implements no hook"
    by_name = {e["name"]: e for e in data}
    assert len(by_name) == len(data), "a plugin is listed twice"
    for name, hooks in BUILTIN_HOOKS.items():
        assert by_name[name] == {"name": name, "distribution": "wandbkit",
                                 "version": wandbkit.__version__, "hooks": hooks,
                                 "status": "ok", "builtin": True}
    assert [e["name"] for e in data][:3] == sorted(BUILTIN_HOOKS)  # built-ins first


def test_plugins_json_matches_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    """Every registered plugin is listed with exactly the hooks pluggy calls it for."""
    pm = get_plugin_manager()
    by_name = {e["name"]: e for e in plugins_json(capsys)}
    for name, plugin in pm.list_name_plugin():
        callers = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
        assert by_name[name]["hooks"] == callers, name
        assert by_name[name]["status"] == "ok"


def test_plugins_lists_a_plugin_registered_at_run_time(
        throwaway: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Shown in the JSON and in the table, with the hooks it implements."""
    entry = {e["name"]: e for e in plugins_json(capsys)}[throwaway]
    assert entry["hooks"] == ["wandbkit_register_metrics", "wandbkit_run_started"]
    assert entry["status"] == "ok" and entry["builtin"] is False
    monkeypatch.setenv("COLUMNS", "250")  # rich would shorten cells to fit 80 columns
    assert cli_main(["plugins"]) == 0
    table = capsys.readouterr().out
    line = next(ln for ln in table.splitlines() if throwaway in ln)
    # The table may drop the common ``wandbkit_`` prefix; the hook names themselves stay.
    assert "register_metrics" in line and "run_started" in line and "ok" in line


def test_plugins_table(capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The table has a header and one row per plugin with its distribution, version, status."""
    monkeypatch.setenv("COLUMNS", "250")
    expected = plugins_json(capsys)
    assert cli_main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(ln for ln in lines if "name" in ln and "status" in ln)
    for column in ("name", "distribution", "version", "hooks", "status"):
        assert column in header
    for entry in expected:
        row = next((ln for ln in lines if f" {entry['name']} " in ln), None)
        assert row is not None, f"no table row for {entry['name']}"
        assert entry["distribution"] in row and entry["version"] in row
        assert ("ok" in row) == (entry["status"] == "ok")
        for hook in entry["hooks"]:  # with or without the common ``wandbkit_`` prefix
            assert hook.removeprefix("wandbkit_") in row, (hook, row)


def test_plugins_through_the_console_script() -> None:
    """``python -m wandbkit plugins --json`` in a fresh process: built-ins + every entry point."""
    proc = subprocess.run([sys.executable, "-m", "wandbkit", "plugins", "--json"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    names = {e["name"] for e in json.loads(proc.stdout)}
    installed = {ep.name for ep in importlib.metadata.entry_points(group="wandbkit")}
    assert names == set(BUILTIN_HOOKS) | installed  # broken ones are listed too


def test_plugins_bad_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped flag is a user mistake: exit code 2 and a message naming it."""
    capsys.readouterr()
    assert cli_main(["plugins", "--jsn"]) == 2
    err = capsys.readouterr().err
    assert "--jsn" in err and "Traceback" not in err
