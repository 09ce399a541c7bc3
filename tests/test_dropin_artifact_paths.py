"""``wandb.Artifact`` entry names and artifact names never reach outside the artifact's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import wandbkit as wandb
from wandbkit.dropin_artifacts import _from_wandb
from wandbkit.errors import UserError


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("how, name", [
    (how, name) for how in ("add_file", "new_file", "add_dir")
    for name in ("../../../../x", "/etc/x", "a/../../x", "..")
] + [("add_file", ""), ("new_file", "")])
def test_entry_names_that_climb_out_are_refused(offline_env: Path, tmp_path: Path, how: str,
                                                name: str) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.txt").write_text("x")
    before = _listing(tmp_path.parent)
    wandb.init(project="p", mode="disabled")
    art = wandb.Artifact("data", type="dataset")
    with pytest.raises(UserError, match="Artifact data entry"):
        if how == "add_file":
            art.add_file(source / "f.txt", name=name)
        elif how == "add_dir":
            art.add_dir(source, name=name)
        else:
            with art.new_file(name) as f:
                f.write("x")
    wandb.finish()
    after = _listing(tmp_path.parent)
    outside = {p for p in after - before if not p.startswith(f"{tmp_path.name}/")}
    assert outside == set()


def test_nested_entry_names_stay_inside_the_version_folder(offline_env: Path,
                                                           tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.txt").write_text("x")
    wandb.init(project="p", mode="disabled")
    art = wandb.Artifact("data", type="dataset")
    art.add_file(source / "f.txt", name="sub/./deeper/f.txt")
    with art.new_file("notes/readme.md") as f:
        f.write("hi")
    art.add_dir(source, name="copy")
    logged = wandb.log_artifact(art)
    wandb.finish()
    folder = Path(logged.download())
    assert folder == offline_env / "artifacts" / "data" / "v0"
    assert (folder / "sub/deeper/f.txt").read_text() == "x"
    assert (folder / "notes/readme.md").read_text() == "hi"
    assert (folder / "copy/f.txt").read_text() == "x"
    with pytest.raises(UserError, match="entry"):
        logged.get_path("../../../wandbkit.db")


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_dots_only_artifact_names_cannot_reach_another_artifacts_folder(
        offline_env: Path, tmp_path: Path, name: str) -> None:
    """``artifacts/./v0`` is the folder of an artifact named ``v0``: logging ``.`` would have
    cleared it as "left over by a failed attempt"."""
    (tmp_path / "f.txt").write_text("keep")
    wandb.init(project="p", mode="disabled")
    other = wandb.Artifact("v0", type="dataset")
    other.add_file(tmp_path / "f.txt")
    kept = Path(wandb.log_artifact(other).download())
    with pytest.raises(UserError, match="Artifact name"):
        wandb.Artifact(name, type="dataset")
    with pytest.raises(UserError, match="Artifact name"):
        wandb.log_artifact(tmp_path / "f.txt", name=name, type="dataset")
    wandb.finish()
    assert (kept / "f.txt").read_text() == "keep"


def test_a_wandb_failure_is_one_user_error(offline_env: Path) -> None:
    """The real SDK's refusal (no API key here, as on any offline machine) becomes one
    UserError naming it. The parameter named ``type`` used to shadow the builtin, so an
    exception without a message raised TypeError instead: the message now comes from
    ``wandbkit.formatting.first_line``, whose empty-message case test_shared_helpers covers."""
    with pytest.raises(UserError, match=r"W&B could not give it: No API key configured"):
        _from_wandb("team/p/data:v0", kind="dataset")
