"""Property test: hostile names and keys through the public API.

Run names, metric keys (also nested), media keys, artifact entry names and checkpoint names
made of ``..``, ``/``, 300 characters, unicode, the empty string and non-strings: nothing is
written outside the store (which holds W&B's run folder here), every good row reaches both
sinks (read back through :class:`Store` and the W&B run file), and each refused key is named
once on stderr. Examples are few and small, so this runs in seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wandb.proto import wandb_internal_pb2 as pb

import wandbkit
from wandbkit.errors import UserError
from wandbkit.paths import safe_relative_path
from wandbkit.sinks.wandb_logfile import read_records
from wandbkit.store import Store

HOSTILE = ["..", "../..", "/", ".", "", "../../../../x", "/etc/passwd", "a/../../b", "a//b",
           "x" * 300, "é/ü/日本語", "a\\b", "nul\x00", "\ud800", "_step", "ok", "a/b"]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
key = st.one_of(text, st.integers(-3, 3), st.tuples(st.integers(0, 2)), st.none(),
                st.sampled_from([1.5, b"bytes"]))
GOOD = "train/loss"  # every row carries it: the row must always arrive


def _accepted(k: Any) -> bool:
    """The rule, written independently of wandbkit: strings wandb takes that name something."""
    if not isinstance(k, str) or k in ("", "_step"):
        return False
    try:
        k.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _tree(root: Path, skip: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirnames[:] = []
            continue
        out.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    return out


def _wandb_history(run_dir: str) -> list[dict[str, Any]]:
    """The history rows of the run's ``.wandb`` file: {first key part: value JSON}."""
    (path,) = Path(run_dir).glob("run-*.wandb")
    rows = []
    for raw in read_records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or item.nested_key[0]: item.value_json
                         for item in record.history.item})
    return rows


@pytest.fixture()
def sandbox(tmp_path: Path) -> Path:
    base = tmp_path / "sandbox"
    base.mkdir()
    return base


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=text, keys=st.lists(key, max_size=5), nested=key, media_key=text, entry=text)
def test_hostile_names_stay_inside_and_good_rows_arrive(
        offline_env: Path, sandbox: Path, name: str, keys: list[Any], nested: Any,
        media_key: str, entry: str) -> None:
    root = Path(tempfile.mkdtemp(dir=sandbox))
    outside_before = _tree(sandbox.parent.parent, root)
    (root.parent / f"{root.name}.src").write_text("data")
    source = root.parent / f"{root.name}.src"

    row: dict[Any, Any] = {k: 1.0 for k in keys if k != GOOD}
    row["nest"] = {nested: 2.0}
    if media_key != GOOD:
        row[media_key] = wandbkit.Image(np.zeros((2, 2, 3), np.uint8))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        run = wandbkit.init(project="p", name=name, mode="offline", dir=root)
        for step in range(3):
            run.log({**row, GOOD: float(step)})
        art = wandbkit.Artifact("entries", type="dataset")
        try:
            art.add_file(source, name=entry)
            entry_ok = True
        except UserError:
            entry_ok = False
        if entry_ok:
            logged = wandbkit.log_artifact(art)
        report = run.finish(quiet=True)
    stderr = err.getvalue()

    # 1. Nothing outside the store (W&B's run folder is inside it).
    source.unlink()
    assert _tree(sandbox.parent.parent, root) == outside_before
    assert Path(run.wandb["dir"]).resolve().is_relative_to(root.resolve())

    # 2. Every good row in both sinks, with every accepted key.
    flat = {k: v for k, v in row.items() if k != "nest"}
    kept = {k for k in flat if _accepted(k)}
    nested_key = f"nest/{nested}" if _accepted(nested) or nested == "_step" else None
    if nested_key is not None and nested_key in kept:
        nested_key = None  # the same key twice in a row: the first value is kept
    scalars = {k for k in kept if not isinstance(flat[k], wandbkit.Image)}
    media = kept - scalars
    expected_scalars = scalars | ({nested_key} if nested_key else set()) | {GOOD}
    stored = list(Store.open(root, readonly=True).rows(run.id))
    assert [s for s, _ in stored] == [0, 1, 2]
    assert all(set(values) == expected_scalars for _, values in stored)
    assert [values[GOOD] for _, values in stored] == [0.0, 1.0, 2.0]
    assert {m["key"] for m in Store.open(root, readonly=True).media(run.id)} == media
    history = _wandb_history(run.wandb["dir"])
    assert len(history) == 3
    for step, items in enumerate(history):
        assert json.loads(items[GOOD]) == float(step)
        assert expected_scalars | media <= set(items)
    sinks = {s.name: s for s in report.sinks}
    assert sinks["store"].rows_delivered == 3 and sinks["wandb"].rows_delivered == 3

    # 3. Each refused key named once.
    refused = [k for k in flat if not _accepted(k)]
    for k in refused:
        shown = repr(k) if len(repr(k)) <= 80 else repr(k)[:60]
        assert stderr.count(f"log(): key {shown}") == 1, (k, stderr)

    # 4. Artifact entries: refused, or inside the version folder.
    try:
        safe = safe_relative_path(entry)
    except UserError:
        assert not entry_ok
    else:
        assert entry_ok
        assert (Path(logged.download()) / safe).read_text() == "data"


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.one_of(text, st.integers(0, 3)))
def test_hostile_checkpoint_names_are_refused_or_kept_inside_the_store(
        offline_env: Path, sandbox: Path, name: Any) -> None:
    pytest.importorskip("wandbkit_artifacts")
    torch = pytest.importorskip("torch")
    from wandbkit.checkpointing import load_checkpoint, save_checkpoint

    root = Path(tempfile.mkdtemp(dir=sandbox))
    outside_before = _tree(sandbox.parent.parent, root)
    model = torch.nn.Linear(2, 1)
    with contextlib.redirect_stderr(io.StringIO()):
        run = wandbkit.init(project="p", mode="disabled", dir=root)
        try:
            result = save_checkpoint(1, model=model, name=name, run=run, force=True)
            future = getattr(result, "future", None)
            if future is not None:
                future.result(timeout=120)
            saved = True
        except UserError:
            saved = False
        if saved:
            found = load_checkpoint(f"{name}:latest", resolve_only=True)
            assert Path(found.path).resolve().is_relative_to(root.resolve())
        run.finish(quiet=True)
    assert _tree(sandbox.parent.parent, root) == outside_before
