"""``wandbkit ckpt`` through the real wandbkit CLI (plugin found by its entry point)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from wandbkit.cli import build_app
from wandbkit.paths import safe_filename
from wandbkit_artifacts import CheckpointManager


def cli(*args: str):
    return CliRunner().invoke(build_app(), ["ckpt", *args])


def _three_versions(tiny) -> None:
    model, opt = tiny
    ckpt = CheckpointManager(None, "m", async_save=False, metric="loss")
    for step, loss in ((10, 2.0), (20, 1.0), (30, 1.5)):
        ckpt.save(step, model, opt, metrics={"loss": loss})
    ckpt.finish()


def test_ls_show_verify(tiny):
    _three_versions(tiny)
    res = cli("ls", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["version"], r["step"]) for r in rows] == [(0, 10), (1, 20), (2, 30)]
    assert rows[1]["aliases"] == ["best", "step-20"] and rows[1]["metrics"] == {"loss": 1.0}
    res = cli("ls", "m")
    assert res.exit_code == 0 and "step-30" in res.stdout and "latest" in res.stdout
    res = cli("show", "m:best")
    assert res.exit_code == 0 and json.loads(res.stdout)["manifest"]["step"] == 20
    res = cli("verify", "m")
    assert res.exit_code == 0 and res.stdout.count(": ok") == 3
    weights = Path(rows[2]["path"]) / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[100] ^= 1
    weights.write_bytes(bytes(data))
    res = cli("verify", "m:latest", "--json")
    assert res.exit_code == 1
    problems = json.loads(res.stdout)["m:v2"]["problems"]
    assert "model.safetensors: xxh3_128 digest" in problems[0]
    assert cli("verify", "m:v1").exit_code == 0


def test_unknown_name_or_alias_exits_2_listing_what_exists(tiny):
    _three_versions(tiny)
    res = cli("show", "m:nope")
    assert res.exit_code == 2
    assert "m has versions v0, v1, v2" in res.stderr and "best->v1" in res.stderr
    res = cli("ls", "zzz")
    assert res.exit_code == 2 and "checkpoints in" in res.stderr and ": m" in res.stderr
    res = cli("verify", "zzz:latest")
    assert res.exit_code == 2
    res = cli("pull", "zzz:latest", "--to", "out")
    assert res.exit_code == 2 and "WANDB_MODE=offline" in res.stderr


def test_pull_and_gc(tiny):
    _three_versions(tiny)
    res = cli("pull", "m:best", "--to", "export")
    assert res.exit_code == 0, res.output
    assert json.loads(Path("export/manifest.json").read_text())["step"] == 20
    here = safe_filename(socket.gethostname())
    parent = Path(json.loads(cli("ls", "--json").stdout)[0]["path"]).parent
    leftover = parent / f".tmp-{here}-999999-deadbeef"  # a save of a pid that is gone, here
    leftover.mkdir()
    res = cli("gc", "--dry-run")
    assert res.exit_code == 0 and "would remove" in res.stdout and leftover.exists()
    res = cli("gc", "--json")
    assert res.exit_code == 0 and str(leftover) in json.loads(res.stdout)["removed"]
    assert not leftover.exists() and cli("verify", "m").exit_code == 0
    assert cli("gc", "--cache-cap", "lots").exit_code == 2
