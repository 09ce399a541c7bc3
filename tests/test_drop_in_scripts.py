"""``import wandbkit as wandb``: wandb scripts in four common styles run unchanged but for that line.

Each script in ``tests/drop_in_scripts/`` is run twice in subprocesses, side by side: as
written (``import wandb``, the real SDK, offline) and with the import line swapped. Both W&B
offline run folders are read back with ``wandb leet inspect``; the history (keys, values,
steps), the config and the defined-metric summaries must be the same, and each script's own
expectations must hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.wandb_records import wandb_records
from wandbkit.store import Store

SCRIPTS = Path(__file__).parent / "drop_in_scripts"
REAL, KIT = "wandb", "wandbkit"


def _start(script: str, variant: str, tmp: Path, args: list[str], env_extra: dict[str, str]
           ) -> tuple[subprocess.Popen[str], Path]:
    source = (SCRIPTS / script).read_text()
    if variant == KIT:
        assert "\nimport wandb\n" in source
        source = source.replace("\nimport wandb\n", "\nimport wandbkit as wandb\n", 1)
    work = tmp / variant
    work.mkdir()
    (work / script).write_text(source)
    env = dict(os.environ)
    env.update({"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDBKIT_DIR": str(work / "store"),
                "WANDB_DIR": str(work), "WANDB_CACHE_DIR": str(work / "cache"),
                "WANDB_DATA_DIR": str(work / "data"),
                # core alone: outside plugins add nothing to these scripts' records, and some
                # take seconds to import
                "WANDBKIT_PLUGINS": "", **env_extra})
    if variant == KIT:
        env.pop("WANDB_DIR")  # wandbkit puts W&B's folder under its store, as it does by default
    proc = subprocess.Popen([sys.executable, script, *args], cwd=work, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, work


def run_both(script: str, tmp: Path, args: list[str] | None = None,
             env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the script with wandb and with wandbkit at once; what each W&B run folder holds."""
    started = {v: _start(script, v, tmp, args or [], env or {}) for v in (REAL, KIT)}
    out: dict[str, dict[str, Any]] = {}
    for variant, (proc, work) in started.items():
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{variant} {script} failed:\n{stdout}\n{stderr}"
        run_dirs = {p.resolve() for p in work.rglob("offline-run-*") if p.is_dir()}
        assert len(run_dirs) == 1, f"{variant}: expected one W&B run folder, got {run_dirs}"
        run_dir = run_dirs.pop()
        out[variant] = {**_read(run_dir), "stderr": stderr, "work": work, "run_dir": run_dir}
    return out


def _read(run_dir: Path) -> dict[str, Any]:
    records = wandb_records(run_dir)
    history = [{k: v for k, v in r["history"]["item"].items() if k == "_step" or not k.startswith("_")}
               for r in records if r.get("type") == "history"]
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    metrics = {}
    for r in records:
        if r.get("type") == "run":
            config.update(_config(r["run"].get("config")))
        elif r.get("type") == "config":
            config.update(_config(r["config"]))
        elif r.get("type") == "summary":
            summary.update(r["summary"].get("update", {}))
        elif r.get("type") == "metric":
            metrics[r["metric"]["name"]] = r["metric"]
    config.pop("_wandb", None)
    run = [r["run"] for r in records if r.get("type") == "run"][-1]  # the latest, as W&B shows
    return {"history": history, "config": config, "summary": summary, "metrics": metrics,
            "run": run}


def _config(record: Any) -> dict[str, Any]:
    """Config items as a dict, whichever form the inspector prints them in."""
    if not record:
        return {}
    if isinstance(record, dict) and "update" in record:
        items = record["update"]
        if isinstance(items, dict):  # the inspector prints values decoded
            return dict(items)
        return {i["key"]: json.loads(i["valueJson"]) for i in items}
    return dict(record)


def nested(summary: dict[str, Any], key: str) -> Any:
    """A summary value that is a dict, whether written whole (``value_json``) or as nested keys
    (``key.min``: the same summary on W&B's server)."""
    if key in summary:
        return summary[key]
    return {k[len(key) + 1:]: v for k, v in summary.items() if k.startswith(f"{key}.")}


def assert_same_history(both: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    real, kit = both[REAL]["history"], both[KIT]["history"]
    assert [sorted(r) for r in kit] == [sorted(r) for r in real]
    for k_row, r_row in zip(kit, real, strict=True):
        assert k_row == pytest.approx(r_row)
    return real


def test_nanogpt_style_script(tmp_path: Path) -> None:
    both = run_both("nanogpt_style.py", tmp_path)
    history = assert_same_history(both)
    assert [row["iter"] for row in history] == [0, 5, 10, 15, 20]
    assert [row["_step"] for row in history] == [0, 1, 2, 3, 4]
    assert set(history[0]) == {"_step", "iter", "train/loss", "val/loss", "lr", "mfu"}
    assert history[2]["train/loss"] == pytest.approx(4.0 / 11)
    for variant in (REAL, KIT):
        config = both[variant]["config"]
        assert config["learning_rate"] == 6e-4 and config["wandb_run_name"] == "gpt2-tiny"
        assert both[variant]["run"]["project"] == "owt"
    assert both[KIT]["config"] == both[REAL]["config"]
    assert both[KIT]["run"]["display_name"] == both[REAL]["run"]["display_name"] == "gpt2-tiny"
    # the local store has the same run: its name, config and history
    store = Store.open(both[KIT]["work"] / "store")
    (record,) = store.runs()
    assert (record.project, record.name, record.state) == ("owt", "gpt2-tiny", "finished")
    assert [v for _, v in store.history(record.id)["iter"]] == [0, 5, 10, 15, 20]


def test_argparse_style_script(tmp_path: Path) -> None:
    both = run_both("argparse_style.py", tmp_path, args=["--lr", "0.25", "--epochs", "4"])
    history = assert_same_history(both)
    # the config read back through wandb.config.lr drove the loop: w <- w - 0.25 * 2 (w - 1)
    w, expected = 3.0, []
    for _ in range(4):
        w -= 0.25 * 2 * (w - 1.0)
        expected.append(w)
    assert [row["w"] for row in history] == pytest.approx(expected)
    for variant in (REAL, KIT):
        config = both[variant]["config"]
        assert (config["lr"], config["epochs"], config["optimizer"]) == (0.25, 4, "sgd")
        assert both[variant]["summary"]["best_loss"] == pytest.approx(min(r["loss"] for r in history))
        assert both[variant]["run"]["tags"] == ["baseline"]
        assert both[variant]["run"]["job_type"] == "train"


def test_commit_false_script(tmp_path: Path) -> None:
    both = run_both("commit_false_style.py", tmp_path)
    history = assert_same_history(both)
    assert [row["_step"] for row in history] == [*range(8), 20, 22]
    assert set(history[1]) == {"_step", "train/loss", "train/grad_norm", "val/loss", "val/acc", "lr"}
    assert set(history[0]) == {"_step", "train/loss", "train/grad_norm", "lr"}
    assert history[8] == {"_step": 20, "eval/score": 1.5, "eval/extra": 2}
    assert history[9] == {"_step": 22, "late": 3, "last": 5}  # step 21 came too late
    for variant in (REAL, KIT):
        summary = both[variant]["summary"]
        assert nested(summary, "val/loss") == {"min": pytest.approx(0.4)}
        assert nested(summary, "val/acc") == {"max": pytest.approx(0.7), "mean": pytest.approx(0.4)}
        metrics = both[variant]["metrics"]
        assert metrics["val/loss"]["summary"] == {"min": True}
        assert metrics["val/acc"]["summary"] == {"max": True, "mean": True}
    # wandbkit says once that the late step was ignored
    assert both[KIT]["stderr"].count("log(step=21) is before the current step 22") == 1
    # the local store applies the same definitions, and `wandbkit show` lists them
    store = Store.open(both[KIT]["work"] / "store")
    (record,) = store.runs()
    assert record.summary["val/loss"] == {"min": pytest.approx(0.4)}
    shown = subprocess.run([str(Path(sys.executable).parent / "wandbkit"), "show", record.id],
                           env={**os.environ, "WANDBKIT_DIR": str(store.root), "WANDBKIT_PLUGINS": ""},
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "metric val/loss: summary min" in shown.stdout
    assert "metric val/acc: summary max,mean" in shown.stdout


def test_sweep_style_script(tmp_path: Path) -> None:
    # what a sweep agent hands the run: wandb's parameter file, named by the environment
    params = tmp_path / "sweep-params.yaml"
    params.write_text("wandb_version: 1\nlearning_rate:\n  value: 0.1\noptimizer:\n  value: sgd\n")
    both = run_both("sweep_style.py", tmp_path, env={"WANDB_SWEEP_PARAM_PATH": str(params)})
    history = assert_same_history(both)
    score, expected = 0.0, []
    for _ in range(5):
        score += 0.1 * 16 / 2  # the sweep's learning rate, the defaults' batch size and layers
        expected.append(1.0 / (1.0 + score) + 0.1)  # optimizer sgd from the sweep
    assert [row["val_loss"] for row in history] == pytest.approx(expected)
    for variant in (REAL, KIT):
        config = both[variant]["config"]
        assert (config["learning_rate"], config["optimizer"], config["batch_size"]) == (0.1, "sgd", 16)
        assert config["dropout"] == 0.0
    assert "config item 'learning_rate' was set by the sweep (ignored update)" in both[KIT]["stderr"]


def test_example_drop_in(tmp_path: Path) -> None:
    """examples/drop_in.py runs, and the store holds what it logged (watch histograms too)."""
    example = Path(__file__).parent.parent / "examples" / "drop_in.py"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDBKIT_DIR": str(tmp_path / "store"),
           "WANDBKIT_PLUGINS": "torch,artifacts"}
    done = subprocess.run([sys.executable, str(example), "--epochs", "3"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    store = Store.open(tmp_path / "store")
    (record,) = store.runs()
    assert (record.name, record.config["epochs"], record.state) == ("drop-in-demo", 3, "finished")
    history = store.history(record.id)
    assert len(history["train/loss"]) == 12 and len(history["val/loss"]) == 3
    assert record.summary["val/loss"] == {"min": min(v for _, v in history["val/loss"])}
    assert {m["key"] for m in store.media(record.id)} >= {"gradients/0.weight", "parameters/2.bias"}
    assert (tmp_path / "store" / "checkpoints" / "sine-model").is_dir()


_HASHED = (".path", ".sha256", ".size", ".artifact_path", "._latest_artifact_path")


def _media_types(row: dict[str, Any]) -> dict[str, Any]:
    """A history row without the fields of its media that hold content hashes (file names,
    digests, sizes): what is left is each media value's ``_type`` and shape."""
    return {k: v for k, v in row.items() if not k.endswith(_HASHED)}


def _table_file(both: dict[str, Any], variant: str, row: dict[str, Any], key: str) -> dict[str, Any]:
    return json.loads((Path(both[variant]["run_dir"]) / "files" / row[f"{key}.path"]).read_text())


def _same_media_records(both: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """wandbkit's W&B records hold the media as wandb's do: the same history shapes, the same
    eight chart settings, the same run-folder copy of the table with images."""
    real, kit = both[REAL]["history"], both[KIT]["history"]
    assert [_media_types(r) for r in kit] == [_media_types(r) for r in real]
    visualize = {k: v for k, v in both[REAL]["config"].items() if k.startswith("_wandb.visualize")}
    assert len(visualize) == 8
    assert {k: v for k, v in both[KIT]["config"].items() if k.startswith("_wandb.visualize")} == visualize
    samples_row = next(i for i, r in enumerate(real) if "samples._type" in r)
    assert (_table_file(both, KIT, kit[samples_row], "samples")
            == _table_file(both, REAL, real[samples_row], "samples"))
    return real, kit


def test_media_style_script(tmp_path: Path) -> None:
    both = run_both("media_style.py", tmp_path, env={"MPLBACKEND": "Agg"})
    real, kit = _same_media_records(both)
    types = {k[:-6]: v for row in real for k, v in row.items() if k.endswith("._type")}
    assert types["plotly"] == types["mpl_line"] == types["pyplot"] == "plotly-file"
    assert types["mpl_image"] == "image-file" and types["page"] == "html-file"
    assert types["charts/line_table"] == types["samples"] == "table-file"
    # the charts' tables hold the same rows as wandb's, and their settings the same config
    chart_row = next(i for i, r in enumerate(real) if "charts/line_table._type" in r)
    for key in [k[:-6] for k in real[chart_row] if k.endswith("_table._type")]:
        kit_table = _table_file(both, KIT, kit[chart_row], key)
        real_table = _table_file(both, REAL, real[chart_row], key)
        assert kit_table["columns"] == real_table["columns"], key
        assert kit_table["data"] == real_table["data"], key
    assert both[KIT]["run"]["display_name"] == both[REAL]["run"]["display_name"] == "media-run"
    # the local store keeps every one of them, with the files to show
    store = Store.open(both[KIT]["work"] / "store")
    (record,) = store.runs()
    kinds = {m["key"]: m["kind"] for m in store.media(record.id)}
    assert kinds["plotly"] == kinds["mpl_line"] == kinds["pyplot"] == "plotly"
    assert (kinds["mpl_image"], kinds["page"], kinds["samples"]) == ("image", "html", "table")
    assert {kinds[f"charts/{c}"] for c in ("line", "scatter", "bar", "hist", "series", "cm", "pr",
                                           "roc")} == {"chart"}
    samples = next(m for m in store.media(record.id) if m["key"] == "samples")
    cells = json.loads(Path(samples["path"]).read_text())["data"]
    assert [c[0]["_type"] for c in cells] == ["image-file"] * 3
    assert all((store.root / c[0]["path"]).is_file() for c in cells)
    assert store.history(record.id)["acc"] == [(real[-1]["_step"], 0.5)]


def test_media_style_script_through_the_sdk_worker(tmp_path: Path) -> None:
    """The same media through the wandb SDK in its worker process (the path online runs take):
    W&B's records hold what wandb writes, and the store keeps every value."""
    both = run_both("media_style.py", tmp_path, env={"MPLBACKEND": "Agg", "WANDBKIT_WANDB_WRITER": "sdk"})
    _same_media_records(both)
    assert "error" not in both[KIT]["stderr"].lower(), both[KIT]["stderr"]
    assert "wandb: 8/8 rows" in both[KIT]["stderr"] and "store: 8/8 rows" in both[KIT]["stderr"]
    store = Store.open(both[KIT]["work"] / "store")
    (record,) = store.runs()
    assert {m["key"] for m in store.media(record.id)} == {
        "plotly", "mpl_line", "mpl_image", "pyplot", "page", "samples",
        *(f"charts/{c}" for c in ("line", "scatter", "bar", "hist", "series", "cm", "pr", "roc"))}
