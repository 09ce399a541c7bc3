"""Data-safety edges: names and file entries, read-only commands, gc across hosts, cache
trimming, nested files in pull, Ctrl-C while waiting, sizes and user text in the CLI."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import run_script
from wandbkit.cli import build_app
from wandbkit.formatting import human_size
from wandbkit.paths import safe_filename
from wandbkit.store import HEARTBEAT_STALE_S, Store
from wandbkit_artifacts import CheckpointError, CheckpointManager, gc, list_versions
from wandbkit_artifacts.cleanup import GcReport, trim_cache
from wandbkit_artifacts.dashboard import versions_rows
from wandbkit_artifacts.errors import check_name
from wandbkit_artifacts.layout import tmp_dir_for
from wandbkit_artifacts.loader import verify_folder


def cli(*args: str):
    return CliRunner().invoke(build_app(), ["ckpt", *args])


@pytest.mark.parametrize(("name", "says"), [
    ("..", "climbs out"), ("../up", "climbs out"), ("/abs", "absolute path"), (3, "string"),
    ("", "empty"), ("x" * 300, "bytes"), ("a/b", "letters, digits"), ("[red]x[/red]", "letters"),
])
def test_a_bad_checkpoint_name_is_one_clear_error(name, says):
    with pytest.raises(CheckpointError, match=says) as err:
        check_name(name)
    assert len(str(err.value).splitlines()) == 1
    with pytest.raises(CheckpointError, match=says):
        CheckpointManager(None, name)


@pytest.mark.parametrize(("entry", "says"), [
    ("../x.pt", "climbs out"), ("/etc/x.pt", "absolute path"), (7, "must be a string"),
    ("", "empty"),
])
def test_a_bad_file_entry_is_refused_before_anything_is_linked(tmp_path, entry, says):
    src = tmp_path / "w.pt"
    src.write_bytes(b"weights")
    ckpt = CheckpointManager(None, "entries", async_save=False)
    with pytest.raises(CheckpointError, match=says):
        ckpt.register(1, {entry: src})
    ckpt.finish()
    assert list_versions("entries") == [] and not (tmp_path.parent / "x.pt").exists()


def test_a_tampered_manifest_cannot_make_verify_or_pull_leave_the_folder(tiny, tmp_path):
    model, _ = tiny
    ckpt = CheckpointManager(None, "tamper", async_save=False)
    version = ckpt.save(1, model).version
    ckpt.finish()
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not yours")
    manifest_path = version.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    rel = os.path.relpath(outside, version.path)
    manifest["files"][rel] = {"digest": "0" * 32, "size": len(b"not yours")}
    manifest_path.write_text(json.dumps(manifest))
    assert any("climbs out" in p for p in verify_folder(version.path))
    res = cli("pull", "tamper:latest", "--to", str(tmp_path / "out" / "deep"))
    assert res.exit_code == 2 and "climbs out" in res.stderr
    assert outside.read_bytes() == b"not yours"


def test_pull_copies_nested_files_and_verifies_them(tmp_path):
    shard = tmp_path / "ds" / "global_step5"
    shard.mkdir(parents=True)
    (shard / "mp_rank_00_model_states.pt").write_bytes(b"model" * 100)
    (shard / "zero_pp_rank_0_optim_states.pt").write_bytes(b"optim" * 100)
    (tmp_path / "ds" / "latest").write_text("global_step5")
    ckpt = CheckpointManager(None, "deepspeed", async_save=False)
    ckpt.register(5, tmp_path / "ds")
    ckpt.finish()
    res = cli("pull", "deepspeed:latest", "--to", "export")
    assert res.exit_code == 0, res.output
    assert (Path("export") / "global_step5" / "mp_rank_00_model_states.pt").read_bytes() == \
        b"model" * 100
    assert verify_folder(Path("export")) == []


def test_pull_to_a_folder_that_cannot_be_made_is_one_line(tiny):
    model, _ = tiny
    ckpt = CheckpointManager(None, "p", async_save=False)
    ckpt.save(1, model)
    ckpt.finish()
    Path("a-file").write_text("a file where the destination folder must go")
    res = cli("pull", "p:latest", "--to", "a-file/export")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: cannot write the copy to a-file/export")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_reading_commands_create_nothing(tmp_path, offline_env):
    wrong = tmp_path / "not-a-store"
    for args in (("ls",), ("show", "m:latest"), ("verify", "m"), ("pull", "m:latest", "--to", "o")):
        res = cli(*args, "--dir", str(wrong))
        assert res.exit_code == 2 and "no wandbkit store at" in res.stderr, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1
    assert not wrong.exists() and not Path("o").exists()
    # a store with runs and no checkpoints: listed as empty, and no checkpoint tables appear
    Store.open(offline_env)
    res = cli("ls")
    assert res.exit_code == 0 and "no checkpoints in" in res.stdout
    with Store.open(offline_env).connect() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not any(t.startswith("artifacts_") for t in tables)


def test_cli_and_dashboard_show_one_size_and_user_text_as_given(tiny, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    model, _ = tiny
    ckpt = CheckpointManager(None, "sizes", async_save=False)
    markup = "[red]x[/red][/]"
    version = ckpt.save(1, model, metrics={markup: 1.0, "[bold]k[/bold]": 2.0}).version
    ckpt.finish()
    assert version.size >= 1000  # a size where 1000 and 1024 disagree
    res = cli("ls")
    assert res.exit_code == 0, res.output
    shown = human_size(version.size)
    assert shown in res.stdout and versions_rows([version])[0][4] == shown
    assert f"{markup}=1" in res.stdout and "[bold]k[/bold]=2" in res.stdout


def test_the_tmp_folder_of_a_save_names_its_host_and_pid(tmp_path):
    folder = tmp_path / "ck"
    tmp = tmp_dir_for(folder)
    assert tmp.name.startswith(f".tmp-{safe_filename(socket.gethostname())}-{os.getpid()}-")


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid += 1


def test_gc_keeps_a_save_in_flight_on_another_host(tiny):
    model, _ = tiny
    ckpt = CheckpointManager(None, "hosts", async_save=False)
    parent = ckpt.save(1, model).version.path.parent
    ckpt.finish()
    dead = _dead_pid()  # no such process here: on another host it says nothing
    here = safe_filename(socket.gethostname())
    elsewhere = parent / f".tmp-node-07.cluster-{dead}-0123abcd"
    stale_elsewhere = parent / f".tmp-node-08-{dead}-4567abcd"
    dead_here = parent / f".tmp-{here}-{dead}-89abcdef"
    for folder in (elsewhere, stale_elsewhere, dead_here):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"partial")
    old = time.time() - HEARTBEAT_STALE_S - 60
    for path in (stale_elsewhere / "model.safetensors", stale_elsewhere):
        os.utime(path, (old, old))
    report = gc()
    assert elsewhere.is_dir() and str(elsewhere) not in report.removed
    assert not stale_elsewhere.exists() and not dead_here.exists()
    assert [v.step for v in list_versions("hosts")] == [1]


def test_trim_cache_refuses_what_is_not_a_wandb_cache(tmp_path, monkeypatch):
    work = tmp_path / "project"
    work.mkdir()
    (work / "train.py").write_text("precious")
    monkeypatch.chdir(work)
    with pytest.raises(CheckpointError, match="not a wandb artifact cache") as err:
        trim_cache(Path(os.environ.get("NO_SUCH_CACHE_VAR", "")), 0, False, GcReport())
    assert len(str(err.value).splitlines()) == 1 and (work / "train.py").exists()
    with pytest.raises(CheckpointError, match="empty"):
        gc(cache_cap=0, cache_dir="")
    res = cli("gc", "--cache-cap", "0", "--cache-dir", str(work))
    assert res.exit_code == 2 and "not a wandb artifact cache" in res.stderr
    assert (work / "train.py").read_text() == "precious"
    cache = tmp_path / "cache" / "artifacts"
    (cache / "obj" / "md5" / "ab").mkdir(parents=True)
    (cache / "obj" / "md5" / "ab" / "cdef").write_bytes(b"x" * 100)
    trim_cache(cache, 0, False, GcReport())  # wandb's layout: trimmed
    assert not (cache / "obj" / "md5" / "ab" / "cdef").exists()


def test_ctrl_c_in_wait_is_let_through_and_the_save_in_flight_still_lands():
    res = run_script("ctrl_c_wait.py")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[-1]) == {"outcome": "KeyboardInterrupt",
                                                       "steps": [1]}


def test_a_user_alias_that_no_reference_could_name_is_refused(tiny):
    model, _ = tiny
    ckpt = CheckpointManager(None, "al", async_save=False)
    for alias in ("[b]x[/b]", "a:b", "v3", ""):
        with pytest.raises(CheckpointError, match="alias"):
            ckpt.save(1, model, aliases=[alias])
    ckpt.finish()
    assert list_versions("al") == []


def test_a_read_only_index_writes_nothing_and_sees_checkpoints_saved_later(tiny, offline_env):
    from wandbkit_artifacts.index import Index

    reader = Index(Store.open(offline_env), readonly=True)  # what the dashboard holds
    assert reader.names() == [] and reader.versions() == []
    with Store.open(offline_env).connect() as conn:
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name LIKE 'artifacts_%'"
                                ).fetchone()
    model, _ = tiny
    ckpt = CheckpointManager(None, "later", async_save=False)
    ckpt.save(3, model)
    ckpt.finish()
    assert [v.step for v in reader.versions("later")] == [3]


def test_ckpt_ls_reads_a_store_an_older_version_wrote_without_upgrading_it(tiny, offline_env):
    import sqlite3

    from wandbkit_artifacts.index import MIGRATIONS

    store = Store.open(offline_env)
    with sqlite3.connect(store.db_path) as conn:  # the checkpoint tables as schema v1 made them
        conn.executescript(MIGRATIONS[0] + ";INSERT INTO schema_versions VALUES ('artifacts', 1);"
                           "INSERT INTO artifacts_versions VALUES ('old', 0, '/x/v0', 5, '{}', 10,"
                           " 0, 'id0', 'run1', 'p', NULL);"
                           "INSERT INTO artifacts_aliases VALUES ('old', 'latest', 0)")
    res = cli("ls", "--json")
    assert res.exit_code == 0, res.output
    assert [(r["name"], r["aliases"]) for r in json.loads(res.stdout)] == [("old", ["latest"])]
    res = cli("show", "old:latest")
    assert res.exit_code == 0 and json.loads(res.stdout)["step"] == 5
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("SELECT version FROM schema_versions WHERE component='artifacts'"
                            ).fetchone() == (1,)


def test_a_writer_moves_an_older_stores_aliases_to_the_runs_that_saved_them(offline_env):
    import sqlite3

    from wandbkit_artifacts.index import MIGRATIONS, Index

    store = Store.open(offline_env)
    with sqlite3.connect(store.db_path) as conn:
        conn.executescript(MIGRATIONS[0] + ";INSERT INTO schema_versions VALUES ('artifacts', 1);"
                           "INSERT INTO artifacts_versions VALUES ('old', 0, '/x/v0', 5, '{}', 10,"
                           " 0, 'id0', 'run1', 'p', NULL);"
                           "INSERT INTO artifacts_versions VALUES ('old', 1, '/x/v1', 9, '{}', 10,"
                           " 0, 'id1', NULL, 'p', NULL);"
                           "INSERT INTO artifacts_aliases VALUES ('old', 'best', 0);"
                           "INSERT INTO artifacts_aliases VALUES ('old', 'latest', 1)")
    index = Index.open()
    assert index.aliases("old", "run1") == {"best": 0} and index.aliases("old", "") == {"latest": 1}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.integers(), st.none(), st.binary(max_size=20)))
def test_any_name_or_reference_is_accepted_as_one_safe_component_or_refused_in_one_line(value):
    from wandbkit_artifacts.loader import parse_scoped_ref

    for check in (check_name, parse_scoped_ref):
        try:
            out = check(value)
        except CheckpointError as exc:
            assert len(str(exc).splitlines()) == 1
            continue
        name = out if isinstance(out, str) else out[0]
        assert Path(name).name == name and name not in (".", "..") and "/" not in name
        assert len(name.encode()) <= 200
