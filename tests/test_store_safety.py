"""The store's edges: reading never writes, a network filesystem gets a rollback journal, and
two processes never both write one run."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import wandbkit
from wandbkit.cli import main
from wandbkit.errors import UserError
from wandbkit.store import DB_NAME, Store, network_filesystem, store_filesystem


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time (ns), but SQLite's WAL
    sidecars: a reader of a WAL database makes them where it may, as every SQLite reader does
    (on a read-only mount it cannot, and reads the file as immutable)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if not p.name.endswith(("-wal", "-shm"))}


def _stored_run(root: Path) -> str:
    run = wandbkit.init(project="p", mode="disabled", dir=root)
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish(quiet=True)
    return run.id


# --- reading never writes -----------------------------------------------------------------


def test_reading_commands_never_write_a_store(offline_env: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "store"
    run_id = _stored_run(root)
    before = _snapshot(root)
    root.chmod(stat.S_IRUSR | stat.S_IXUSR)  # r-x: what a results folder someone shared is
    try:
        assert main(["runs", "--dir", str(root), "--json"]) == 0
        assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run_id]
        assert main(["show", run_id, "--dir", str(root), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["id"] == run_id
        assert main(["export", run_id, "--dir", str(root)]) == 0
        assert capsys.readouterr().out.splitlines()[0] == "step,loss"
    finally:
        root.chmod(0o755)
    assert _snapshot(root) == before


def test_a_read_only_store_connection_refuses_writes(offline_env: Path, tmp_path: Path) -> None:
    run_id = _stored_run(tmp_path / "store")
    store = Store.open(tmp_path / "store", readonly=True)
    assert store.get_run(run_id).state == "finished"
    with pytest.raises(UserError, match="cannot read the wandbkit store"):
        store.mark_synced(run_id, 1.0)
    assert Store.open(tmp_path / "store").synced_at(run_id) is None


def test_reading_commands_on_a_missing_or_empty_store_say_so_in_one_line(
        offline_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    for argv in (["runs"], ["show", "abc"], ["export", "abc"]):
        assert main([*argv, "--dir", str(missing)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"no wandbkit store at {missing}" in err
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / DB_NAME).touch()
    for argv in (["runs"], ["show", "abc"], ["export", "abc"]):
        assert main([*argv, "--dir", str(empty)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is empty: not a wandbkit store" in err
    assert os.listdir(empty) == [DB_NAME] and (empty / DB_NAME).stat().st_size == 0


def test_a_store_from_a_newer_wandbkit_is_one_line_and_not_touched(
        offline_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "store"
    _stored_run(root)
    conn = sqlite3.connect(root / DB_NAME)
    conn.execute("UPDATE schema_versions SET version=99 WHERE component='core'")
    conn.commit()
    conn.close()
    before = _snapshot(root)
    assert main(["runs", "--dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "core schema v99, newer than this wandbkit knows" in err
    assert _snapshot(root) == before


def test_an_older_schema_is_read_without_migrating(offline_env: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    run_id = _stored_run(root)
    conn = sqlite3.connect(root / DB_NAME)
    conn.execute("UPDATE schema_versions SET version=4 WHERE component='core'")
    conn.commit()
    conn.close()
    assert Store.open(root, readonly=True).get_run(run_id).id == run_id
    conn = sqlite3.connect(root / DB_NAME)
    assert conn.execute("SELECT version FROM schema_versions WHERE component='core'"
                        ).fetchone()[0] == 4
    conn.close()


def test_a_store_on_a_read_only_mount_can_be_read(offline_env: Path, tmp_path: Path) -> None:
    """A real read-only bind mount, in a private mount namespace (``unshare -m``): SQLite
    cannot make the WAL index there, so the store is read as an immutable file."""
    src, mnt = tmp_path / "store", tmp_path / "mnt"
    run_id = _stored_run(src)
    mnt.mkdir()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespaces here (unshare -m)")
    cmd = (f"mount --bind {src} {mnt} && mount -o remount,ro,bind {mnt} && "
           f"! touch {mnt}/probe 2>/dev/null && "
           f"{sys.executable} -m wandbkit runs --json --dir {mnt}")
    out = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert [r["id"] for r in json.loads(out.stdout)] == [run_id]


# --- network filesystems ------------------------------------------------------------------

MOUNTS = textwrap.dedent("""\
    overlay / overlay rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w 0 0
    proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
    /dev/sda1 /scratch ext4 rw,relatime 0 0
    fs1:/export/home /home nfs4 rw,relatime,vers=4.2,rsize=1048576 0 0
    10.0.0.5@tcp:/lfs /lustre lustre rw,flock 0 0
    gpfs0 /gpfs gpfs rw,relatime 0 0
    //nas/share /mnt/my\\040share cifs rw,vers=3.0 0 0
    /dev/sdb1 /home/alice/local xfs rw 0 0
    """)


@pytest.mark.parametrize("path, expected", [
    ("/home/alice/runs", "nfs4"), ("/home", "nfs4"), ("/lustre/proj/wandbkit-runs", "lustre"),
    ("/gpfs/x", "gpfs"), ("/mnt/my share/runs", "cifs"), ("/scratch/runs", None),
    ("/home/alice/local/runs", None), ("/homework", None), ("/tmp/x", None)])
def test_network_filesystems_are_told_from_local_ones(path: str, expected: str | None) -> None:
    assert network_filesystem(path, MOUNTS) == expected


def test_this_machines_temp_folder_is_local(tmp_path: Path) -> None:
    assert store_filesystem(tmp_path) is None
    assert network_filesystem(tmp_path, Path("/proc/mounts").read_text()) is None


def test_a_store_on_a_network_filesystem_uses_a_rollback_journal(
        offline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """``WANDBKIT_NETWORK_FS=1`` says what the mount table would say on NFS."""
    monkeypatch.setenv("WANDBKIT_NETWORK_FS", "1")
    run_id = _stored_run(tmp_path / "store")
    conn = sqlite3.connect(tmp_path / "store" / DB_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert Store.open(tmp_path / "store", readonly=True).row_count(run_id) == 5
    err = capfd.readouterr().err
    assert err.count("is on a network filesystem") == 1
    assert "one host at a time" in err


# --- two processes, one id ----------------------------------------------------------------

CLAIMER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import wandbkit
    from wandbkit.errors import UserError
    barrier = Path(sys.argv[1])
    (barrier / f"ready-{os.getpid()}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.001)
    try:
        run = wandbkit.init(project="p", id="shared-1", resume="allow", mode="disabled")
    except UserError as exc:
        (barrier / f"tried-{os.getpid()}").touch()
        print("LOST", exc, flush=True)
        sys.exit(0)
    (barrier / f"tried-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("tried-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # hold the run until the other process has tried
    for step in range(50):
        run.log({"x": float(step)})
    run.finish(quiet=True)
    print("WON", os.getpid(), flush=True)
""")


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_two_processes_starting_one_id_at_once_never_both_write_it(
        offline_env: Path, tmp_path: Path) -> None:
    script = tmp_path / "claim.py"
    script.write_text(CLAIMER)
    for attempt in range(3):  # the first creates the run, the later ones resume it
        barrier = tmp_path / f"barrier-{attempt}"
        barrier.mkdir()
        procs = [subprocess.Popen([sys.executable, str(script), str(barrier)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        _wait_for(lambda b=barrier: len(list(b.glob("ready-*"))) == 2, "both processes")
        (barrier / "go").touch()
        outs = [p.communicate(timeout=240) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        lines = sorted(out.strip() for out, _ in outs)
        won = [line for line in lines if line.startswith("WON")]
        lost = [line for line in lines if line.startswith("LOST")]
        assert len(won) == 1 and len(lost) == 1, lines
        winner = won[0].split()[1]
        assert "run 'shared-1' is still running" in lost[0]
        assert f"process {winner} on {socket.gethostname()}" in lost[0]
    store = Store.open()
    assert store.row_count("shared-1") == 150
    assert [s for s, _ in store.rows("shared-1")] == list(range(150))
    assert [f["state"] for f in store.fragments("shared-1")] == ["finished"] * 3


def test_a_run_that_fails_to_start_gives_its_id_back(offline_env: Path) -> None:
    with pytest.raises(UserError, match="unknown sink"):
        wandbkit.init(project="p", id="retry-1", mode="disabled", sinks=["stroe"])
    run = wandbkit.init(project="p", id="retry-1", mode="disabled")  # not "already exists"
    assert not run.resumed
    run.finish(quiet=True)
    with pytest.raises(UserError, match="unknown sink"):
        wandbkit.init(project="p", id="retry-1", resume="allow", mode="disabled", sinks=["x"])
    assert Store.open(readonly=True).get_run("retry-1").state == "finished"
