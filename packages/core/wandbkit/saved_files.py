"""``wandb.save``: which files a glob names and where they go in the run, by wandb's rules.

A relative glob keeps its folders below the working directory; ``base_path`` sets the folder
the kept structure starts from; an absolute glob without ``base_path`` keeps one folder level
(``/data/run123/*.txt`` becomes ``run123/a.txt``), as wandb does. The glob is expanded when
``save`` is called: files created later are not picked up. Policies: ``now`` (kept once, now),
``live`` (kept as it changes: copied again when the run ends), ``end`` (kept when the run ends).
"""

from __future__ import annotations

import glob as globlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from wandbkit.errors import UserError
from wandbkit.paths import safe_relative_path

POLICIES = ("live", "now", "end")


@dataclass
class SavedFiles:
    """Files a run keeps (``run.save``): ``(source, name in the run's files)`` and the policy."""

    files: list[tuple[str, str]] = field(default_factory=list)
    policy: str = "live"


def resolve_save(glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
                 policy: str = "live", glob: bool = True) -> SavedFiles:
    """The files ``wandb.save(glob_str, base_path, policy, glob)`` keeps, and their run names.

    :raises UserError: for an unknown policy, a cloud URL, or a glob outside ``base_path``.
    """
    if isinstance(glob_str, bytes):
        glob_str = glob_str.decode("utf-8")
    text = os.fspath(glob_str)
    if text.startswith(("gs://", "s3://")):
        raise UserError(f"save({text!r}): a cloud storage URL cannot be saved into a run")
    if policy not in POLICIES:
        raise UserError(f"save(policy={policy!r}): use one of {', '.join(POLICIES)}")
    pattern = PurePath(text)
    resolved = PurePath(os.path.abspath(pattern))
    if base_path is not None:
        base = PurePath(os.path.abspath(base_path))
    elif not pattern.is_absolute():
        base = PurePath(os.path.abspath("."))
    else:
        base = resolved.parent.parent  # wandb keeps one folder level of an absolute glob
    try:
        relative = resolved.relative_to(base)
    except ValueError:
        raise UserError(f"save({text!r}, base_path={os.fspath(base_path or base)!r}): the glob "
                        "is not inside base_path") from None
    if glob:
        matches = sorted(globlib.glob(str(base / relative)))
    else:
        matches = [str(base / relative)] if os.path.lexists(base / relative) else []
    saved = SavedFiles(policy=policy)
    for match in matches:
        path = Path(match)
        if not path.is_file():
            continue  # wandb saves files; a folder a glob matched is not one
        name = str(PurePath(os.path.abspath(path)).relative_to(base).as_posix())
        saved.files.append((str(path.absolute()), str(safe_relative_path(name, what="saved file"))))
    return saved


def copy_saved(saved: SavedFiles, dest_root: Path) -> list[Path]:
    """Copy each saved file under ``dest_root`` (its run name kept); returns the copies."""
    import shutil

    from wandbkit.paths import join_inside

    out = []
    for source, name in saved.files:
        target = join_inside(dest_root, name, what="saved file")
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            target.unlink()
        shutil.copy2(source, target)
        out.append(target)
    return out
