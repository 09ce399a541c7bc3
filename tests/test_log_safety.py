"""Bad keys and values in ``run.log``: refused at log time or dropped alone, never the batch.

Each test logs through the public API into both real sinks (wandb offline through the writer,
the SQLite store) and reads back what each one kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from wandb_records import history_items

import wandbkit
from wandbkit.convert import Converter, DeviceValue, read_group, transfer_dtype
from wandbkit.errors import UserError
from wandbkit.sinks.wandb_files import media_stem
from wandbkit.store import Store


def _image() -> wandbkit.Image:
    return wandbkit.Image(np.zeros((4, 4, 3), np.uint8))


def _store_rows(run_id: str) -> list[tuple[int, dict[str, object]]]:
    return list(Store.open(readonly=True).rows(run_id))


def _wandb_rows(run: wandbkit.Run) -> list[dict[str, object]]:
    """The W&B run file's history rows as wandb's reader decodes them (a media value's fields
    appear as ``key._type``, ``key.path``...)."""
    return history_items(run.wandb["dir"])


def test_keys_wandb_refuses_are_dropped_alone_with_one_line_each(
        offline_env: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with wandbkit.init(project="p", mode="offline") as run:
        for step in range(7):
            run.log({1: 2.0, (1, 2): 3.0, "ok": float(step), "": 4.0, "_step": 9,
                     "a/b": 1, "a": {"b": 2}})
    err = capfd.readouterr().err
    assert err.count("key 1 dropped: keys must be strings") == 1
    assert err.count("key (1, 2) dropped: keys must be strings") == 1
    assert err.count("key '' dropped: keys must not be empty") == 1
    assert err.count("key '_step' dropped: '_step' is reserved") == 1
    assert err.count("key 'a/b' dropped: the key is given twice") == 1
    stored = _store_rows(run.id)
    assert [values for _, values in stored] == [{"ok": float(s), "a/b": 1} for s in range(7)]
    wandb_rows = _wandb_rows(run)
    assert len(wandb_rows) == 7
    assert [(r["_step"], r["ok"], r["a/b"]) for r in wandb_rows] == [(i, i, 1) for i in range(7)]
    assert not any("" in r or "1" in r for r in wandb_rows)


def test_long_unicode_and_dotted_keys_are_kept_as_wandb_keeps_them(offline_env: Path) -> None:
    keys = ["k" * 300, "é/ü/日本", "..", "a/../b", "nul\x00byte"]
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({key: float(i) for i, key in enumerate(keys)})
    assert _store_rows(run.id) == [(0, {key: float(i) for i, key in enumerate(keys)})]
    (row,) = _wandb_rows(run)
    assert {k: row.get(k) for k in keys} == {key: i for i, key in enumerate(keys)}


def test_log_of_something_not_a_dict_is_a_user_error(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="disabled") as run, \
            pytest.raises(UserError, match="log\\(\\) takes a dict"):
        run.log([("loss", 1.0)])  # type: ignore[arg-type]


def test_a_media_key_too_long_for_a_file_name_loses_nothing_else(offline_env: Path) -> None:
    long_key = "x" * 260
    with wandbkit.init(project="p", mode="offline") as run:
        for step in range(7):
            run.log({long_key: _image(), "loss": float(step), "img": _image()})
    report = {s.name: s for s in run.report.sinks}  # type: ignore[union-attr]
    assert report["wandb"].rows_delivered == 7 and report["store"].rows_delivered == 7
    assert [v for _, v in _store_rows(run.id)] == [{"loss": float(s)} for s in range(7)]
    media = Store.open(readonly=True).media(run.id)
    assert sorted({m["key"] for m in media}) == sorted({long_key, "img"})
    assert len(media) == 14 and all(Path(m["path"]).is_file() for m in media)
    rows = _wandb_rows(run)
    assert len(rows) == 7 and all(f"{long_key}._type" in r and "img._type" in r for r in rows)
    files = [p for p in Path(run.wandb["dir"], "files", "media").rglob("*.png")]
    assert len(files) == 14 and all(len(p.name.encode()) < 255 for p in files)


def test_a_value_that_fails_in_a_sink_is_dropped_alone(offline_env: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    """An image of seven channels passes ``Image()`` but no PNG mode takes it: it fails in PIL
    inside both sinks, as a full disk or any other per-value error would."""
    bad = wandbkit.Image(np.zeros((5, 5, 7), np.uint8))
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"bad": bad, "loss": 1.0, "img": _image()})
        run.log({"loss": 2.0, "img": _image()})
    err = capfd.readouterr().err
    assert err.count("sink store: value 'bad' at step 0 dropped") == 1
    assert err.count("sink wandb: value 'bad' at step 0 dropped") == 1
    assert [v for _, v in _store_rows(run.id)] == [{"loss": 1.0}, {"loss": 2.0}]
    assert [m["key"] for m in Store.open(readonly=True).media(run.id)] == ["img", "img"]
    rows = _wandb_rows(run)
    assert [("img._type" in r, "bad._type" in r, r["loss"]) for r in rows] == [
        (True, False, 1), (True, False, 2)]


def test_one_unreadable_value_keeps_the_rest_of_the_batch(offline_env: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    with wandbkit.init(project="p", mode="offline", flush_interval=60) as run:
        run.log({"img": _image(), "hist": np.arange(10.0), "loss": 1.0})
        run.log({"bad": np.array(["a", "b"]), "img": _image(), "loss": 2.0})
        run.log({"img": _image(), "loss": 3.0, "n": np.int64(3)})
    assert capfd.readouterr().err.count("value 'bad' at step 1 dropped") == 1
    media = Store.open(readonly=True).media(run.id)
    assert sorted((m["step"], m["key"]) for m in media) == [(0, "hist"), (0, "img"), (1, "img"),
                                                            (2, "img")]
    assert [v for _, v in _store_rows(run.id)] == [{"loss": 1.0}, {"loss": 2.0},
                                                   {"loss": 3.0, "n": 3}]
    report = {s.name: s for s in run.report.sinks}  # type: ignore[union-attr]
    assert report["store"].rows_delivered == 3 and report["store"].rows_missed == 0


def test_a_device_value_that_cannot_be_read_is_dropped_alone(capfd: pytest.CaptureFixture[str]
                                                             ) -> None:
    torch = pytest.importorskip("torch")
    meta = torch.empty(3, device="meta")  # a tensor whose values cannot be copied out
    raw = [(4, 0.0, {"meta": DeviceValue(meta, meta._version), "img": _image(), "x": 1.0,
                     "arr": np.arange(4.0)})]
    (row,) = Converter().convert(raw)
    assert set(row.values) == {"img", "x", "arr"}
    assert capfd.readouterr().err.count("value 'meta' at step 4 dropped") == 1


@pytest.mark.parametrize("key, stem", [
    ("../../../../name", "__/__/__/__/name"), ("/abs/x", "abs/x"), ("./a", "_/a"),
    ("a/b", "a/b"), ("nul\x00", "nul%00")])
def test_media_keys_map_to_paths_inside_media_as_wandb_maps_them(key: str, stem: str) -> None:
    assert media_stem(key) == stem


def test_a_climbing_media_key_stays_inside_the_run_folder(offline_env: Path) -> None:
    before = set(os.listdir(offline_env.parent))
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"../../../../name": _image(), "loss": 1.0})
    assert set(os.listdir(offline_env.parent)) == before
    media = Path(run.wandb["dir"], "files", "media")
    (png,) = [p for p in Path(run.wandb["dir"]).rglob("*.png")]
    assert png.relative_to(media).parts[:5] == ("images", "__", "__", "__", "__")
    assert png.name.startswith("name_0_")
    (stored,) = Store.open(readonly=True).media(run.id)
    assert Path(stored["path"]).parent == offline_env / "media" / run.id


def test_store_media_names_never_collide(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="disabled") as run:
        run.log({"a/b": _image(), "a__b": _image()}, step=3)
        run.log({"a/b": _image()}, step=3)  # the same key twice at one step
    media = Store.open(readonly=True).media(run.id)
    assert len(media) == 3 and len({m["path"] for m in media}) == 3
    assert all(Path(m["path"]).is_file() for m in media)


def test_devices_without_float64_transfer_in_float32_and_int64() -> None:
    torch = pytest.importorskip("torch")
    assert transfer_dtype(torch.tensor(1.0)) == torch.float64
    # No MPS here: objects with an MPS device and a dtype kind stand for its tensors.
    mps_like = type("T", (), {"device": torch.device("mps"), "is_floating_point": lambda s: True,
                              "is_complex": lambda s: False})()
    assert transfer_dtype(mps_like) == torch.float32
    mps_int = type("T", (), {"device": torch.device("mps"), "is_floating_point": lambda s: False,
                             "is_complex": lambda s: False})()
    assert transfer_dtype(mps_int) == torch.int64
    # The path such a device's values take, on CPU tensors: joined in float32 / int64 on the
    # device, widened on the host; integers beyond float32's 24 bits stay exact.
    host = read_group([torch.tensor(0.25), torch.tensor([1.5, 2.5])], torch.device("cpu"),
                      torch.float32)
    assert host.dtype == torch.float64 and host.tolist() == [0.25, 1.5, 2.5]
    big = 2 ** 40 + 1
    host = read_group([torch.tensor(big), torch.tensor(True)], torch.device("cpu"), torch.int64)
    assert host.dtype == torch.float64 and host.tolist() == [float(big), 1.0]
