"""Plugin discovery without ``importlib.metadata``: the same entry points, a lighter first init."""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wandbkit.plugins import entry_points


def _as_metadata_gives(group: str) -> list[tuple[str, str, str, str]]:
    return [(ep.name, ep.value, ep.dist.name, ep.dist.version)  # type: ignore[union-attr]
            for ep in md.entry_points(group=group)]


@pytest.mark.parametrize("group", ["wandbkit", "console_scripts", "pytest11"])
def test_the_same_entry_points_in_the_same_order_as_importlib_metadata(group: str) -> None:
    found = [(ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in entry_points(group)]
    assert found == _as_metadata_gives(group)
    assert found or group != "wandbkit"


def _dist_info(root: Path, dist: str, version: str, entries: str) -> None:
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entries)


def test_folders_a_zip_and_an_egg_on_sys_path_first_one_wins(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _dist_info(first, "wandbkit-demo-ext", "1.0", "[console_scripts]\nx = y:z\n\n"
               "[wandbkit]\n# a comment\ndemo = demo_ext.plugin\nother = demo_ext.more:hooks [extra]\n")
    _dist_info(second, "wandbkit-demo-ext", "0.9", "[wandbkit]\ndemo = old_demo\n")  # shadowed
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_ext-2.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: zipped-ext\nVersion: 2.0\n")
        zf.writestr("zipped_ext-2.0.dist-info/entry_points.txt", "[wandbkit]\nzipped = zipped_ext\n")
    egg = tmp_path / "old_ext-3.0-py3.11.egg" / "EGG-INFO"  # an old-style egg folder
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old-ext\nVersion: 3.0\n")
    (egg / "entry_points.txt").write_text("[wandbkit]\nold = old_ext.plugin\n")
    for folder in (egg.parent, archive, second, first):
        monkeypatch.syspath_prepend(str(folder))
    found = [(ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in entry_points("wandbkit")]
    assert found[:4] == [("demo", "demo_ext.plugin", "wandbkit-demo-ext", "1.0"),
                         ("other", "demo_ext.more:hooks [extra]", "wandbkit-demo-ext", "1.0"),
                         ("zipped", "zipped_ext", "zipped-ext", "2.0"),
                         ("old", "old_ext.plugin", "old-ext", "3.0")]
    assert found == _as_metadata_gives("wandbkit")
    (tmp_path / "first" / "demo_ext").mkdir()
    (tmp_path / "first" / "demo_ext" / "__init__.py").write_text("")
    (tmp_path / "first" / "demo_ext" / "more.py").write_text("class hooks:\n    name = 'h'\n")
    assert entry_points("wandbkit")[1].load().name == "h"  # module:attr, extras ignored


def test_a_first_init_reads_no_package_metadata_and_skips_unused_modules(
        offline_env: Path) -> None:
    """What made the first ``wandbkit.init`` slow stays out of it: importlib.metadata (and the
    email parser it reads METADATA files with), the SDK worker module of online runs, the
    dashboard's panel classes; and no plugin entry module pulls in torch, gradio or optuna."""
    heavy = ["importlib.metadata", "email.parser", "wandbkit.sinks.wandb_sink", "wandbkit.panels",
             "torch", "transformers", "gradio", "optuna", "lightning"]
    code = ("import sys, wandbkit\n"
            "run = wandbkit.init(project='first', mode='offline')\n"
            f"print([m for m in {heavy!r} if m in sys.modules])\n"
            "run.finish()\n")
    env = {**os.environ, "WANDBKIT_QUIET": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
