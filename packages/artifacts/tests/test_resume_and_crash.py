"""Exact resume in a fresh process, SIGKILL mid-save, and two processes saving at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SCRIPTS, run_script, wandb_records
from wandbkit_artifacts import gc, list_versions, load, verify


def test_resume_in_fresh_process_gives_bit_identical_losses():
    n = 10
    full = run_script("train_resume.py", "full", str(n))
    assert full.returncode == 0, full.stderr
    resumed = run_script("train_resume.py", "resume", str(n))
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads(full.stdout.splitlines()[-1])["losses"]
    b = json.loads(resumed.stdout.splitlines()[-1])["losses"]
    assert sorted(b, key=int) == [str(s) for s in range(n // 2 + 1, n + 1)]
    assert {s: a[s] for s in b} == b  # float.hex(): bit-identical, not merely close
    assert len(set(a.values())) == n  # losses differ step to step: the comparison has teeth


def _kill_mid_save(name: str, async_save: str, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "save_loop.py"), name, async_save, "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == "saving", proc.stderr.read()
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def test_sigkill_mid_save_never_leaves_a_listed_version_that_fails():
    rnd = random.Random(1234)
    for i in range(4):
        _kill_mid_save("crash", str(i % 2), rnd.uniform(0.1, 0.6))
        versions = list_versions("crash")
        for v in versions:
            assert verify(v.ref) == [], v.ref
            assert load(v.ref).step == v.step
    assert versions, "the saver never committed a version: kill delays too short"
    # leftovers of the killed saves are unlisted: gc removes the incomplete ones and lists
    # complete ones again (killed between rename and COMMIT), never touching listed ones
    report = gc()
    parent = versions[0].path.parent
    assert not list(parent.glob(".tmp-*"))
    listed = sorted(f"v{v.version}" for v in list_versions("crash"))
    assert sorted(p.name for p in parent.glob("v*")) == listed
    assert all(verify(v.ref) == [] for v in list_versions("crash"))
    # at least one kill landed mid-save (a temporary or unlisted folder was left to clean)
    assert report.removed or report.reindexed, "no kill hit a save in progress"


def test_two_processes_saving_the_same_name_get_distinct_versions():
    procs = [subprocess.Popen([sys.executable, str(SCRIPTS / "save_loop.py"), "shared", "1", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ)) for _ in range(2)]
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    versions = list_versions("shared")
    assert [v.version for v in versions] == list(range(6))
    assert len({v.manifest_id for v in versions}) == 6
    assert all(verify(v.ref) == [] for v in versions)


def test_under_torchrun_only_rank_0_writes():
    torchrun = Path(sys.executable).with_name("torchrun")
    # its own session, so a hang is cleaned up with every worker, not just torchrun itself
    proc = subprocess.Popen([str(torchrun), "--standalone", "--nproc_per_node=2",
                             str(SCRIPTS / "ddp_save.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # torchrun's own report hides the rank's error: show the traceback lines instead
    assert proc.returncode == 0, "\n".join(
        line for line in stderr.splitlines() if "Error" in line or ", line " in line)[-3000:]
    ranks = {r["rank"]: r["saved"] for r in map(json.loads, (
        line for line in stdout.splitlines() if line.startswith("{")))}
    assert ranks == {0: [True, True, True], 1: [False, False, False]}
    assert [v.step for v in list_versions("ddp")] == [1, 2, 3]
    assert all(verify(v.ref) == [] for v in list_versions("ddp"))


@pytest.mark.parametrize("mode", ["background", "caught", "final"])
def test_a_checkpoint_write_that_fails_fails_the_run(offline_env, mode):
    from wandbkit.store import Store

    res = run_script("failed_save.py", mode)
    run_id = json.loads(res.stdout.splitlines()[0])["id"]
    assert f"run {run_id} failed: checkpoint" in res.stderr, res.stderr
    reason = "File too large" if mode == "background" else "Error"
    assert reason in res.stderr.split(f"run {run_id} failed:")[1].splitlines()[0]
    record = Store.open().get_run(run_id)
    assert (record.state, record.exit_code) == ("failed", 1)
    (run_dir,) = (offline_env / "wandb").glob(f"offline-run-*-{run_id}")
    exits = [r["exit"] for r in wandb_records(run_dir) if r.get("type") == "exit"]
    assert exits and exits[-1]["exit_code"] == 1
    assert list_versions() == []


def _job(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WANDBKIT_RUN_ID", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID")}
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(SCRIPTS / "shared_name.py"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=180, check=False)


def _by_run(name: str) -> dict[str, dict[int, tuple[int, list[str]]]]:
    out: dict[str, dict[int, tuple[int, list[str]]]] = {}
    for v in list_versions(name):
        out.setdefault(v.run_id, {})[v.version] = (v.step, v.aliases)
    return out


def test_two_runs_sharing_a_name_keep_and_resume_from_their_own_versions(offline_env, tmp_path):
    from typer.testing import CliRunner

    from wandbkit.cli import build_app

    # Job A is SIGKILLed at step 56: its saves at steps 20 and 40 are listed.
    killed = _job(tmp_path / "a", "--steps", "120", "--kill-at", "56", "--seed", "1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    a = json.loads(killed.stdout.splitlines()[0])
    assert a["start"] == 1 and a["from"] is None
    # An unrelated run B trains 120 steps in the same store, under the same name.
    other = _job(tmp_path / "b", "--steps", "120", "--seed", "2")
    assert other.returncode == 0, other.stderr
    b = json.loads(other.stdout.splitlines()[0])
    assert b["run"] != a["run"] and b["start"] == 1 and b["from"] is None  # not A's
    after_b = _by_run("mlp")
    assert sorted(s for s, _ in after_b[a["run"]].values()) == [20, 40]  # B retired none of A's
    b_kept = after_b[b["run"]]
    assert any("best" in aliases for _, aliases in b_kept.values())
    assert any(s == 120 and "latest" in aliases for s, aliases in b_kept.values())
    # A restarts: the same run, resumed from its own step 40 with its own weights.
    restarted = _job(tmp_path / "a", "--steps", "100", "--seed", "1")
    assert restarted.returncode == 0, restarted.stderr
    again = json.loads(restarted.stdout.splitlines()[0])
    assert again["run"] == a["run"] and again["from_run"] == a["run"]
    assert again["start"] == 41, again
    probe = _job_weights(f"mlp@{a['run']}:step-40")
    assert again["weights"] == probe
    # Each run's retention kept to its own versions: B's are exactly as B left them.
    final = _by_run("mlp")
    assert final[b["run"]] == b_kept
    a_steps = {s: aliases for s, aliases in final[a["run"]].values()}
    assert set(a_steps) >= {80, 100} and "latest" in a_steps[100]
    # Outside a run, a bare name that two runs saved means the newest run's (A's, which saved
    # last), and one line names the other.
    res = CliRunner().invoke(build_app(), ["ckpt", "show", "mlp:latest"])
    assert res.exit_code == 0 and json.loads(res.stdout)["run_id"] == a["run"]
    assert len(res.stderr.strip().splitlines()) == 1 and b["run"] in res.stderr
    res = CliRunner().invoke(build_app(), ["ckpt", "show", f"mlp@{b['run']}:latest"])
    assert res.exit_code == 0 and json.loads(res.stdout)["step"] == 120
    assert load("mlp:latest", run=b["run"]).step == 120


def _job_weights(ref: str) -> str:
    """The weights digest of version ``ref``, loaded into the scenario's model."""
    import hashlib

    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    load(ref, model)
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()
