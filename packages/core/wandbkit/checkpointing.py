"""Checkpoint save/load requests, dispatched to whichever plugin handles them.

Core does not write checkpoints itself: ``wandbkit-artifacts`` implements the two
``firstresult`` hooks. Integrations (HF, torch-manual) call :func:`save_checkpoint` and
:func:`load_checkpoint` so they work with any checkpoint plugin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wandbkit.errors import UserError

if TYPE_CHECKING:
    from wandbkit.run import Run


@dataclass
class CheckpointRequest:
    """Everything a checkpoint plugin needs to save one version."""

    step: int
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    scaler: Any = None
    extra: dict[str, Any] | None = None
    metrics: dict[str, float] | None = None
    name: str = "model"
    aliases: list[str] = field(default_factory=list)
    run: Run | None = None
    force: bool = False
    #: Files that already exist on disk (e.g. the folder a trainer just wrote) to register as
    #: this version *in place*: a folder (every file under it), or ``{name in the version:
    #: path}``. The plugin hard-links them into the version (a copy only where a link is
    #: impossible) instead of serialising ``model``/``optimizer``/... again; the files must
    #: not be modified afterwards. None (the default): write the objects given.
    files: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None = None
    #: Retention hint: keep the newest ``keep_last`` versions of ``name`` (versions holding
    #: ``latest``, ``best`` or a user alias are kept too). None leaves the plugin's policy.
    keep_last: int | None = None


@dataclass
class LoadRequest:
    """A reference to resolve (``NAME:ALIAS``, ``NAME:vN`` or a path) and what to restore into."""

    ref: str
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    scaler: Any = None
    map_location: str = "cpu"
    fallback: bool = False
    restore_rng: bool = True
    #: Only find (and verify) the version's local folder; load nothing and restore nothing.
    #: The result's ``path`` is the folder (e.g. for ``Trainer.train(resume_from_checkpoint=)``).
    resolve_only: bool = False


_NO_PLUGIN = ("no checkpoint plugin is installed: `pip install wandbkit-artifacts` "
              "(or a plugin implementing wandbkit_checkpoint_save/load)")


def save_checkpoint(step: int, model: Any = None, **kwargs: Any) -> Any:
    """Ask the installed checkpoint plugin to save; returns its result.

    Keyword arguments are the fields of :class:`CheckpointRequest`.
    """
    from wandbkit.plugins import get_plugin_manager

    result = get_plugin_manager().hook.wandbkit_checkpoint_save(
        request=CheckpointRequest(step=step, model=model, **kwargs))
    if result is None:
        raise UserError(_NO_PLUGIN)
    return result


def load_checkpoint(ref: str, model: Any = None, **kwargs: Any) -> Any:
    """Ask the installed checkpoint plugin to load ``ref``; returns its result.

    Keyword arguments are the fields of :class:`LoadRequest`.
    """
    from wandbkit.plugins import get_plugin_manager

    result = get_plugin_manager().hook.wandbkit_checkpoint_load(
        request=LoadRequest(ref=ref, model=model, **kwargs))
    if result is None:
        raise UserError(f"no plugin could load {ref!r}; " + _NO_PLUGIN)
    return result
