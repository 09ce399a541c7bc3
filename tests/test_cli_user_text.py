"""Every CLI command that prints user text shows it exactly as given: names, tags, keys, config
and alerts holding Rich markup, brackets, ``%``, ``_`` and unicode never crash the command nor
lose characters (Rich reads ``[...]`` in any string it prints as markup)."""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path
from typing import Any

import pytest

import wandbkit
from wandbkit import hookimpl
from wandbkit.cli import main
from wandbkit.plugins import get_plugin_manager

NAMES = ["[red]boom[/red][/]", "exp[lr=0.1]", "a[link=file:///etc/passwd]click[/link]"]
PROJECT = "proj[bold]x[/bold]_50%é"
TAG = "tag[/]_%ü"
CONFIG_KEY, CONFIG_VALUE = "opt[beta]", "[italic]adam[/italic] 100%_ 日本"
METRIC = "[bold]k[/bold]_%ß"
ALERT_TITLE, ALERT_TEXT = "[blink]slow[/blink]", "loss [red]rose[/] by 5%_ ✓"
EVERY_TEXT = [*NAMES, PROJECT, TAG, CONFIG_KEY, CONFIG_VALUE, METRIC, ALERT_TITLE, ALERT_TEXT]


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # tables do not wrap the names being checked


def _hostile_runs() -> list[wandbkit.Run]:
    runs = []
    for i, name in enumerate(NAMES):
        run = wandbkit.init(project=PROJECT, name=name, tags=[TAG], mode="offline" if i == 0 else "disabled",
                            config={CONFIG_KEY: CONFIG_VALUE})
        for step in range(3):
            run.log({METRIC: float(step), "loss": 1.0 / (step + 1)})
        run.alert(ALERT_TITLE, ALERT_TEXT)
        run.finish(quiet=True)
        runs.append(run)
    return runs


def _run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "MarkupError" not in out.err, out.err
    assert code == 0, out.err
    return out.out + out.err


def test_runs_show_export_and_sync_listing_show_user_text_as_given(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = _hostile_runs()
    listing = _run_cli(capsys, "runs")
    for text in (*NAMES, PROJECT):
        assert text in listing
    assert all(text in _run_cli(capsys, "runs", "--project", PROJECT) for text in NAMES)
    for run, name in zip(runs, NAMES, strict=True):
        shown = _run_cli(capsys, "show", run.id)
        for text in (name, PROJECT, f"tags: {TAG}", CONFIG_KEY, CONFIG_VALUE, METRIC, ALERT_TITLE,
                     ALERT_TEXT):
            assert text in shown, (text, shown)
    exported = _run_cli(capsys, "export", runs[1].id)
    header = next(csv.reader(io.StringIO(exported)))
    assert header == ["step", METRIC, "loss"]
    pending = _run_cli(capsys, "sync", "--dry-run")
    assert runs[0].id in pending and PROJECT in pending and NAMES[0] in pending


def test_runs_of_an_unknown_project_names_it_and_lists_the_known_ones(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_runs()
    out = _run_cli(capsys, "runs", "--project", "nosuch[/]")
    assert "no runs in project 'nosuch[/]'" in out and PROJECT in out
    assert "no runs yet" not in out


class _Listed:
    """A third-party plugin whose registered name holds markup."""

    @hookimpl
    def wandbkit_run_started(self, run: Any) -> None:
        """Nothing to do: only its listing matters."""


def test_plugins_table_shows_a_plugin_name_as_given(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pm = get_plugin_manager()
    plugin, name = _Listed(), "bad[/]plug[red]in[/red]_50%ü"
    pm.register(plugin, name=name)
    try:
        assert name in _run_cli(capsys, "plugins")
    finally:
        pm.unregister(plugin)


def test_smoke_shows_user_text_as_given(offline_env: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("wandbkit_torch")
    models = tmp_path / "models.py"
    models.write_text(textwrap.dedent("""
        import torch
        def net():
            return torch.nn.Linear(4, 3)
        def batch():
            g = torch.Generator().manual_seed(0)
            return torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)
    """))
    out_dir = tmp_path / "out[bold]x[/bold]_50%ü"
    out = _run_cli(capsys, "smoke", "--model", f"{models}:net", "--data", f"{models}:batch",
                   "--check", "forward", "--no-run", "--out", str(out_dir))
    assert str(out_dir) in out


def test_ckpt_ls_shows_a_checkpoint_name_as_given(offline_env: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    artifacts = pytest.importorskip("wandbkit_artifacts")
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 2)
    name = "ck_50.x"  # checkpoint names are ASCII letters, digits, _ . -
    ckpt = artifacts.CheckpointManager(None, name, async_save=False, metric=METRIC)
    ckpt.save(1, model, metrics={METRIC: 0.5})
    ckpt.finish()
    listing = _run_cli(capsys, "ckpt", "ls")
    assert name in listing
    assert METRIC in _run_cli(capsys, "ckpt", "ls", name)  # its metric key


def _sweep_train(config: dict[str, Any], run: Any) -> None:
    run.log({"loss": float(config["x"])})


def test_sweep_show_shows_parameter_names_and_values_as_given(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweeps = pytest.importorskip("wandbkit_sweeps")
    sweep = {"method": "grid", "metric": {"name": "loss"}, "name": "sw[red]eep[/]_50%ü",
             "parameters": {"x": {"values": [1, 2]}, "opt_beta": {"value": CONFIG_VALUE}}}
    result = sweeps.run(sweep, _sweep_train, mode="disabled")  # names: W&B's pattern, no markup
    shown = _run_cli(capsys, "sweep", "show", result.sweep_id, "--no-log")
    assert "opt_beta" in shown and CONFIG_VALUE in shown
