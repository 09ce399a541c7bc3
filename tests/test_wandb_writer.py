"""The W&B writer sink writes the records raw wandb writes for the same calls.

The same script runs twice — through raw ``wandb`` offline and through ``wandbkit`` offline
(the writer) — and both run folders are read back with wandb's own reader (``wandb leet
inspect --json``) and compared record by record, except times and ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wandb_records import wandb_records

SCRIPT = r'''
import os, sys, wave
import numpy as np
from PIL import Image as PILImage

which, root = sys.argv[1], sys.argv[2]
pixels = (np.arange(6 * 5 * 3) % 251).astype(np.uint8).reshape(6, 5, 3)
artifact_dir = os.path.join(root, "ckpt")
os.makedirs(artifact_dir, exist_ok=True)
for name, data in (("weights.bin", b"w" * 1000), ("sub/optim.bin", b"o" * 10)):
    os.makedirs(os.path.dirname(os.path.join(artifact_dir, name)), exist_ok=True)
    with open(os.path.join(artifact_dir, name), "wb") as f:
        f.write(data)
wav, gif = os.path.join(root, "a.wav"), os.path.join(root, "v.gif")
with wave.open(wav, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(b"\x00\x01" * 800)
frames = [PILImage.fromarray(np.full((4, 6, 3), i * 40, dtype=np.uint8)) for i in range(3)]
frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=250, loop=0)
config = {"lr": 0.001, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}, "tag": "x"}
rows = [{"train/loss": 1.0 / (s + 1), "train/acc": s * 0.1, "epoch": s // 3, "ok": s % 2 == 0,
         "note": f"s{s}", "big": 10 ** 12 + s, "neg": -s, "nan": float("nan"),
         "inf": float("inf"), "val/acc": (s * 7) % 5 * 0.1} for s in range(7)]

if which == "raw":
    import wandb
    run = wandb.init(project="cmp", mode="offline", config=config, tags=["a", "b"], name="nm",
                     group="grp", dir=root, resume="allow", settings=wandb.Settings(console="off"))
    log = lambda values, step: run.log(values, step=step)
    image = lambda: wandb.Image(pixels, caption="px")
    hist = lambda: wandb.Histogram(np_histogram=([1, 2, 3], [0.0, 0.5, 1.0, 1.5]))
    table = lambda: wandb.Table(columns=["q", "score"], data=[["a?", 0.5], ["b?", 1]])
    audio = lambda: wandb.Audio(wav, caption="beep")
    video = lambda: wandb.Video(gif, caption="frames")
else:
    import wandbkit
    run = wandbkit.init(project="cmp", mode="offline", config=config, tags=["a", "b"],
                        name="nm", group="grp", dir=root)
    log = run.log
    image = lambda: wandbkit.Image(pixels, caption="px")
    hist = lambda: wandbkit.Histogram(counts=[1, 2, 3], edges=[0.0, 0.5, 1.0, 1.5])
    table = lambda: wandbkit.Table(["q", "score"], [["a?", 0.5], ["b?", 1]])
    audio = lambda: wandbkit.Audio(wav, caption="beep")
    video = lambda: wandbkit.Video(gif, caption="frames")

run.define_metric("train/loss", summary="min", step_metric="epoch")
run.define_metric("val/*", summary="max,mean")

for s, values in enumerate(rows[:4]):
    log(values, s)
log({"extra/only_here": 3.5}, 3)  # the same step again: merged into step 3's row
log({"media/img": image(), "media/hist": hist(), "media/tab": table(), "media/aud": audio(),
     "media/vid": video()}, 4)
run.summary["best"] = 0.25
run.config.update({"late": 7})
if which == "raw":
    run.alert(title="NaN loss", text="loss is NaN at step 4", level=wandb.AlertLevel.WARN)
    art = wandb.Artifact("model-ckpt", type="model", metadata={"step": 4})
    art.add_dir(artifact_dir, policy="immutable")
    run.log_artifact(art, aliases=["best", "step-4"])
else:
    run.alert("NaN loss", "loss is NaN at step 4", level="warn")
    run.log_artifact(artifact_dir, name="model-ckpt", type="model", aliases=["best", "step-4"],
                     metadata={"step": 4})
for s, values in enumerate(rows[4:], start=5):
    log(values, s)
run.finish()
print("RUN_DIR", os.path.dirname(run.dir.rstrip("/")) if which == "raw" else run.wandb["dir"])
'''

IGNORED = {"_runtime", "_timestamp", "_wandb.runtime"}


def _run_both(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "calls.py"
    script.write_text(SCRIPT)
    procs = {}
    for which in ("raw", "kit"):
        root = tmp_path / which
        root.mkdir()
        procs[which] = subprocess.Popen([sys.executable, str(script), which, str(root)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "WANDBKIT_QUIET": "1"})
    dirs = {}
    for which, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        dirs[which] = Path(re.search(r"RUN_DIR (.+)", out).group(1).strip())  # type: ignore[union-attr]
    return dirs["raw"], dirs["kit"]


def _normalise(value: Any, run_id: str) -> Any:
    """Strip what differs by design: random client ids, the run id, the media file's step."""
    if isinstance(value, dict):
        return {k: _normalise(v, run_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, run_id) for v in value]
    if isinstance(value, str):
        value = re.sub(r"wandb-client-artifact://[a-z0-9]{128}", "wandb-client-artifact://ID", value)
        value = value.replace(run_id, "RUNID")
        return re.sub(r"_\d+_([0-9a-f]{20})\.", r"_N_\1.", value)  # img_<step>_<sha[:20]>.png
    return value


def _by_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r[kind] for r in records if r["type"] == kind]


def _fold(updates: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for update in updates:
        out.update(update.get("update", {}))
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (wandb's reader gives NaN back as a float)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_the_writer_writes_what_raw_wandb_writes(tmp_path: Path) -> None:
    raw_dir, kit_dir = _run_both(tmp_path)
    raw, kit = wandb_records(raw_dir), wandb_records(kit_dir)
    raw_id = raw[1]["run"]["run_id"]
    kit_id = kit[1]["run"]["run_id"]
    raw = _normalise(raw, raw_id)
    kit = _normalise(kit, kit_id)

    # the file starts with header and run, ends with exit; the user's records in call order
    assert [r["type"] for r in kit[:2]] == ["header", "run"] == [r["type"] for r in raw[:2]]
    assert kit[-1]["type"] == raw[-1]["type"] == "exit"
    assert kit[-1]["exit"].get("exit_code", 0) == raw[-1]["exit"].get("exit_code", 0) == 0
    events = ("metric", "config", "alert", "artifact", "exit")
    assert ([r["type"] for r in kit if r["type"] in events]
            == [r["type"] for r in raw if r["type"] in events])
    user_types = {"header", "run", "history", "summary", "config", "files", "alert",
                  "artifact", "metric", "exit"}
    assert {r["type"] for r in kit} - {"environment", "stats"} == user_types
    assert user_types <= {r["type"] for r in raw}
    # system metrics under wandb's keys (the System charts)
    kit_stats = {k for r in _by_type(kit, "stats") for k in r["item"]}
    raw_stats = {k for r in _by_type(raw, "stats") for k in r["item"]}
    shared = {"memory_percent", "proc.memory.rssMB", "proc.memory.availableMB",
              "proc.memory.percent", "proc.cpu.threads", "disk./.usagePercent"}
    assert shared <= kit_stats & raw_stats, (kit_stats, raw_stats)
    # GPUs: the same gpu.N.* / gpu.process.N.* keys as wandb-core's (none on a machine without
    # NVIDIA's driver; benchmarks/gpu_system_stats.py runs this comparison on a GPU machine)
    assert ({k for k in kit_stats if k.startswith("gpu.")}
            == {k for k in raw_stats if k.startswith("gpu.")})

    # run: config (with wandb's `_wandb` key), name, group, tags, project, resume
    rk, rr = kit[1]["run"], raw[1]["run"]
    for key in ("display_name", "run_group", "tags", "project", "resume", "host"):
        assert rk.get(key) == rr.get(key), key
    # the config W&B ends with: the run record's, then each config record (the run record
    # may already hold later updates: the sink starts on the flusher thread, after init)
    assert _fold([rk["config"], *_by_type(kit, "config")]) == _fold([rr["config"],
                                                                     *_by_type(raw, "config")])
    assert _fold(_by_type(kit, "config")) == _fold(_by_type(raw, "config")) == {"late": 7}

    # history: the same rows, in step order, with every value; times present and sane
    hk, hr = _by_type(kit, "history"), _by_type(raw, "history")
    assert [h["item"]["_step"] for h in hk] == [h["item"]["_step"] for h in hr] == list(range(8))
    assert [h.get("step", {}).get("num", 0) for h in hk] == list(range(8))
    for k_row, r_row in zip(hk, hr, strict=True):
        k_item, r_item = k_row["item"], r_row["item"]
        assert set(k_item) == set(r_item), (set(k_item) ^ set(r_item))
        for key in set(k_item) - IGNORED:
            assert _same(k_item[key], r_item[key]), (k_item["_step"], key, k_item[key], r_item[key])
        assert 0 <= k_item["_runtime"] < 120 and abs(k_item["_timestamp"] - r_item["_timestamp"]) < 120
    assert hk[3]["item"]["extra/only_here"] == 3.5 and hk[3]["item"]["train/acc"] == pytest.approx(0.3)

    # summary: what the summary records add up to
    sk, sr = _fold(_by_type(kit, "summary")), _fold(_by_type(raw, "summary"))
    assert set(sk) == set(sr)
    for key in set(sk) - IGNORED:
        assert _same(sk[key], sr[key]), (key, sk[key], sr[key])
    assert sk["best"] == 0.25 and sk["_step"] == 7
    # define_metric: its records, and the aggregates the summary keeps
    assert _by_type(kit, "metric") == _by_type(raw, "metric")
    assert sk["train/loss"] == {"min": 1.0 / 7} and set(sk["val/acc"]) == {"max", "mean"}

    # alerts
    assert _by_type(kit, "alert") == _by_type(raw, "alert")

    # artifacts: the model (and the run_table wandb logs for a table), manifests with digests
    def artifacts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for a in _by_type(records, "artifact"):
            a = dict(a)
            for key in ("client_id", "sequence_client_id"):
                assert len(a.pop(key)) == 128
            a["metadata"] = json.loads(a.get("metadata") or "null")
            a["aliases"] = sorted(a["aliases"])  # wandb keeps them in a set
            a["manifest"] = {**a["manifest"], "contents": [
                {k: v for k, v in c.items() if k != "local_path"} for c in a["manifest"]["contents"]]}
            out.append(a)
        return out

    def named(arts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # a table's artifact is run-<id>-<key> sanitised with a CRC suffix (of the id, too)
        return [{**a, "name": re.sub(r"^run-RUNID-mediatab-[A-Za-z0-9_-]{6}$", "TABLE", a["name"])}
                for a in arts]

    assert named(artifacts(kit)) == named(artifacts(raw))
    assert [a["name"] for a in named(artifacts(kit))] == ["TABLE", "model-ckpt"]

    # media: the files records name the same files, with the same bytes
    def media_files(records: list[dict[str, Any]]) -> list[str]:
        return sorted(f["path"] for r in _by_type(records, "files") for f in r["files"]
                      if f.get("type") != "WANDB")

    assert media_files(kit) == media_files(raw)
    assert len(media_files(kit)) == 4  # image, table, audio, video

    def media_shas(run_dir: Path) -> list[str]:
        return sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (run_dir / "files" / "media").rglob("*") if p.is_file())

    assert media_shas(kit_dir) == media_shas(raw_dir)

    # wandb's sync sees a run to upload
    out = subprocess.run([str(Path(sys.executable).parent / "wandb"), "sync", "--dry-run",
                          str(kit_dir)], capture_output=True, text=True, timeout=120)
    assert "Would sync 1 run" in out.stdout + out.stderr, out.stdout + out.stderr
    assert f"run-{kit_id}.wandb" in out.stdout + out.stderr
