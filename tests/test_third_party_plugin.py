"""A separately installed plugin works like a built-in one; broken ones are isolated.

The example package ``examples/third_party_plugin`` (dist ``wandbkit-jsonl``, entry point
``jsonl``) and two deliberately broken packages built here (one whose module raises
ImportError, one with a misspelled hookimpl) are installed with a real ``pip install``
(``--no-deps --no-build-isolation``) into a fresh ``--target`` folder, which the tests put on
``sys.path`` / ``PYTHONPATH``. That is the same discovery path as a site-packages install
(``importlib.metadata`` entry points from a ``.dist-info``), but it never touches the shared
virtual environment: tests of other packages, even ones running at the same time in other
processes, never see these plugins, nothing has to be uninstalled, and running the tests
twice (or in parallel) starts from a clean folder each time.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wandbkit
from wandbkit.plugins import plugin_infos, reset_plugins
from wandbkit.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "third_party_plugin"
BUILTINS = {"store", "wandb", "core-commands"}
OUR_MODULES = ("wandbkit_jsonl", "wandbkit_broken_import", "wandbkit_misspelled")

BROKEN = {
    "wandbkit-broken-import": ("broken_import", "wandbkit_broken_import", """
        import wandbkit_no_such_dependency  # not installed: the entry point fails to load
        """),
    "wandbkit-misspelled": ("misspelled", "wandbkit_misspelled", """
        from wandbkit import hookimpl


        @hookimpl
        def wandbkit_run_strated(run):  # misspelled wandbkit_run_started
            print("never called")


        @hookimpl
        def wandbkit_register_commands(cli):
            cli.command("misspelled-hello")(lambda: print("hello"))
        """),
}


def write_package(folder: Path, dist: str, entry: str, module: str, source: str) -> Path:
    """A minimal installable package with one module and one ``wandbkit`` entry point."""
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "0.0.1"
        requires-python = ">=3.11"

        [project.entry-points.wandbkit]
        {entry} = "{module}"

        [tool.setuptools]
        py-modules = ["{module}"]
        """))
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding wandbkit-jsonl and the two broken plugins, installed by pip."""
    base = tmp_path_factory.mktemp("third_party")
    # Build from a copy: pip/setuptools write build/ and *.egg-info next to the sources.
    source = base / "src" / "third_party_plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    broken = [write_package(base / "src" / dist, dist, entry, module, code)
              for dist, (entry, module, code) in BROKEN.items()]
    target = base / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-input", "--quiet", "--no-index", "--no-compile",
         "--target", str(target),
         str(source), *map(str, broken)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "wandbkit_jsonl" / "__init__.py").exists()
    return target


@pytest.fixture
def loaded(site: Path) -> Iterator[Path]:
    """The installed plugins visible to this process; forgotten again afterwards."""
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    reset_plugins()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in list(sys.modules):
            if name.split(".")[0] in OUR_MODULES:
                del sys.modules[name]
        importlib.invalidate_caches()
        reset_plugins()


PLUGIN_VARS = ("WANDBKIT_PLUGINS", "WANDBKIT_STRICT", "WANDBKIT_TRACE_PLUGINS", "PYTHONPATH")


def cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m wandbkit ARGS`` with the installed plugins on the path.

    The plugin variables come only from ``env``, never from the shell running the tests.
    """
    inherited = {k: v for k, v in os.environ.items() if k not in PLUGIN_VARS}
    full_env = dict(inherited, PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-m", "wandbkit", *args], capture_output=True,
                          text=True, env=full_env, timeout=120)


def plugins_json(site: Path, **env: str) -> tuple[dict[str, dict[str, Any]], str]:
    """``wandbkit plugins --json`` by name, and what it printed on stderr."""
    proc = cli(site, "plugins", "--json", **env)
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)}, proc.stderr


@pytest.fixture(scope="module")
def listing(site: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """``wandbkit plugins --json`` with everything installed loaded (run once per module)."""
    return plugins_json(site)


def test_plugins_lists_installed_and_broken(listing: tuple[dict[str, Any], str]) -> None:
    """jsonl is ok with its hooks; the broken ones say why; the rest is untouched."""
    plugins, err = listing
    assert plugins["jsonl"] == {
        "name": "jsonl", "distribution": "wandbkit-jsonl", "version": "0.1.0",
        "hooks": ["wandbkit_dashboard_panels", "wandbkit_register_commands",
                  "wandbkit_register_demo_stages", "wandbkit_register_sinks"],
        "status": "ok", "builtin": False}
    broken = plugins["broken_import"]
    assert broken["distribution"] == "wandbkit-broken-import" and broken["version"] == "0.0.1"
    assert broken["status"].startswith("broken: ModuleNotFoundError")
    assert "wandbkit_no_such_dependency" in broken["status"]
    assert all(plugins[name]["status"] == "ok" for name in BUILTINS)
    # Reported once each on stderr, by name, distribution and version.
    assert err.count("plugin broken_import (wandbkit-broken-import 0.0.1) failed") == 1, err
    assert err.count("plugin misspelled (wandbkit-misspelled 0.0.1) failed") == 1, err


def test_misspelled_hookimpl_is_reported_broken_by_name(
        site: Path, listing: tuple[dict[str, Any], str]) -> None:
    """A hookimpl that matches no hook breaks its plugin loudly, naming the function."""
    plugins, _ = listing
    status = plugins["misspelled"]["status"]
    assert status.startswith("broken: ") and "wandbkit_run_strated" in status, status
    # Its correctly spelled hook is not half-registered: the plugin is out as a whole.
    assert plugins["misspelled"]["hooks"] == []
    proc = cli(site, "misspelled-hello")
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_sink_writes_every_row_of_a_real_run(loaded: Path) -> None:
    """Installed in this interpreter, the plugin's sink gets every row next to the store."""
    infos = {i.name: i for i in plugin_infos()}
    assert infos["jsonl"].status == "ok"
    assert infos["broken_import"].status.startswith("broken: ")  # and yet the run works:
    run = wandbkit.init(project="jsonl", mode="disabled", config={"lr": 0.01})
    for step in range(30):
        run.log({"train/loss": 1.0 / (step + 1), "eval": {"acc": step / 30}})
    run.log({"train/loss": float("nan")}, step=30)
    run.summary["best"] = 0.25
    report = run.finish(quiet=True)

    by_name = {s.name: s for s in report.sinks}
    path = run.store_dir / "jsonl" / f"{run.id}.jsonl"
    assert by_name["jsonl"].ok and by_name["jsonl"].rows_delivered == 31
    assert by_name["jsonl"].info["where"] == str(path)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [r for r in records if r["type"] == "row"]
    assert [r["step"] for r in rows] == list(range(31))
    assert rows[3]["values"] == {"train/loss": 0.25, "eval/acc": 0.1}
    assert rows[30]["values"] == {"train/loss": "nan"}
    assert {"type": "config", "values": {"lr": 0.01}} in records
    assert {"type": "summary", "values": {"best": 0.25}} in records
    assert records[-1] == {"type": "finish", "exit_code": 0, "rows": 31}
    # The same rows as the built-in store sink.
    store_loss = Store.open().history(run.id)["train/loss"]
    assert [s for s, _ in store_loss] == [r["step"] for r in rows]


def test_command_runs_through_the_real_cli(loaded: Path) -> None:
    """``wandbkit jsonl-tail RUN`` prints the run's last rows; bad input exits 2."""
    with wandbkit.init(project="jsonl", name="tail-me", mode="disabled") as run:
        for step in range(8):
            run.log({"loss": step * 0.5})

    tail = cli(loaded, "jsonl-tail", run.id, "-n", "3")
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.splitlines() == ["step 5  loss=2.5", "step 6  loss=3.0", "step 7  loss=3.5"]
    by_name = cli(loaded, "jsonl-tail", "tail-me", "--lines", "1", "--json")
    assert by_name.returncode == 0, by_name.stderr
    last = json.loads(by_name.stdout)
    assert last["step"] == 7 and last["values"] == {"loss": 3.5} and last["type"] == "row"

    unknown = cli(loaded, "jsonl-tail", "zzzzzzzz")
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines()[-1].startswith("error: no run 'zzzzzzzz'")
    assert "Traceback" not in unknown.stderr
    with wandbkit.init(project="jsonl", mode="disabled", sinks=["store"]) as no_jsonl:
        no_jsonl.log({"loss": 1.0})
    missing = cli(loaded, "jsonl-tail", no_jsonl.id)
    assert missing.returncode == 2 and "has no JSON-lines file" in missing.stderr
    assert "Traceback" not in missing.stderr


LIGHT_SCRIPT = """
import sys, wandbkit
with wandbkit.init(project="light", mode="disabled") as run:
    run.log({"loss": 1.0})
print(sorted(s.name for s in run.report.sinks))
print("typer" in sys.modules, "torch" in sys.modules)
"""


def test_plugin_keeps_wandbkit_init_light(site: Path) -> None:
    """A run with the plugin loaded imports its sink but not its CLI (typer) or torch."""
    proc = subprocess.run([sys.executable, "-c", LIGHT_SCRIPT], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(site), WANDBKIT_PLUGINS="jsonl",
                                   WANDBKIT_QUIET="1"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['jsonl', 'store']", "False False"]


def test_wandbkit_plugins_env_narrows_loading(site: Path) -> None:
    """``WANDBKIT_PLUGINS=`` loads no outside plugin; ``=jsonl`` loads only that one."""
    none, err = plugins_json(site, WANDBKIT_PLUGINS="")
    assert set(none) == BUILTINS
    assert "failed" not in err  # the broken plugins were not even imported
    assert cli(site, "jsonl-tail", "x", WANDBKIT_PLUGINS="").returncode == 2  # no such command
    only, err = plugins_json(site, WANDBKIT_PLUGINS="jsonl")
    assert set(only) == BUILTINS | {"jsonl"} and only["jsonl"]["status"] == "ok"
    assert "failed" not in err
    by_dist, _ = plugins_json(site, WANDBKIT_PLUGINS="wandbkit-jsonl")  # distribution name
    assert set(by_dist) == BUILTINS | {"jsonl"}


def test_strict_mode_makes_a_broken_plugin_an_error(site: Path) -> None:
    """``WANDBKIT_STRICT=1``: loading fails, naming the plugin, instead of going on."""
    proc = cli(site, "plugins", "--json", WANDBKIT_STRICT="1",
               WANDBKIT_PLUGINS="jsonl,broken_import")
    assert proc.returncode != 0
    assert "error: plugin broken_import" in proc.stderr


def test_strict_mode_cli_error_is_one_line(site: Path) -> None:
    """The strict failure reaches the user as one line, not a traceback (house rule)."""
    proc = cli(site, "plugins", WANDBKIT_STRICT="1", WANDBKIT_PLUGINS="broken_import")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: plugin broken_import")
