"""Across machines for real: a PostgreSQL server on 127.0.0.1 and two agent processes sharing
one sweep through it. Skipped only where PostgreSQL's binaries are absent (CI installs them)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import wandbkit_sweeps.api as api
from wandbkit.store import Store

HERE = Path(__file__).parent
BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
pytestmark = pytest.mark.skipif(not BINS, reason="PostgreSQL binaries are not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; initdb and pg_ctl refuse root, so as root they run as
    the ``postgres`` user on a data folder it owns."""
    bindir = Path(BINS[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="wandbkit-pg-", dir="/tmp"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def pg(*args: str) -> None:
        subprocess.run(as_user + [str(bindir / args[0]), *args[1:]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    pg("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o",
       f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


AGENT = ("import sys, sweep_trainers, wandbkit_sweeps; "
         "wandbkit_sweeps.agent(sys.argv[1], sweep_trainers.quadratic, storage=sys.argv[2], "
         "mode='disabled')")


def _two_agents(sweep_id: str, url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    procs = [subprocess.Popen([sys.executable, "-c", AGENT, sweep_id, url], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out


def test_two_agents_share_a_grid_through_postgres(postgres_url: str, offline_env: Path) -> None:
    doc = {"method": "grid", "metric": {"name": "loss"},
           "parameters": {"x": {"values": [0, 1, 2, 3, 4, 5, 6, 7]}}}
    sweep = api.start(doc, storage=postgres_url)
    assert "postgresql+psycopg" in sweep.storage.url
    _two_agents(sweep.id, postgres_url)
    reopened = api.open_sweep(sweep.id, storage=postgres_url)
    rows = api.trial_rows(reopened)
    assert sorted(r["config"]["x"] for r in rows) == list(range(8))  # none lost, none twice
    assert all(r["state"] == "complete" for r in rows)
    workers = {t.user_attrs["worker"] for t in reopened.trials()}
    assert len(workers) == 2, workers  # both agents took part
    store = Store.open(offline_env)
    assert {r.group for r in store.runs()} == {sweep.id}
    assert len(store.runs()) == 8


def test_run_cap_holds_across_agents(postgres_url: str, offline_env: Path) -> None:
    doc = {"method": "bayes", "metric": {"name": "loss"}, "run_cap": 6,
           "parameters": {"x": {"min": 0.0, "max": 6.0}}}
    sweep = api.start(doc, storage=postgres_url)
    _two_agents(sweep.id, postgres_url)
    rows = api.trial_rows(api.open_sweep(sweep.id, storage=postgres_url))
    assert len(rows) == 6 and all(r["state"] == "complete" for r in rows)
    assert len({r["run_id"] for r in rows}) == 6
