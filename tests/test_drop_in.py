"""The module-level wandb API of wandbkit, call by call (in-process, real sinks).

The whole-script, side-by-side comparison with the real wandb is in test_drop_in_scripts.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import wandbkit
import wandbkit as wandb
from tests.wandb_records import wandb_records
from wandbkit.errors import UserError
from wandbkit.plugins import reset_plugins
from wandbkit.store import Store


@pytest.fixture(autouse=True)
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The torch and artifacts plugins only: what these tests drive (the others are slow to load)."""
    monkeypatch.setenv("WANDBKIT_PLUGINS", "torch,artifacts")
    monkeypatch.setenv("WANDBKIT_QUIET", "1")
    reset_plugins()
    yield
    wandbkit.finish()
    reset_plugins()


def rows(run_id: str) -> list[tuple[int, dict]]:
    return list(Store.open().rows(run_id))


# --- init, run, config ------------------------------------------------------------------------


def test_run_is_none_before_init_and_after_finish(offline_env: Path) -> None:
    assert wandb.run is None
    with pytest.raises(UserError, match="init"):
        wandb.log({"x": 1})
    with pytest.raises(UserError, match="init"):
        _ = wandb.config.lr
    run = wandb.init(project="p", config={"lr": 0.1}, sinks=["store"])
    assert wandb.run is run and wandb.run.id == run.id
    assert wandb.config.lr == 0.1 and wandb.config["lr"] == 0.1 and "lr" in wandb.config
    wandb.finish(exit_code=3)
    assert wandb.run is None
    assert Store.open().get_run(run.id).exit_code == 3


def test_config_object(offline_env: Path) -> None:
    run = wandb.init(config={"lr": 0.1, "nested": {"a": 1}}, sinks=["store"])
    wandb.config.batch = 32
    wandb.config["epochs"] = 3
    wandb.config.update({"lr": 0.2}, allow_val_change=True)
    wandb.config.setdefaults({"lr": 9.0, "wd": 0.01})
    assert run.config.lr == 0.2 and run.config.wd == 0.01  # the run's own config, by attribute
    assert getattr(wandb.config, "missing", "default") == "default"
    assert wandb.config.as_dict() == {"lr": 0.2, "nested": {"a": 1}, "batch": 32, "epochs": 3,
                                      "wd": 0.01}
    wandb.finish()
    assert Store.open().get_run(run.id).config == {"lr": 0.2, "nested": {"a": 1}, "batch": 32,
                                                   "epochs": 3, "wd": 0.01}


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.5
    layers: int = 2


@pytest.mark.parametrize("kind", ["namespace", "dataclass", "yaml", "json-wandb-form"])
def test_config_sources(offline_env: Path, tmp_path: Path, kind: str) -> None:
    if kind == "namespace":
        config: object = argparse.Namespace(lr=0.5, layers=2)
    elif kind == "dataclass":
        config = TrainConfig()
    elif kind == "yaml":
        config = tmp_path / "c.yaml"
        config.write_text("lr: 0.5\nlayers: 2\n")
    else:
        config = str(tmp_path / "c.json")
        Path(config).write_text(json.dumps({"wandb_version": 1, "lr": {"value": 0.5, "desc": "x"},
                                            "layers": {"value": 2}}))
    wandb.init(config=config, sinks=["store"])
    assert wandb.config.as_dict() == {"lr": 0.5, "layers": 2}


def test_config_include_exclude_and_bad_files(offline_env: Path, tmp_path: Path) -> None:
    wandb.init(config={"a": 1, "b": 2, "c": 3}, config_exclude_keys=["b"], sinks=["store"])
    assert wandb.config.as_dict() == {"a": 1, "c": 3}
    wandb.init(config={"a": 1, "b": 2}, config_include_keys=["b"], sinks=["store"])
    assert wandb.config.as_dict() == {"b": 2}
    wandb.finish()
    with pytest.raises(UserError, match="does not exist"):
        wandb.init(config=str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1, 2\n")
    with pytest.raises(UserError, match=r"bad.yaml: not valid yaml"):
        wandb.init(config=bad)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(UserError, match="expected a mapping"):
        wandb.init(config=listed)


def test_wandb_only_arguments_give_one_line_notices(offline_env: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = wandb.init(project="p", entity="team", notes="n", job_type="train", magic=True,
                     anonymous="allow", settings=wandb.Settings(start_method="thread"),
                     mode="dryrun", reinit=True)
    again = wandb.init(reinit="return_previous")
    assert again is run
    assert run.settings.wandb_init == {"entity": "team", "notes": "n", "job_type": "train"}
    assert run.settings.wandb_mode == "offline"  # dryrun is wandb's old word for offline
    wandb.finish()
    err = capsys.readouterr().err
    assert err.count("wandb.init(magic=): not used by wandbkit; ignored") == 1
    assert err.count("wandb.init(anonymous=)") == 1
    assert "settings are not applied" in err and "start_method" in err


def test_unsupported_calls_say_so_and_return_none(offline_env: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    wandb.init(sinks=["store"])
    assert wandb.Object3D(None) is None
    assert wandb.Api() is None
    assert wandb.log_model("m.pt") is None
    assert wandb.save("*.pt") == []  # supported: nothing matched (test_drop_in_fidelity)
    assert wandb.login() is False  # offline: no prompt
    wandb.Object3D(None)  # once per call name
    err = capsys.readouterr().err
    assert err.count("wandb.Object3D(): not supported by wandbkit; ignored") == 1
    assert "wandb.Api(): not supported" in err and "save('*.pt'): no file matches" in err
    with pytest.raises(AttributeError):
        _ = wandbkit.no_such_thing


# --- log: W&B's step rules ----------------------------------------------------------------------


def test_module_log_follows_wandb_step_rules(offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = wandb.init(sinks=["store"])
    wandb.log({"a": 1}, commit=False)
    wandb.log({"b": 2})                     # step 0: a, b
    wandb.log({"c": 3})                     # step 1
    wandb.log({"d": 4}, step=5)             # held at 5
    wandb.log({"e": 5})                     # joins 5 and commits
    wandb.log({"f": 6}, step=7)             # held at 7
    wandb.log({"g": 7}, step=7)             # same step: joins
    wandb.log({"h": 8}, step=6)             # before the current step: ignored
    wandb.log({"i": 9}, step=8, commit=True)  # commits 7, then 8 at once
    wandb.log({"j": 10}, commit=False)      # step 9, committed by finish
    wandb.finish()
    assert rows(run.id) == [(0, {"a": 1, "b": 2}), (1, {"c": 3}), (5, {"d": 4, "e": 5}),
                            (7, {"f": 6, "g": 7}), (8, {"i": 9}), (9, {"j": 10})]
    assert "log(step=6) is before the current step 7" in capsys.readouterr().err
    wandb.init(sinks=["store"])
    with pytest.raises(UserError, match="takes a dict of values, got list"):
        wandb.log([1, 2])


def test_run_log_commit_false_keeps_wandbkit_steps(offline_env: Path) -> None:
    run = wandbkit.init(sinks=["store"])
    run.log({"a": 1}, step=3)               # wandbkit's rule: an explicit step commits at once
    run.log({"b": 2}, commit=False)
    run.log({"c": 3}, commit=False)
    run.log({"d": 4})
    run.log({"e": 5}, step=2)               # going back is kept (W&B's sink counts it)
    run.finish()
    assert rows(run.id) == [(3, {"a": 1}), (4, {"b": 2, "c": 3, "d": 4}), (2, {"e": 5})]


def test_summary_alert_and_define_metric_errors(offline_env: Path) -> None:
    run = wandb.init(sinks=["store"])
    wandb.summary["best"] = 0.5
    wandb.summary.note = "ok"
    wandb.alert("loss spike", "loss doubled", level=wandb.AlertLevel.ERROR)
    with pytest.raises(UserError, match="summary 'median' is not one of"):
        wandb.define_metric("loss", summary="median")
    with pytest.raises(UserError, match="goal"):
        wandb.define_metric("loss", goal="up")
    wandb.define_metric("val/*", summary="max", step_metric="epoch")
    for epoch, (acc, loss) in enumerate([(0.5, 3.0), (0.9, 2.0), (0.7, 2.5)]):
        wandb.log({"epoch": epoch, "val/acc": acc, "val/loss": loss})
    wandb.finish()
    store = Store.open()
    record = store.get_run(run.id)
    assert record.summary["best"] == 0.5 and record.summary["note"] == "ok"
    assert record.summary["val/acc"] == {"max": 0.9} and record.summary["val/loss"] == {"max": 3.0}
    assert record.summary["epoch"] == 2
    assert [(a["level"], a["title"]) for a in store.alerts(run.id)] == [("error", "loss spike")]


# --- media --------------------------------------------------------------------------------------


def _wav(path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 400)


def test_media_constructors_and_clear_errors(tmp_path: Path) -> None:
    audio = wandb.Audio(np.sin(np.linspace(0, 20, 800)), sample_rate=8000, caption="tone")
    with wave.open(io.BytesIO(audio.encoded)) as w:
        assert (w.getframerate(), w.getnframes(), w.getsampwidth()) == (8000, 800, 2)
    with pytest.raises(ValueError, match="sample_rate"):
        wandb.Audio(np.zeros(10))
    with pytest.raises(ValueError, match="moviepy"):
        wandb.Video(np.zeros((2, 3, 4, 4), dtype=np.uint8), format="mp4")
    with pytest.raises(ValueError, match="T x C x H x W"):
        wandb.Video(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="no file"):
        wandb.Video(str(tmp_path / "missing.mp4"))
    video = wandb.Video(np.random.default_rng(0).integers(0, 255, (3, 3, 8, 8), dtype=np.uint8))
    assert video.format == "gif" and video.encoded[:6] == b"GIF89a"
    (tmp_path / "img.png").write_bytes(_png())
    assert wandb.Image(str(tmp_path / "img.png")).pixels.shape == (4, 5, 3)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    assert wandb.Image(figure).pixels.shape == (50, 100, 3)
    plt.close(figure)
    table = wandb.Table(columns=["a", "b"])
    table.add_data(1, "x")
    with pytest.raises(ValueError, match="row 1 has 1 cells"):
        table.add_data(2)
    assert wandb.Histogram(np_histogram=([1, 2], [0.0, 1.0, 2.0])).to_dict()["counts"] == [1, 2]


def _png() -> bytes:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.fromarray(np.zeros((4, 5, 3), dtype=np.uint8)).save(out, format="png")
    return out.getvalue()


@pytest.mark.parametrize("writer", ["writer", "worker"])
def test_audio_video_and_define_metric_reach_store_and_wandb(
        offline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """Both W&B sinks: the transaction-log writer and the SDK worker (wandb.Audio/wandb.Video)."""
    if writer == "worker":
        monkeypatch.setenv("WANDBKIT_WANDB_WRITER", "worker")
    _wav(tmp_path / "clip.wav")
    run = wandb.init(project="media")
    # goal= too: wandb 0.31's own define_metric has no goal argument, the worker must not pass it
    wandb.define_metric("loss", summary="min", goal="minimize")
    wandb.log({"loss": 2.0})
    wandb.log({"loss": 1.0, "clip": wandb.Audio(tmp_path / "clip.wav", caption="c"),
               "tone": wandb.Audio(np.zeros(100), sample_rate=4000),
               "anim": wandb.Video(np.zeros((2, 1, 4, 4), dtype=np.uint8), fps=2)})
    wandb.log({"loss": 1.5})
    wandb.finish()
    assert run.report is not None and all(s.error is None for s in run.report.sinks), run.report
    store = Store.open()
    media = {m["key"]: m for m in store.media(run.id)}
    assert media["clip"]["kind"] == "audio" and media["anim"]["kind"] == "video"
    assert Path(media["clip"]["path"]).read_bytes() == (tmp_path / "clip.wav").read_bytes()
    assert media["tone"]["meta"]["sample_rate"] == 4000
    assert store.get_run(run.id).summary["loss"] == {"min": 1.0}
    run_dir = Path(store.get_run(run.id).wandb_dir)
    records = wandb_records(run_dir)
    logged = next(r["history"]["item"] for r in records
                  if r.get("type") == "history" and r["history"]["item"].get("_step") == 1)
    assert logged["clip._type"] == "audio-file" and logged["anim._type"] == "video-file"
    assert logged["clip.caption"] == "c"
    assert (run_dir / "files" / logged["clip.path"]).read_bytes() == (tmp_path / "clip.wav").read_bytes()
    assert (run_dir / "files" / logged["anim.path"]).read_bytes()[:6] == b"GIF89a"
    assert [r["metric"]["name"] for r in records if r.get("type") == "metric"] == ["loss"]


# --- watch --------------------------------------------------------------------------------------


def test_hook_watch(offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    run = wandb.init(sinks=["store"])
    wandb.watch(model, log="all", log_freq=2)
    for step in range(6):
        if step == 4:
            wandb.unwatch()
        model(torch.randn(8, 3)).pow(2).mean().backward()
        wandb.log({"loss": float(step)})
    wandb.watch(object())  # not a torch model: no plugin takes it
    wandb.finish()
    media = Store.open().media(run.id)
    steps = sorted({m["step"] for m in media})
    assert steps == [1, 3]  # every 2nd backward pass, until unwatch
    keys = {m["key"] for m in media if m["step"] == 1}
    assert keys == {f"{kind}/{name}" for kind in ("gradients", "parameters")
                    for name in ("0.weight", "0.bias", "2.weight", "2.bias")}
    grad = next(m for m in media if m["key"] == "gradients/0.weight" and m["step"] == 1)
    assert sum(grad["meta"]["counts"]) == 12  # every element of the 4x3 gradient
    assert [step for step, _ in rows(run.id)] == list(range(6))  # histograms joined the rows
    assert "no installed plugin watches this model" in capsys.readouterr().err


# --- artifacts ----------------------------------------------------------------------------------


def test_artifacts_logged_and_used_offline(offline_env: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n1,2\n")
    run = wandb.init(project="art")
    art = wandb.Artifact("dataset", type="dataset", metadata={"rows": 1})
    art.add_dir(data)
    with art.new_file("README.txt") as f:
        f.write("tiny")
    logged = wandb.log_artifact(art, aliases=["v-one"])
    assert logged.version == "v0"
    (data / "train.csv").write_text("x,y\n3,4\n")
    wandb.log_artifact(data, name="dataset", type="dataset")
    used = wandb.use_artifact("dataset:v-one")
    folder = Path(used.download())
    assert (folder / "train.csv").read_text() == "x,y\n1,2\n"
    assert (folder / "README.txt").read_text() == "tiny"
    latest = Path(wandb.use_artifact("me/art/dataset:latest").download())
    assert (latest / "train.csv").read_text() == "x,y\n3,4\n"
    assert wandb.use_artifact("dataset:v1").version == "v1"
    with pytest.raises(UserError, match=r"not in the local store .* \(artifacts there: dataset\)"):
        wandb.use_artifact("weights:latest", type="dataset")
    # a model goes to the checkpoint plugin, which versions it under its own name and aliases
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.safetensors").write_bytes(b"\x01" * 64)
    model = wandb.Artifact("net", type="model")
    model.add_dir(weights)
    wandb.log_artifact(model, aliases=["best"]).wait()  # the plugin saves in the background
    from wandbkit.checkpointing import load_checkpoint

    found = load_checkpoint("net:best", resolve_only=True)
    assert (Path(found.path) / "model.safetensors").read_bytes() == b"\x01" * 64
    wandb.finish()
    records = wandb_records(Path(Store.open().get_run(run.id).wandb_dir))
    arts = [r["artifact"] for r in records if r.get("type") == "artifact"
            and r["artifact"]["type"] == "dataset"]
    assert [a["name"] for a in arts] == ["dataset", "dataset"]


def test_run_object_has_wandbs_run_surface(offline_env: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = wandb.init(project="p", tags=["a"], group="g", entity="team", notes="n", job_type="eval",
                     sinks=["store"])
    assert (run.tags, run.group, run.entity, run.notes, run.job_type) == (("a",), "g", "team", "n",
                                                                          "eval")
    assert Path(run.dir).is_dir() and run.url is None and run.path == f"p/{run.id}"
    (tmp_path / "f.txt").write_text("x")
    art = wandb.Artifact("things", type="dataset")
    art.add_file(tmp_path / "f.txt")
    assert run.log_artifact(art).version == "v0"
    assert (Path(run.use_artifact("things:latest").download()) / "f.txt").read_text() == "x"
    run.alert("t", "x", level=wandb.AlertLevel.INFO)
    wandb.run.name = "renamed"  # wandb scripts do this; the store keeps it (test_drop_in_fidelity)
    assert run.name == "renamed"
    assert [Path(p).name for p in run.save("*.txt")] == ["f.txt"] and run.log_code() is None
    with pytest.raises(AttributeError):
        _ = run.no_such_attribute
    run.finish()
    err = capsys.readouterr().err
    assert "wandb.run.log_code(): not supported" in err and "set after init" not in err


def test_summary_reads_logged_values_from_the_store(offline_env: Path) -> None:
    wandb.init(sinks=["store"])
    wandb.define_metric("val/loss", summary="min")
    for loss in (3.0, 1.0, 2.0):
        wandb.log({"loss": loss, "val/loss": loss})
    assert wandb.summary["loss"] == 2.0  # the last value, as wandb's summary holds
    assert wandb.run.summary.loss == 2.0
    assert wandb.summary["val/loss"] == {"min": 1.0}
    wandb.summary["loss"] = 0.5
    assert wandb.summary["loss"] == 0.5
    with pytest.raises(KeyError):
        _ = wandb.summary["never_logged"]
    assert wandb.run.summary.get("never_logged") is None


def test_steps_may_be_numpy_or_tensor_integers(offline_env: Path) -> None:
    torch = pytest.importorskip("torch")
    run = wandb.init(sinks=["store"])
    wandb.log({"a": 1}, step=np.int64(2))
    run.log({"b": 2}, step=torch.tensor(3))
    wandb.finish()
    assert rows(run.id) == [(2, {"a": 1}), (3, {"b": 2})]
