"""Every hook in ``wandbkit.hookspecs`` working through the real machinery.

Each ``test_hook_<name>`` registers a throwaway plugin object for the length of the test
(``get_plugin_manager().register(obj, name=...)``, unregistered in ``finally``) and drives the
public API that calls the hook: ``wandbkit.init`` / ``log`` / ``finish`` with real sinks (W&B
offline where it matters), ``compute_metrics``, ``save_checkpoint`` / ``load_checkpoint``,
``collect_panels``, ``wandbkit.cli.main``, ``collect_smoke_checks``, ``call_each``.
``tests/test_hook_docs.py`` checks that every hook has such a test.

Then the failure rules: a plugin that raises is reported once and the rest keep working,
``WANDBKIT_STRICT=1`` makes it an error, a sink that raises mid-run leaves the other sinks
with every row, and ``WANDBKIT_TRACE_PLUGINS=1`` prints hook calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wandb_records import history_items, wandb_records

import wandbkit
from wandbkit import hookimpl
from wandbkit.checkpointing import load_checkpoint, save_checkpoint
from wandbkit.cli import main as cli_main
from wandbkit.errors import PluginError, UserError
from wandbkit.metrics import Metric, available_metrics, compute_metrics
from wandbkit.panels import Panel, collect_panels
from wandbkit.plugins import call_each, get_plugin_manager, plugin_infos
from wandbkit.rows import Row
from wandbkit.sinks.base import Sink
from wandbkit.smoke import SmokeCheck, Verdict
from wandbkit.store import Store

Register = Callable[[object, str], object]


@pytest.fixture
def register_plugin() -> Iterator[Register]:
    """``register_plugin(obj, name)`` adds a throwaway plugin; all are removed afterwards."""
    pm = get_plugin_manager()
    added: list[object] = []

    def register(plugin: object, name: str) -> object:
        # A unique name: failures are reported once per plugin name and run.
        pm.register(plugin, name=f"{name}-{uuid.uuid4().hex[:6]}")
        added.append(plugin)
        return plugin

    try:
        yield register
    finally:
        for plugin in added:
            if pm.is_registered(plugin):
                pm.unregister(plugin)


def wandb_history_steps(run_dir: str) -> list[int]:
    """Steps of the ``history`` records W&B wrote for an offline run, read back with W&B's CLI."""
    return [r["history"]["step"]["num"] for r in wandb_records(run_dir)
            if r.get("type") == "history"]


class CollectingSink(Sink):
    """A sink that keeps everything it is given, and the thread it was given it on."""

    def __init__(self, name: str = "collect") -> None:
        self.name = name
        self.rows: list[Row] = []
        self.summary: dict[str, Any] = {}
        self.config: dict[str, Any] = {}
        self.started_with: Any = None
        self.finished_with: int | None = None
        self.threads: set[int] = set()

    def start(self, run: Any) -> None:
        self.started_with = run

    def write(self, rows: list[Row]) -> None:
        self.threads.add(threading.get_ident())
        self.rows.extend(rows)

    def update_summary(self, summary: dict[str, Any]) -> None:
        self.summary.update(summary)

    def update_config(self, config: dict[str, Any]) -> None:
        self.config.update(config)

    def finish(self, exit_code: int) -> dict[str, Any]:
        self.finished_with = exit_code
        return {"where": "memory"}


class RunObserver:
    """Records every logging hook call with its arguments and thread."""

    def __init__(self) -> None:
        self.started: list[tuple[Any, int]] = []
        self.batches: list[tuple[Any, list[Row], int]] = []
        self.finished: list[tuple[Any, Any, str]] = []

    @hookimpl
    def wandbkit_run_started(self, run: Any) -> None:
        self.started.append((run, threading.get_ident()))

    @hookimpl
    def wandbkit_rows_logged(self, run: Any, rows: list[Row]) -> None:
        self.batches.append((run, list(rows), threading.get_ident()))

    @hookimpl
    def wandbkit_run_finished(self, run: Any, report: Any) -> None:
        # The store sink must already be closed and the run marked finished when this runs.
        state = Store.open(run.store_dir).get_run(run.id).state
        self.finished.append((run, report, state))


def log_in_batches(run: Any, steps: int, split: int) -> None:
    """Log ``steps`` rows, flushing after ``split`` so the sinks see at least two batches."""
    for step in range(steps):
        run.log({"train/loss": 1.0 / (step + 1), "nested": {"lr": 0.1}, "step_id": step})
        if step == split - 1:
            assert run.flush(timeout=30)


# --- logging hooks ------------------------------------------------------------------------


def test_hook_register_sinks(register_plugin: Register) -> None:
    """A sink added through the hook receives every row of a real offline run, in order."""
    sink = CollectingSink("collect")

    class AddsSink:
        @hookimpl
        def wandbkit_register_sinks(self, register: Any, run: Any) -> None:
            assert run.settings.project == "hooks"
            register(sink)

    register_plugin(AddsSink(), "adds-sink")
    run = wandbkit.init(project="hooks", mode="offline", config={"lr": 0.1})
    log_in_batches(run, 40, 15)
    run.summary["best"] = 0.5
    run.config.update({"batch": 8})
    report = run.finish(quiet=True)

    assert sink.started_with is run
    assert [r.step for r in sink.rows] == list(range(40))
    assert sink.rows[7].values == {"train/loss": 1.0 / 8, "nested/lr": 0.1, "step_id": 7}
    assert threading.get_ident() not in sink.threads  # delivered on the flusher, not here
    assert sink.summary == {"best": 0.5} and sink.config == {"batch": 8}
    assert sink.finished_with == 0
    by_name = {s.name: s for s in report.sinks}
    assert set(by_name) == {"collect", "store", "wandb"}
    assert by_name["collect"].rows_delivered == 40 and by_name["collect"].ok
    assert report.complete, report.lines()
    # The built-in sinks got the same rows: the new sink was added, nothing displaced.
    assert [s for s, _ in Store.open().history(run.id)["step_id"]] == list(range(40))
    assert wandb_history_steps(run.wandb["dir"]) == list(range(40))


def test_hook_register_sinks_respects_sinks_filter(register_plugin: Register) -> None:
    """``wandbkit.init(sinks=[...])`` keeps only the named sinks, plugin sinks included."""
    kept, dropped = CollectingSink("kept"), CollectingSink("dropped")

    class AddsTwo:
        @hookimpl
        def wandbkit_register_sinks(self, register: Any) -> None:  # a subset of the arguments
            register(kept)
            register(dropped)

    register_plugin(AddsTwo(), "adds-two")
    run = wandbkit.init(project="hooks", mode="disabled", sinks=["store", "kept"])
    run.log({"x": 1})
    report = run.finish(quiet=True)
    assert sorted(s.name for s in report.sinks) == ["kept", "store"]
    assert len(kept.rows) == 1 and dropped.rows == [] and dropped.started_with is None
    with pytest.raises(UserError, match="unknown sink"):
        wandbkit.init(project="hooks", mode="disabled", sinks=["nope"])


def test_hook_run_started(register_plugin: Register) -> None:
    """Called once, on the caller's thread, with the new run (id, project, config set)."""
    observer = register_plugin(RunObserver(), "observer")
    run = wandbkit.init(project="hooks", name="started", mode="disabled", config={"seed": 3})
    try:
        assert len(observer.started) == 1
        seen, thread = observer.started[0]
        assert seen is run and thread == threading.get_ident()
        assert seen.id == run.id and len(run.id) == 8
        assert seen.project == "hooks" and seen.name == "started"
        assert dict(seen.config) == {"seed": 3}
    finally:
        run.finish(quiet=True)
    assert len(observer.started) == 1  # not called again on finish


def test_hook_rows_logged(register_plugin: Register) -> None:
    """Every batch is observed after the sinks got it, on the flusher thread, values converted."""
    import numpy as np

    observer = register_plugin(RunObserver(), "observer")
    run = wandbkit.init(project="hooks", mode="disabled")
    for step in range(25):
        run.log({"loss": np.float32(0.5), "acc": {"top1": step / 100}})
        if step == 9:
            assert run.flush(timeout=30)
    run.finish(quiet=True)

    assert len(observer.batches) >= 2  # the flush split the rows
    assert all(seen is run for seen, _, _ in observer.batches)
    assert all(thread != threading.get_ident() for _, _, thread in observer.batches)
    rows = [row for _, batch, _ in observer.batches for row in batch]
    assert [r.step for r in rows] == list(range(25))
    assert rows[4].values == {"loss": 0.5, "acc/top1": 0.04}
    assert type(rows[4].values["loss"]) is float  # numpy scalar converted before the hook
    # "after every sink has been given it": the store already holds each observed batch.
    assert [s for s, _ in Store.open().history(run.id)["loss"]] == list(range(25))


def test_hook_rows_logged_by_a_plugin_registered_mid_run(register_plugin: Register) -> None:
    """A plugin registered after ``init`` is called from the next delivered batch on; earlier
    batches are not replayed (what docs/plugins.md says)."""
    run = wandbkit.init(project="hooks", mode="disabled")
    for step in range(10):
        run.log({"loss": float(step)})
    assert run.flush(timeout=30)  # rows 0-9 delivered before the plugin exists
    observer = register_plugin(RunObserver(), "late-observer")
    for step in range(10, 25):
        run.log({"loss": float(step)})
    run.finish(quiet=True)
    rows = [row.step for _, batch, _ in observer.batches for row in batch]
    assert rows == list(range(10, 25))


def test_hook_run_finished(register_plugin: Register) -> None:
    """Called once with the report ``finish()`` returns, after every sink is closed."""
    observer = register_plugin(RunObserver(), "observer")
    run = wandbkit.init(project="hooks", mode="disabled")
    for step in range(12):
        run.log({"loss": float(step)})
    assert observer.finished == []
    report = run.finish(exit_code=0, quiet=True)
    assert len(observer.finished) == 1
    seen, seen_report, state = observer.finished[0]
    assert seen is run and seen_report is report
    assert seen_report.rows_logged == 12 and seen_report.complete
    assert state == "finished"  # the store sink had finished before the hook ran
    run.finish(quiet=True)  # a second finish returns the same report, no second call
    assert len(observer.finished) == 1


def test_hook_run_finishing(register_plugin: Register) -> None:
    """Called once at the start of finish(), while sinks still take rows and summary."""
    calls: list[int] = []

    class Finishing:
        @hookimpl
        def wandbkit_run_finishing(self, run: Any) -> None:
            calls.append(run.step)
            run.log({"final/marker": 1.0})
            run.summary["closed_by"] = "finishing-hook"

    register_plugin(Finishing(), "finishing")
    run = wandbkit.init(project="hooks", mode="offline")
    run.log({"loss": 1.0})
    report = run.finish(quiet=True)
    run.finish(quiet=True)
    assert calls == [0]
    assert report.rows_logged == 2 and report.complete
    record = Store.open().get_run(run.id)
    assert record.summary["closed_by"] == "finishing-hook"
    assert "final/marker" in Store.open().history(run.id)
    assert [i["_step"] for i in history_items(run.wandb["dir"])] == [0, 1]


class SyncObserver:
    """Records ``wandbkit_run_synced`` calls."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, Any]] = []

    @hookimpl
    def wandbkit_run_synced(self, record: Any, store_dir: Any) -> None:
        self.seen.append((record, store_dir))


def offline_run_with_retired_checkpoints(project: str, name: str) -> Any:
    """A finished offline run whose checkpoint retention left two W&B deletions pending (their
    files kept for the upload), as the artifacts plugin does it."""
    import torch

    from wandbkit_artifacts import CheckpointManager

    model = torch.nn.Linear(4, 2)
    with wandbkit.init(project=project, mode="offline") as run:
        ckpt = CheckpointManager(run, name, keep_last_k=1, async_save=False)
        for step in (1, 2, 3):
            run.log({"loss": 1.0 / step}, step=step)
            ckpt.save(step, model)
        ckpt.finish()
    return run


def pending_deletions(run_id: str) -> list[Any]:
    from wandbkit_artifacts.index import Index

    return [p for p in Index.open().pending_deletions() if p.run_id == run_id]


def test_hook_run_synced(register_plugin: Register, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``wandbkit sync`` calls the hook with the store's record once wandb's sync succeeded,
    and the artifacts plugin then handles its pending W&B deletions for that run only.

    No W&B server is reachable here, so the run's upload is the one wandb itself skips: its
    folder carries wandb's ``.wandb.synced`` marker (what ``wandb sync`` leaves after an upload
    done by hand), and ``wandb sync`` answers "No runs to sync." with exit code 0. (The local
    stand-in of W&B's API in benchmarks/wandb_stand_in.py does not answer artifact calls, and
    wandb-core stops on a run that logged artifacts there.)
    """
    observer = register_plugin(SyncObserver(), "sync-observer")
    run = offline_run_with_retired_checkpoints("hooks-sync", "net")
    other = offline_run_with_retired_checkpoints("hooks-sync", "other-net")
    mine = pending_deletions(run.id)
    assert len(mine) == 2 and all(Path(p.trash_path).is_dir() for p in mine)
    record = Store.open().get_run(run.id)
    (wandb_file,) = Path(record.wandb_dir).glob("*.wandb")
    wandb_file.with_suffix(".wandb.synced").touch()
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)  # logged in, as far as the check goes
    capsys.readouterr()

    assert cli_main(["sync", run.id]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"synced {run.id} (hooks-sync)" in err
    assert Store.open().synced_at(run.id) is not None
    assert Store.open().synced_at(other.id) is None
    assert len(observer.seen) == 1
    seen, store_dir = observer.seen[0]
    assert (seen.id, seen.state, seen.wandb_dir) == (run.id, "finished", record.wandb_dir)
    assert Path(store_dir) == Store.open().root
    # The artifacts plugin got the same record: W&B is offline here, so this run's two
    # deletions wait (files kept for the next sync), and the other run's are not counted.
    assert (f"run {run.id}: 2 W&B deletion(s) of retired checkpoint versions wait for the next "
            "sync (W&B not queried: WANDB_MODE=offline") in err
    assert [p.id for p in pending_deletions(run.id)] == [p.id for p in mine]
    assert all(Path(p.trash_path).is_dir() for p in mine)
    assert len(pending_deletions(other.id)) == 2
    assert "k" * 40 not in err


def test_hook_run_synced_after_an_upload(register_plugin: Register,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real upload by wandb's sync, to a local stand-in of W&B's API that counts the rows it
    receives, then the hook, once, with the store's record."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from wandb_stand_in import start_in_thread

    observer = register_plugin(SyncObserver(), "sync-observer")
    with wandbkit.init(project="hooks-sync", mode="offline") as run:
        for step in range(25):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    server, url = start_in_thread()
    received = server.RequestHandlerClass.counts  # type: ignore[attr-defined]
    monkeypatch.setenv("WANDB_BASE_URL", url)
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    capsys.readouterr()
    try:
        assert cli_main(["sync"]) == 0
    finally:
        server.shutdown()
    err = " ".join(capsys.readouterr().err.split())
    assert f"synced {run.id} (hooks-sync)" in err, err
    assert received["history_rows"] == 25 and received["complete"] == 1
    assert [(r.id, r.state) for r, _ in observer.seen] == [(run.id, "finished")]
    assert Path(observer.seen[0][1]) == Store.open().root
    assert Store.open().synced_at(run.id) is not None


def test_hook_run_synced_not_called_when_not_logged_in(
        register_plugin: Register, capsys: pytest.CaptureFixture[str]) -> None:
    """Not logged in: one line, exit code 1, nothing marked synced, no hook, files kept."""
    observer = register_plugin(SyncObserver(), "sync-observer")
    run = offline_run_with_retired_checkpoints("hooks-sync", "net")
    mine = pending_deletions(run.id)
    capsys.readouterr()
    assert cli_main(["sync"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert err == ("error: not logged in to W&B (api.wandb.ai): run `wandb login` or set "
                   "WANDB_API_KEY; 1 run(s) stay offline, nothing was uploaded")
    assert observer.seen == []
    assert Store.open().synced_at(run.id) is None
    assert [p.id for p in pending_deletions(run.id)] == [p.id for p in mine]
    assert all(Path(p.trash_path).is_dir() for p in mine)


# --- metrics ------------------------------------------------------------------------------


def test_hook_register_metrics(register_plugin: Register) -> None:
    """Registered metrics are found by name and merged by ``compute_metrics``."""
    import torch

    def token_accuracy(outputs: Any, batch: Any) -> dict[str, Any]:
        return {"train/token_accuracy": (outputs.argmax(-1) == batch).float().mean()}

    def batch_size(outputs: Any, batch: Any) -> dict[str, Any]:
        return {"train/batch_size": len(batch)}

    class Metrics:
        @hookimpl
        def wandbkit_register_metrics(self, register: Any) -> None:
            register(Metric(name="toy_token_accuracy", fn=token_accuracy))
            register(Metric(name="toy_batch_size", fn=batch_size))

    register_plugin(Metrics(), "metrics")
    assert {"toy_token_accuracy", "toy_batch_size"} <= set(available_metrics())
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = torch.tensor([1, 0, 0, 0])
    values = compute_metrics(logits, labels, names=["toy_token_accuracy", "toy_batch_size"])
    assert set(values) == {"train/token_accuracy", "train/batch_size"}
    assert float(values["train/token_accuracy"]) == pytest.approx(0.75)
    assert values["train/batch_size"] == 4
    only = compute_metrics(logits, labels, names=["toy_batch_size"])
    assert only == {"train/batch_size": 4}
    with pytest.raises(UserError, match="toy_nope"):
        compute_metrics(logits, labels, names=["toy_nope"])
    # The values go straight into a run, tensors and all.
    with wandbkit.init(project="hooks", mode="disabled") as run:
        run.log(values)
    history = Store.open().history(run.id)
    assert history["train/token_accuracy"] == [(0, pytest.approx(0.75))]


# --- checkpointing ------------------------------------------------------------------------


class JsonCheckpoints:
    """A toy checkpoint plugin: names/refs starting with ``json:`` are its own."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(tryfirst=True)
    def wandbkit_checkpoint_save(self, request: Any) -> Any:
        self.calls.append(f"save {request.name}")
        if not request.name.startswith("json:"):
            return None
        path = Path(request.name[5:]) / f"step-{request.step}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"step": request.step, "extra": request.extra,
                                    "metrics": request.metrics}))
        return {"path": str(path), "by": "json"}

    @hookimpl(tryfirst=True)
    def wandbkit_checkpoint_load(self, request: Any) -> Any:
        self.calls.append(f"load {request.ref}")
        if not request.ref.startswith("json:"):
            return None
        return json.loads(Path(request.ref[5:]).read_text())


class SpyCheckpoints:
    """Answers only ``spy:`` names; records whether firstresult let it be called."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def wandbkit_checkpoint_save(self, request: Any) -> Any:
        self.calls.append(f"save {request.name}")
        return {"by": "spy", "step": request.step} if request.name.startswith("spy:") else None

    @hookimpl
    def wandbkit_checkpoint_load(self, request: Any) -> Any:
        self.calls.append(f"load {request.ref}")
        return {"by": "spy", "ref": request.ref} if request.ref.startswith("spy:") else None


def test_hook_checkpoint_save(register_plugin: Register, tmp_path: Path) -> None:
    """firstresult: the first plugin that answers saves; later ones are not asked."""
    first = register_plugin(JsonCheckpoints(), "json-ckpt")
    spy = register_plugin(SpyCheckpoints(), "spy-ckpt")
    result = save_checkpoint(7, model=None, name=f"json:{tmp_path / 'ckpt'}",
                             extra={"epoch": 2}, metrics={"val/loss": 0.25})
    assert result == {"path": str(tmp_path / "ckpt" / "step-7.json"), "by": "json"}
    assert json.loads(Path(result["path"]).read_text()) == {
        "step": 7, "extra": {"epoch": 2}, "metrics": {"val/loss": 0.25}}
    assert spy.calls == []  # the first answer stopped the call
    result = save_checkpoint(8, name="spy:model")
    assert result == {"by": "spy", "step": 8}
    assert first.calls[-1] == "save spy:model" and spy.calls == ["save spy:model"]


def test_hook_checkpoint_load(register_plugin: Register, tmp_path: Path) -> None:
    """firstresult: ``load_checkpoint`` returns the first non-None answer."""
    first = register_plugin(JsonCheckpoints(), "json-ckpt")
    spy = register_plugin(SpyCheckpoints(), "spy-ckpt")
    saved = save_checkpoint(3, name=f"json:{tmp_path}", extra={"note": "hi"})
    loaded = load_checkpoint(f"json:{saved['path']}")
    assert loaded == {"step": 3, "extra": {"note": "hi"}, "metrics": None}
    assert spy.calls == []
    assert load_checkpoint("spy:model:latest") == {"by": "spy", "ref": "spy:model:latest"}
    assert first.calls[-1] == "load spy:model:latest"


# --- UI -----------------------------------------------------------------------------------


def test_hook_dashboard_panels(register_plugin: Register) -> None:
    """The dashboard (``wandbkit_gradio.build_app``, what ``wandbkit dashboard`` serves) makes
    one tab per registered panel, in order, and builds each inside its tab with a
    ``DashboardContext`` on the store; a panel that raises fails alone."""
    pytest.importorskip("wandbkit_gradio", reason="the dashboard plugin (gradio) is not installed")
    import gradio as gr

    from wandbkit.panels import DashboardContext
    from wandbkit_gradio.app import build_app

    with wandbkit.init(project="hooks-ui", name="<b>shown</b>", mode="disabled") as run:
        run.log({"loss": 0.5})
    built: list[tuple[str, Any]] = []

    def runs_tab(ctx: Any) -> None:
        built.append(("early", ctx))
        gr.Markdown("\n".join(ctx.escape(r.name) for r in ctx.runs()), elem_id="toy-early")

    def broken_tab(ctx: Any) -> None:
        raise RuntimeError("toy panel is broken")

    class Panels:
        @hookimpl
        def wandbkit_dashboard_panels(self, register: Any) -> None:
            register(Panel(title="Toy Late", build=lambda ctx: built.append(("late", ctx)),
                           order=900))
            register(Panel(title="Toy Early", build=runs_tab, order=-5))

    class MorePanels:
        @hookimpl
        def wandbkit_dashboard_panels(self, register: Any) -> None:
            register(Panel(title="Toy Middle", build=lambda ctx: built.append(("mid", ctx))))
            register(Panel(title="Toy Broken", build=broken_tab, order=950))

    register_plugin(Panels(), "panels")
    register_plugin(MorePanels(), "more-panels")
    dashboard = build_app(project="hooks-ui")
    tabs = [b.label for b in dashboard.blocks.blocks.values() if isinstance(b, gr.Tab)]
    mine = [t for t in tabs if t.startswith("Toy ")]
    assert mine == ["Toy Early", "Toy Middle", "Toy Late", "Toy Broken"]
    assert tabs == [p.title for p in collect_panels()]  # every installed panel, sorted
    assert [name for name, _ in built] == ["early", "mid", "late"]
    ctx = built[0][1]
    assert isinstance(ctx, DashboardContext) and all(c is ctx for _, c in built)
    assert ctx.store.root == Store.open().root and ctx.project == "hooks-ui"
    assert [r.id for r in ctx.runs()] == [run.id]
    (md,) = [b for b in dashboard.blocks.blocks.values() if getattr(b, "elem_id", None) == "toy-early"]
    assert md.value == "&lt;b&gt;shown&lt;/b&gt;"
    assert dashboard.failed == {"Toy Broken": "RuntimeError: toy panel is broken"}


# --- CLI ----------------------------------------------------------------------------------


def test_hook_register_commands(register_plugin: Register,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """A command added through the hook runs through the real CLI, user errors exit 2."""
    import typer

    def toy_echo(word: str = typer.Argument(...), times: int = typer.Option(1, "--times")) -> None:
        """Echo a word."""
        if word == "bad":
            raise UserError("toy-echo: 'bad' is not allowed")
        typer.echo(" ".join([word] * times))

    sub = typer.Typer(help="Toy group.")
    sub.command("ping")(lambda: typer.echo("pong"))

    class Commands:
        @hookimpl
        def wandbkit_register_commands(self, cli: Any) -> None:
            cli.command("toy-echo")(toy_echo)
            cli.add_typer(sub, name="toy")

    register_plugin(Commands(), "commands")
    capsys.readouterr()
    assert cli_main(["toy-echo", "hi", "--times", "3"]) == 0
    assert capsys.readouterr().out == "hi hi hi\n"
    assert cli_main(["toy", "ping"]) == 0
    assert capsys.readouterr().out == "pong\n"
    assert cli_main(["toy-echo", "bad"]) == 2
    err = capsys.readouterr().err
    assert err == "error: toy-echo: 'bad' is not allowed\n"  # one line, no traceback
    assert cli_main(["--help"]) == 0
    help_text = capsys.readouterr().out
    assert "toy-echo" in help_text and "plugins" in help_text  # beside core's own commands


# --- validation ---------------------------------------------------------------------------


def test_hook_register_smoke_checks(register_plugin: Register) -> None:
    """The smoke runner (``wandbkit_torch.smoke.run_smoke``, behind ``wandbkit smoke``) finds
    registered checks by name, runs them on its context and reports their verdicts; a check
    that crashes becomes a ``fail`` verdict and the rest still run."""
    pytest.importorskip("wandbkit_torch", reason="the smoke runner (torch-manual) is not installed")
    import torch

    from wandbkit_torch.smoke import run_smoke
    from wandbkit_torch.smoke.runner import available_checks

    seen: list[Any] = []

    def classifies(ctx: Any) -> Verdict:
        seen.append(ctx)
        model = ctx.model_factory()
        out = model(ctx.data.inputs[:2])
        status = "pass" if ctx.task == "classification" and out.shape[-1] == 3 else "fail"
        return Verdict("toy_positive", status, f"task {ctx.task}, {out.shape[-1]} outputs",
                       {"outputs": out.shape[-1]})

    def crashes(ctx: Any) -> Verdict:
        raise ValueError("toy check is broken")

    class Checks:
        @hookimpl
        def wandbkit_register_smoke_checks(self, register: Any) -> None:
            register(SmokeCheck(name="toy_classifies", fn=classifies, order=-10,
                                description="a 3-class classifier"))
            register(SmokeCheck(name="toy_crashes", fn=crashes, order=10_000))

    register_plugin(Checks(), "checks")
    names = [c.name for c in available_checks()]
    assert names[0] == "toy_classifies" and names[-1] == "toy_crashes"
    assert names == [c.name for c in sorted(available_checks(), key=lambda c: (c.order, c.name))]

    def data() -> tuple[Any, Any]:
        g = torch.Generator().manual_seed(0)
        return torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)

    report = run_smoke(lambda: torch.nn.Linear(4, 3), data, device="cpu",
                       checks=["toy_classifies", "toy_crashes"])
    by_name = {v.name: v for v in report.verdicts}
    assert list(by_name) == ["toy_classifies", "toy_crashes"]
    assert (by_name["toy_classifies"].status, by_name["toy_classifies"].reason) == (
        "pass", "task classification, 3 outputs")
    assert by_name["toy_crashes"].status == "fail"
    assert "check crashed: ValueError: toy check is broken" in by_name["toy_crashes"].reason
    assert len(seen) == 1 and seen[0].task == "classification"
    assert report.exit_code != 0  # a failed check fails the smoke run


# --- failure isolation --------------------------------------------------------------------


class Raises:
    """A plugin whose logging hooks raise."""

    @hookimpl
    def wandbkit_run_started(self, run: Any) -> None:
        raise RuntimeError("boom in run_started")

    @hookimpl
    def wandbkit_rows_logged(self, run: Any, rows: list[Row]) -> None:
        raise RuntimeError("boom in rows_logged")


def test_raising_plugin_is_reported_once_and_others_keep_working(
        register_plugin: Register, capsys: pytest.CaptureFixture[str]) -> None:
    """Every batch raises in the bad plugin; one report per hook; the good one sees all."""
    good = register_plugin(RunObserver(), "good")
    bad_name = get_plugin_manager().get_name(register_plugin(Raises(), "bad"))
    capsys.readouterr()
    run = wandbkit.init(project="hooks", mode="disabled")
    log_in_batches(run, 30, 10)
    run.flush(timeout=30)
    for step in range(30, 40):
        run.log({"train/loss": 0.0, "step_id": step}, step=step)
    report = run.finish(quiet=True)
    err = capsys.readouterr().err

    assert len(good.started) == 1 and len(good.finished) == 1
    assert [r.step for _, batch, _ in good.batches for r in batch] == list(range(40))
    assert len(good.batches) >= 2  # so the bad plugin raised more than once
    assert err.count(f"plugin {bad_name} in wandbkit_rows_logged failed") == 1, err
    assert err.count(f"plugin {bad_name} in wandbkit_run_started failed") == 1, err
    assert "RuntimeError: boom in rows_logged" in err
    assert report.complete  # the sinks were never affected
    assert Store.open().row_count(run.id) == 40


def test_failures_and_value_warnings_are_reported_again_in_the_next_run(
        register_plugin: Register, capsys: pytest.CaptureFixture[str]) -> None:
    """A second run in the same process (a notebook, a sweep worker) hears about its own
    failing plugin, failing sink and NaN values: warnings are once per run, not per process."""
    bad_name = get_plugin_manager().get_name(register_plugin(Raises(), "bad"))
    flaky = FailsFromStep(fail_at=0)

    class AddsFlaky:
        @hookimpl
        def wandbkit_register_sinks(self, register: Any) -> None:
            register(flaky)

    register_plugin(AddsFlaky(), "adds-flaky")
    capsys.readouterr()
    for _ in range(2):
        run = wandbkit.init(project="hooks", mode="disabled")
        log_in_batches(run, 20, 5)
        for step in range(20, 24):
            run.log({"loss": float("nan")}, step=step)
        run.finish(quiet=True)
    err = capsys.readouterr().err
    assert err.count(f"plugin {bad_name} in wandbkit_run_started failed") == 2, err
    assert err.count(f"plugin {bad_name} in wandbkit_rows_logged failed") == 2, err
    assert err.count("sink flaky failed") == 2, err
    assert err.count("loss is nan at step 20") == 2, err
    assert "loss is nan at step 21" not in err  # once per key within a run


def test_strict_mode_turns_hook_failure_into_plugin_error(
        register_plugin: Register, monkeypatch: pytest.MonkeyPatch) -> None:
    """``WANDBKIT_STRICT=1``: a raising hook implementation raises ``PluginError``."""
    class Synced:
        @hookimpl
        def wandbkit_run_synced(self, record: Any, store_dir: Any) -> None:
            raise ValueError("boom in run_synced")

    register_plugin(Synced(), "bad-synced")
    assert call_each("wandbkit_run_synced", record=None, store_dir=None) == []  # lenient: reported, skipped
    monkeypatch.setenv("WANDBKIT_STRICT", "1")
    with pytest.raises(PluginError, match="boom in run_synced"):
        call_each("wandbkit_run_synced", record=None, store_dir=None)


def test_strict_mode_metric_failure_is_plugin_error(
        register_plugin: Register, monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric that raises: skipped normally, ``PluginError`` under ``WANDBKIT_STRICT=1``."""

    def broken(outputs: Any, batch: Any) -> dict[str, Any]:
        raise ZeroDivisionError("metric boom")

    class Metrics:
        @hookimpl
        def wandbkit_register_metrics(self, register: Any) -> None:
            register(Metric(name="toy_broken", fn=broken))
            register(Metric(name="toy_fine", fn=lambda o, b: {"toy/fine": 1}))

    register_plugin(Metrics(), "metrics")
    assert compute_metrics(None, None, names=["toy_broken", "toy_fine"]) == {"toy/fine": 1}
    monkeypatch.setenv("WANDBKIT_STRICT", "1")
    with pytest.raises(PluginError, match="metric boom"):
        compute_metrics(None, None, names=["toy_broken", "toy_fine"])


class FailsFromStep(Sink):
    """A sink that works, then raises on every batch from ``fail_at`` on."""

    name = "flaky"

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.steps: list[int] = []

    def write(self, rows: list[Row]) -> None:
        if rows[-1].step >= self.fail_at:
            raise OSError("disk full (simulated by the test sink)")
        self.steps.extend(r.step for r in rows)


def test_sink_that_raises_mid_run_leaves_other_sinks_complete(
        register_plugin: Register, capsys: pytest.CaptureFixture[str]) -> None:
    """Store and W&B keep every row; the report names the failing sink and what it missed."""
    flaky = FailsFromStep(fail_at=20)

    class AddsFlaky:
        @hookimpl
        def wandbkit_register_sinks(self, register: Any) -> None:
            register(flaky)

    register_plugin(AddsFlaky(), "adds-flaky")
    capsys.readouterr()
    run = wandbkit.init(project="hooks", mode="offline")
    log_in_batches(run, 60, 20)  # rows 0-19 in the first batch(es), 20-59 after
    report = run.finish()
    err = capsys.readouterr().err

    assert flaky.steps == list(range(20))
    by_name = {s.name: s for s in report.sinks}
    assert by_name["flaky"].rows_delivered == 20
    assert by_name["flaky"].rows_missed == 40 and by_name["flaky"].first_missed_step == 20
    assert "OSError: disk full" in by_name["flaky"].error
    assert by_name["store"].ok and by_name["store"].rows_delivered == 60
    assert by_name["wandb"].ok and by_name["wandb"].rows_delivered == 60
    assert not report.complete
    assert any("flaky: 20/60 rows, MISSED 40 from step 20" in line for line in report.lines())
    assert "flaky: 20/60 rows, MISSED 40 from step 20" in err  # finish() printed the report
    assert err.count("sink flaky failed") == 1, err  # reported once, though it raised often
    # What the other sinks actually wrote, read back from their own files.
    assert [s for s, _ in Store.open().history(run.id)["step_id"]] == list(range(60))
    assert wandb_history_steps(run.wandb["dir"]) == list(range(60))


def test_registered_plugin_shows_in_plugin_infos(register_plugin: Register) -> None:
    """A plugin registered at run time is listed with the hooks it implements."""
    register_plugin(RunObserver(), "observer-listed")
    infos = {i.name: i for i in plugin_infos()}
    mine = [i for name, i in infos.items() if name.startswith("observer-listed-")]
    assert len(mine) == 1 and mine[0].status == "ok"
    assert mine[0].hooks == ["wandbkit_rows_logged", "wandbkit_run_finished",
                             "wandbkit_run_started"]


# --- tracing ------------------------------------------------------------------------------

TRACE_SCRIPT = """
import wandbkit
with wandbkit.init(project="trace", mode="disabled") as run:
    run.log({"loss": 1.0})
"""


def test_trace_plugins_prints_hook_calls() -> None:
    """``WANDBKIT_TRACE_PLUGINS=1`` prints each hook call and the plugin it reaches."""
    env = dict(os.environ, WANDBKIT_PLUGINS="", WANDBKIT_QUIET="1")
    traced = subprocess.run([sys.executable, "-c", TRACE_SCRIPT], capture_output=True, text=True,
                            env=dict(env, WANDBKIT_TRACE_PLUGINS="1"), timeout=120)
    assert traced.returncode == 0, traced.stderr
    lines = [ln for ln in traced.stderr.splitlines() if ln.startswith("wandbkit trace:")]
    assert "wandbkit trace: wandbkit_register_sinks -> store" in lines
    assert "wandbkit trace: wandbkit_register_sinks -> wandb" in lines
    plain = subprocess.run([sys.executable, "-c", TRACE_SCRIPT], capture_output=True, text=True,
                           env=env, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert "wandbkit trace:" not in plain.stderr
