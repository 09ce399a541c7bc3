"""The local engine end to end: real Optuna on real SQLite, real wandbkit runs, real worker
processes and real program subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sweep_trainers

import wandbkit_sweeps
from wandbkit.cli import main
from wandbkit.errors import UserError
from wandbkit.store import Store
from wandbkit_sweeps.analysis import analyse
from wandbkit_sweeps.config import load_sweep
from wandbkit_sweeps.engine import create_sweep, open_sweep
from wandbkit_sweeps.macros import expand

HERE = Path(__file__).parent
PROGRAM = str(HERE / "sweep_program.py")


def test_grid_two_workers_runs_every_point_once(offline_env: Path) -> None:
    sweep = {"method": "grid", "metric": {"name": "loss"},
             "parameters": {"x": {"values": [1, 2, 3, 4, 5, 6]}, "k": {"value": "fixed"}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, workers=2, mode="disabled")
    assert [t["state"] for t in result.trials] == ["complete"] * 6
    xs = sorted(t["config"]["x"] for t in result.trials)
    assert xs == [1, 2, 3, 4, 5, 6]  # none lost, none twice
    assert result.best["config"] == {"x": 3, "k": "fixed"}
    assert result.best["value"] == pytest.approx(0.2)
    assert result.finished_reason == "grid complete"
    store = Store.open(offline_env)
    runs = {r.id: r for r in store.runs()}
    for t in result.trials:
        record = runs[t["run_id"]]
        assert record.group == result.sweep_id and record.config["x"] == t["config"]["x"]
        assert len(store.history(record.id)["loss"]) == 5
    assert len({runs[t["run_id"]].pid for t in result.trials}) == 2  # two worker processes


def _replay_hyperband(sweep: dict, order: list[int]) -> dict[int, tuple[str, int]]:
    """What W&B's rule decides for trials run one after another: each trial is judged on each
    row it logs, against the earlier trials as they ended. -> x: (state, values kept)."""
    done: list[dict] = []
    out = {}
    for number, x in enumerate(order):
        rows: list[dict] = []
        state = "complete"
        for value in sweep_trainers.CURVES[x]:
            rows.append({"loss": value})
            me = {"name": str(number), "state": "running", "history": rows}
            if str(number) in wandbkit_sweeps.runs_to_stop(sweep, [*done, me]):
                state = "pruned"
                break
        done.append({"name": str(number), "state": "finished" if state == "complete" else "killed",
                     "history": list(rows)})
        kept = sum(1 for r in rows if r["loss"] == r["loss"])  # NaN is no value
        out[x] = (state, kept)
    return out


@pytest.mark.parametrize("strict", [True, False])
def test_hyperband_stops_the_trials_w_and_b_would(offline_env: Path, strict: bool) -> None:
    sweep = {"method": "grid", "metric": {"name": "loss"},
             "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2, "strict": strict},
             "parameters": {"x": {"values": [1, 2, 3, 4, 5, 6]}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.hyperband_curves, mode="disabled")
    got = {t["config"]["x"]: (t["state"], t["steps"]) for t in result.trials}
    expected = _replay_hyperband(sweep, [1, 2, 3, 4, 5, 6])
    assert got == expected
    # by hand, band 2 (the second valid value; x=2's NaN is skipped): x=1 4.0 alone, then
    # x=2 5.0 against 4 5 -> index 1 -> 5.0, not worse; x=3 6.0 against 4 5 6 -> 5.0: strict
    # stops it, its best so far (0.5) does not; x=4 8.0 is worse either way.
    if strict:
        assert expected == {1: ("complete", 6), 2: ("complete", 5), 3: ("pruned", 2),
                            4: ("pruned", 2), 5: ("complete", 6), 6: ("complete", 6)}
    else:
        assert expected == {1: ("complete", 6), 2: ("complete", 5), 3: ("complete", 6),
                            4: ("pruned", 2), 5: ("complete", 6), 6: ("pruned", 4)}
    # the shared study keeps each trial's valid values, which is what every worker judges from
    opened = open_sweep(result.sweep_id)
    by_x = {t.user_attrs["config"]["x"]: t for t in opened.trials()}
    assert list(by_x[2].intermediate_values.values()) == [6.0, 5.0, 4.5, 4.0, 3.5]


def test_target_ends_the_sweep_and_failures_do_not(offline_env: Path) -> None:
    sweep = {"method": "grid", "metric": {"name": "loss", "target": 3.0},
             "parameters": {"x": {"values": [5, 2, 4, 3, 1]}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.fails_on_two, mode="disabled")
    states = [(t["config"]["x"], t["state"]) for t in result.trials]
    # W&B's grid order is the file's; x=2 fails and the sweep goes on; x=3 reaches the target
    assert states == [(5, "complete"), (2, "failed"), (4, "complete"), (3, "complete")]
    assert "x == 2 is broken" in result.trials[1]["error"]
    assert result.finished_reason == "target loss=3.0 reached by trial 3"
    assert result.best["config"] == {"x": 3}


def test_wandb_style_train_function_starts_its_own_run(offline_env: Path) -> None:
    sweep = {"method": "grid", "metric": {"name": "loss"}, "parameters": {"x": {"values": [2, 3]}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.wandb_style)
    assert [(t["config"]["x"], t["state"]) for t in result.trials] == [(2, "complete"), (3, "complete")]
    assert result.best["config"] == {"x": 3} and result.best["value"] == pytest.approx(1 / 3)
    record = Store.open(offline_env).get_run(result.best["run_id"])
    assert record.group == result.sweep_id
    assert record.config == {"x": 3, "note": "defaults"}  # the sweep's value won over the default
    assert os.environ.get("WANDBKIT_RUN_GROUP") is None  # put back after the trial
    result = wandbkit_sweeps.run(sweep, lambda: None, count=1)
    assert "never called wandbkit.init()" in result.trials[0]["error"]


def test_run_cap_and_count(offline_env: Path) -> None:
    sweep = {"method": "random", "metric": {"name": "loss"}, "run_cap": 3,
             "parameters": {"x": {"min": 0.0, "max": 6.0}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, mode="disabled")
    assert len(result.trials) == 3
    sweep.pop("run_cap")
    sweep["method"] = "bayes"
    result = wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, count=2, mode="disabled")
    assert len(result.trials) == 2 and all(0 <= t["config"]["x"] <= 6 for t in result.trials)


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    import yaml

    path.write_text(yaml.safe_dump(doc))
    return path


def test_program_trials_report_through_their_own_runs(tmp_path: Path, offline_env: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"method": "grid", "metric": {"name": "loss"}, "program": PROGRAM,
           "command": ["${env}", "${interpreter}", "${program}", "${args}", "--name=${envvar:USER_TAG}"],
           "parameters": {"x": {"values": [0.0, 1.0, -1.0]}}}
    os.environ["USER_TAG"] = "t"
    try:
        code = main(["sweep", "run", str(_write(tmp_path, doc)), "--engine", "local",
                     "--mode", "disabled"])
    finally:
        del os.environ["USER_TAG"]
    assert code == 0
    out = capsys.readouterr().out
    sweep_id = out.split()[1]
    assert "best: trial" in out and '"x": 1.0' in out
    report = analyse(sweep_id, log_run=False)
    by_x = {t["config"]["x"]: t for t in report["trials"]}
    assert by_x[1.0]["state"] == "complete" and by_x[1.0]["value"] == pytest.approx(0.025)
    assert by_x[-1.0]["state"] == "failed" and "exited with code 3" in by_x[-1.0]["error"]
    record = Store.open(offline_env).get_run(by_x[0.0]["run_id"])
    assert record.group == sweep_id
    assert record.config == {"from_program": True, "x": 0.0}  # the trial's config joined the run's


def test_command_macros(tmp_path: Path) -> None:
    params = {"lr": 0.1, "flag": True, "off": False, "opt": {"beta": 0.9}}
    argv = expand(["${env}", "${interpreter}", "${program}", "${args}", "${args_no_hyphens}",
                   "${args_no_boolean_flags}", "${args_json}", "${args_json_file}",
                   "--tag=${envvar:TAG}", "+num_gpus=1"], "train.py", params,
                  json_file=tmp_path / "p.json", environ={"TAG": "x"})
    assert argv[:3] == ["/usr/bin/env", sys.executable, "train.py"]
    assert argv[3:7] == ["--lr=0.1", "--flag=True", "--off=False", '--opt={"beta": 0.9}']
    assert argv[7:11] == ["lr=0.1", "flag=True", "off=False", 'opt={"beta": 0.9}']
    assert argv[11:14] == ["--lr=0.1", "--flag", '--opt={"beta": 0.9}']
    assert json.loads(argv[14]) == params
    assert json.loads(Path(argv[15]).read_text()) == params
    assert argv[16:] == ["--tag=x", "+num_gpus=1"]
    assert expand(None, "t.py", {"a": 1}, json_file=tmp_path / "q.json")[1:] == \
        [sys.executable, "t.py", "--a=1"]
    with pytest.raises(UserError, match="TAG2 is not set"):
        expand(["${envvar:TAG2}"], None, {}, json_file=tmp_path / "r.json", environ={})
    with pytest.raises(UserError, match="no `program`"):
        expand(None, None, {}, json_file=tmp_path / "s.json")


def _cli(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    # A background shell starts its jobs with SIGINT ignored, and Python keeps an ignored
    # SIGINT: restore the default so Ctrl-C (SIGINT to the group) behaves as in a terminal.
    return subprocess.Popen([sys.executable, "-m", "wandbkit", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})}, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


def _wait_for_running(sweep_id: str | None, deadline: float) -> None:
    """Poll the sweep's storage (read-only) until one of its trials runs."""
    import optuna

    from wandbkit_sweeps.engine import open_storage

    db = Path(os.environ["WANDBKIT_DIR"]) / "sweeps.db"
    last: Exception | None = None
    while time.monotonic() < deadline:
        if db.exists():
            try:
                storage = open_storage(read_only=True)
            except UserError as exc:  # the agent is still creating the storage's tables
                last = exc
            else:
                names = optuna.get_all_study_names(storage)
                if names:
                    study = optuna.load_study(study_name=sweep_id or names[0], storage=storage)
                    if any(t.state.name == "RUNNING" for t in study.trials):
                        return
        time.sleep(0.3)
    raise AssertionError(f"no trial started before the deadline (last storage error: {last})")


def _wait_for(predicate: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_killed_agent_trial_is_failed_and_ctrl_c_resumes(tmp_path: Path, offline_env: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"method": "grid", "metric": {"name": "loss"}, "program": PROGRAM,
           "command": ["${env}", "${interpreter}", "${program}", "${args}", "--sleep=1.5"],
           "parameters": {"x": {"values": [0.0, 1.0, 2.0]}}}
    path = _write(tmp_path, doc)
    env = {"WANDBKIT_SWEEP_HEARTBEAT": "1"}
    monkeypatch.setenv("WANDBKIT_SWEEP_HEARTBEAT", "1")  # this process judges staleness too
    proc = _cli("sweep", "run", str(path), "--engine", "local", "--mode", "disabled", env=env)
    _wait_for_running(None, time.monotonic() + 60)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "--resume" in out
    sweep_id = out.split()[1]
    proc = _cli("sweep", "run", str(path), "--engine", "local", "--mode", "disabled", "--resume",
                env=env)
    _wait_for_running(sweep_id, time.monotonic() + 60)
    os.killpg(proc.pid, signal.SIGKILL)  # a dead agent (and its program): no chance to clean up
    proc.communicate(timeout=30)

    def two_failed() -> bool:
        return sum(t["state"] == "failed" for t in analyse(sweep_id)["trials"]) == 2

    _wait_for(two_failed, "the dead agent's trial to read as failed")
    report = analyse(sweep_id)
    failed = [t for t in report["trials"] if t["state"] == "failed"]
    assert len(failed) == 2 and sum(t["interrupted"] for t in failed) == 1
    proc = _cli("sweep", "run", str(path), "--engine", "local", "--mode", "disabled", "--resume",
                env=env)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    report = analyse(sweep_id, log_run=False)
    done = sorted(t["config"]["x"] for t in report["trials"] if t["state"] == "complete")
    assert done == [0.0, 1.0, 2.0]  # every grid point ran to completion once


def test_show_writes_figures_and_logs_a_summary_run(tmp_path: Path, offline_env: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sweep = {"method": "random", "metric": {"name": "loss"}, "run_cap": 4,
             "parameters": {"x": {"min": 0.0, "max": 6.0}, "y": {"values": ["a", "b"]}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, mode="disabled", seed=1)
    assert main(["sweep", "show", result.sweep_id, "--json", "--log"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert main(["sweep", "show", result.sweep_id, "--json", "--log"]) == 0
    assert json.loads(capsys.readouterr().out)["summary_run"] == report["summary_run"]  # unchanged
    assert main(["sweep", "show", result.sweep_id, "--csv", "--no-log"]) == 0
    csv_lines = capsys.readouterr().out.strip().splitlines()
    assert csv_lines[0] == "number,state,loss,run_id,seconds,x,y" and len(csv_lines) == 5
    assert report["best"]["number"] == result.best["number"]
    assert set(report["importances"]) == {"x", "y"}
    for key in ("parallel_coordinates", "optimization_history"):
        assert Path(report["figures"][f"{key}_png"]).stat().st_size > 1000
        assert "plotly" in Path(report["figures"][f"{key}_html"]).read_text()[:20000].lower()
    store = Store.open(offline_env)
    summary = store.get_run(report["summary_run"])
    assert summary.group == result.sweep_id
    kinds = {m["key"]: m["kind"] for m in store.media(summary.id)}
    assert kinds.get("sweep/parallel_coordinates") == "image" and "sweep/trials" in kinds
    assert summary.wandb_dir or summary.wandb_mode == "offline"


def test_sweeps_read_runs_only_through_the_store_api() -> None:
    """The store's schema is core's: this plugin reads runs through ``Store``'s public methods
    (``rows_since``, ``get_run``) and touches no core table, nor SQLite, itself."""
    import ast

    package = HERE.parent / "wandbkit_sweeps"
    found = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] == "sqlite3" for n in names):
                    found.append(f"{path.name}:{node.lineno} imports sqlite3")
            elif isinstance(node, ast.Attribute) and node.attr in ("_reader", "_writer"):
                found.append(f"{path.name}:{node.lineno} uses Store.{node.attr}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                sql = " ".join(node.value.split()).upper()
                for table in ("HISTORY", "RUNS", "MEDIA", "SUMMARY", "COLUMNS"):
                    if f"FROM {table} " in sql + " " or f"INTO {table} " in sql + " ":
                        found.append(f"{path.name}:{node.lineno} queries core table {table}")
    assert found == []


def test_show_only_reads(tmp_path: Path, offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --log/--out, ``sweep show`` starts no run (none can go online) and writes
    nothing: the sweep's storage is opened read-only."""
    sweep = {"method": "random", "metric": {"name": "loss"}, "run_cap": 3,
             "parameters": {"x": {"min": 0.0, "max": 6.0}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, mode="disabled", seed=1)
    store = Store.open(offline_env)
    runs_before = {r.id for r in store.runs()}
    db = offline_env / "sweeps.db"
    os.chmod(db, 0o444)  # a read-only results folder
    try:
        before = db.stat().st_mtime_ns
        assert main(["sweep", "show", result.sweep_id, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert main(["sweep", "show", result.sweep_id]) == 0
        assert "best: trial" in capsys.readouterr().out
    finally:
        os.chmod(db, 0o644)
    assert report["best"]["number"] == result.best["number"] and "summary_run" not in report
    assert report["figures"] == {}
    assert {r.id for r in store.runs()} == runs_before  # no summary run was started
    assert db.stat().st_mtime_ns == before
    assert not (offline_env / "sweeps").exists()  # no plots written either


def _one_running_trial(monkeypatch: pytest.MonkeyPatch, agent_heartbeat: str):
    from wandbkit_sweeps.engine import claim_trial

    monkeypatch.setenv("WANDBKIT_SWEEP_HEARTBEAT", agent_heartbeat)
    opened = create_sweep(load_sweep({"method": "grid", "metric": {"name": "loss"},
                                      "parameters": {"x": {"values": [1]}}}))
    return opened, claim_trial(opened)


def test_staleness_is_judged_by_the_agents_heartbeat_not_the_viewers(
        offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wandbkit_sweeps.engine import Heartbeat

    opened, trial = _one_running_trial(monkeypatch, "60")  # this agent beats once a minute
    trial.set_user_attr("worker", "another-host:1")  # elsewhere: judged by its heartbeats alone
    with Heartbeat(opened, trial):
        pass  # records the agent's interval and a first beat
    storage = opened.storage
    monkeypatch.setenv("WANDBKIT_SWEEP_HEARTBEAT", "1")  # the viewer's own setting
    viewer = open_sweep(opened.id)
    storage.set_trial_user_attr(trial._trial_id, "heartbeat_at", time.time() - 100)
    assert viewer.fail_stale() == []  # 100 s is under 3 x 60 s: the agent is alive
    storage.set_trial_user_attr(trial._trial_id, "heartbeat_at", time.time() - 200)
    assert viewer.fail_stale() == [trial.number]
    assert viewer.trials()[0].state.name == "FAIL"


def test_a_dead_agent_on_this_host_is_stale_at_once(offline_env: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    opened, trial = _one_running_trial(monkeypatch, "60")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{gone.stdout.strip()}")
    trial.set_user_attr("heartbeat_at", time.time())
    assert opened.fail_stale() == [trial.number]


def test_heartbeat_failures_are_reported_and_recovery_too(
        offline_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    import optuna

    from wandbkit_sweeps.engine import Heartbeat, Sweep

    opened, trial = _one_running_trial(monkeypatch, "5")
    url = opened.storage.url
    quick = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 0.1}})
    beats = Heartbeat(Sweep(opened.id, opened.spec, opened.study, quick), trial)
    lock = sqlite3.connect(offline_env / "sweeps.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        assert beats.beat() is False and beats.beat() is False
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    err = capsys.readouterr().err
    assert err.count("cannot record its heartbeat") == 1, err  # once per run of failures
    assert "database is locked" in err and f"trial {trial.number}" in err
    assert beats.beat() is True
    assert "heartbeat recorded again after 2 failure(s)" in capsys.readouterr().err


def test_a_sweep_where_every_trial_failed_exits_non_zero(
        tmp_path: Path, offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"method": "grid", "metric": {"name": "loss"}, "program": "nosuch.py",
           "parameters": {"x": {"values": [1, 2, 3]}}}
    path = _write(tmp_path, doc)
    assert main(["sweep", "validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: program: 'nosuch.py' names no file in" in err and "every trial would fail" in err
    assert main(["sweep", "run", str(path), "--engine", "local", "--mode", "disabled"]) == 1
    captured = capsys.readouterr()
    assert "3 failed" in captured.out
    assert "no trial completed (3 failed); the first failed:" in captured.err
    assert "exited with code 2" in captured.err


def test_the_trials_mode_is_checked_and_reaches_wandb_style_functions(
        tmp_path: Path, offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"method": "grid", "metric": {"name": "loss"}, "program": PROGRAM,
           "parameters": {"x": {"values": [1]}}}
    assert main(["sweep", "run", str(_write(tmp_path, doc)), "--engine", "local",
                 "--mode", "onlin"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mode='onlin' is not one of" in err[0]
    with pytest.raises(UserError, match="is not one of"):
        wandbkit_sweeps.run({"method": "grid", "parameters": {"x": {"values": [1]}}},
                            sweep_trainers.wandb_style_plain, mode="offline ")
    sweep = {"method": "grid", "metric": {"name": "loss"}, "parameters": {"x": {"values": [2]}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.wandb_style_plain, mode="disabled")
    record = Store.open(offline_env).get_run(result.trials[0]["run_id"])
    assert record.wandb_mode == "disabled"  # WANDB_MODE=offline here; the sweep said disabled
    assert os.environ["WANDB_MODE"] == "offline"  # put back after the trial


def test_show_prints_names_and_values_as_given(offline_env: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sweep = {"method": "grid", "metric": {"name": "[b]k[/b]"},
             "parameters": {"c": {"values": ["[red]x[/]", "=1+1"]}}}

    def train(config, run):
        run.log({"[b]k[/b]": 1.0 if config["c"] == "[red]x[/]" else 2.0})

    result = wandbkit_sweeps.run(sweep, train, mode="disabled")
    assert main(["sweep", "show", result.sweep_id]) == 0
    out = capsys.readouterr().out
    assert "minimize [b]k[/b])" in out and "[b]k[/b]=1 " in out
    assert '"c": "[red]x[/]"' in out  # not rendered as markup
    assert main(["sweep", "show", result.sweep_id, "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "number,state,[b]k[/b],run_id,seconds,c"
    assert lines[1].endswith(",[red]x[/]") and lines[2].endswith(",'=1+1")  # formula guard


def test_show_writes_figures_without_matplotlib_warnings(tmp_path: Path, offline_env: Path) -> None:
    import warnings

    sweep = {"method": "random", "metric": {"name": "loss"}, "run_cap": 1,
             "parameters": {"x": {"min": 0.0, "max": 6.0}}}
    result = wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, mode="disabled", seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = analyse(result.sweep_id, out=tmp_path / "plots")
    assert Path(report["figures"]["parallel_coordinates_png"]).is_file()
    assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == []
