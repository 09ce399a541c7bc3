"""Fetching versions that are not in the local index: from W&B (online only), then HF Hub.

Each fetcher returns the downloaded folder, or raises :class:`CheckpointError` with a one-line
reason that ends up in the "no checkpoint" message, so the user sees why each source failed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from wandbkit.formatting import first_line
from wandbkit_artifacts.errors import CheckpointError

HF_REPO_ENV = "WANDBKIT_CKPT_HF_REPO"


def wandb_offline_reason() -> str | None:
    """Why W&B cannot be queried right now, or None when it may be."""
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode in ("offline", "dryrun", "disabled"):
        return (f"W&B not queried: WANDB_MODE={mode} (downloading an artifact needs W&B online; "
                "wandb's use_artifact and Api fail offline)")
    try:
        from wandbkit.settings import is_logged_in
    except ImportError:
        is_logged_in = lambda: bool(os.environ.get("WANDB_API_KEY"))  # noqa: E731
    if not is_logged_in():
        return "W&B not queried: no API key (run `wandb login` or set WANDB_API_KEY)"
    return None


def _project() -> str | None:
    try:
        import wandbkit

        run = wandbkit.get_run()
    except (ImportError, AttributeError):
        run = None
    return getattr(run, "project", None) or os.environ.get("WANDB_PROJECT")


@contextlib.contextmanager
def wandb_dirs_under(root: Path) -> Iterator[None]:
    """wandb's folders (cache, staging data, artifacts) under the store root for the duration,
    as the W&B worker has them, except those the user set."""
    from wandbkit.settings import WANDB_DIRS

    added = [var for var in WANDB_DIRS if not os.environ.get(var)]
    for var in added:
        os.environ[var] = str(root / WANDB_DIRS[var]) if WANDB_DIRS[var] else str(root)
    try:
        yield
    finally:
        for var in added:
            os.environ.pop(var, None)


def fetch_wandb(name: str, alias: str, root: Path, hf_repo: str | None = None) -> Path | None:
    """Download ``name:alias`` (type ``model``) from W&B into ``root/checkpoints/.remote``.

    wandb's download cache goes under the store root too (``<root>/.wandb-cache``), unless
    ``$WANDB_CACHE_DIR`` is set: then wandb uses that folder, which stays the user's.
    """
    reason = wandb_offline_reason()
    if reason:
        raise CheckpointError(reason)
    import wandb

    project = _project()
    ref = f"{project}/{name}:{alias}" if project else f"{name}:{alias}"
    try:
        with wandb_dirs_under(root):
            art = wandb.Api().artifact(ref, type="model")
            dest = root / "checkpoints" / ".remote" / "wandb" / name / art.version
            art.download(root=str(dest))
    except Exception as exc:  # wandb raises CommError/ValueError/HTTP errors
        raise CheckpointError(f"W&B has no {ref}: {type(exc).__name__}: {first_line(exc)}") from None
    return dest


def fetch_hf(name: str, alias: str, root: Path, hf_repo: str | None = None) -> Path | None:
    """Download ``NAME/ALIAS/`` from the HF Hub repo ``hf_repo`` or $WANDBKIT_CKPT_HF_REPO."""
    repo = hf_repo or os.environ.get(HF_REPO_ENV)
    if not repo:
        raise CheckpointError(
            f"HF Hub fallback not configured (pass hf_repo= or set {HF_REPO_ENV})")
    if os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0", "false", "False"):
        raise CheckpointError(f"HF Hub repo {repo} not queried: HF_HUB_OFFLINE is set")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise CheckpointError(
            "HF Hub fallback needs `pip install wandbkit-artifacts[hub]`") from None
    dest = root / "checkpoints" / ".remote" / "hf" / repo.replace("/", "--")
    try:
        snapshot_download(repo_id=repo, allow_patterns=[f"{name}/{alias}/*"], local_dir=str(dest))
    except Exception as exc:  # network, auth, missing repo
        raise CheckpointError(f"HF Hub repo {repo}: {type(exc).__name__}: {first_line(exc)}") from None
    folder = dest / name / alias
    if not (folder / "manifest.json").is_file():
        raise CheckpointError(f"HF Hub repo {repo} has no {name}/{alias}/manifest.json")
    return folder


def pull(ref_path: Path, to: Path) -> Path:
    """Copy a version folder to ``to`` (created): its manifest and every file it lists, nested
    ones included (DeepSpeed's ``global_stepN/``); returns the destination folder.

    :raises CheckpointError: one line when ``to`` cannot be written, or when the manifest lists
        an entry that would land outside ``to``.
    """
    import shutil

    from wandbkit.errors import UserError
    from wandbkit.paths import join_inside
    from wandbkit_artifacts.layout import MANIFEST, read_manifest

    try:
        manifest = read_manifest(ref_path)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        to.mkdir(parents=True, exist_ok=True)
        for name in manifest["files"]:
            src = join_inside(ref_path, name, what=f"file entry of {ref_path / MANIFEST}")
            if not src.is_file():
                continue  # verification names it as missing
            dest = join_inside(to, name, what=f"file entry of {ref_path / MANIFEST}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        shutil.copy2(ref_path / MANIFEST, to / MANIFEST)
    except UserError as exc:
        raise CheckpointError(str(exc)) from None
    except OSError as exc:
        where = exc.filename or to
        raise CheckpointError(f"cannot write the copy to {to}: {exc.strerror or exc} "
                              f"({where})") from None
    return to


