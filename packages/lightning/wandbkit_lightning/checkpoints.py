"""``ModelCheckpoint`` files as wandbkit checkpoint versions, through core's checkpoint hook.

Lightning writes each ``.ckpt`` itself; the logger asks the installed checkpoint plugin
(``wandbkit-artifacts``) to register that file *in place* (``CheckpointRequest.files``: a hard
link, nothing written twice) as ``model.ckpt`` of a version, with ``latest``, ``step-N``,
``best`` (the callback's ``best_model_path``) and the monitored score in its metrics. One version
per step: ``last.ckpt`` written at the same step as a top-k file is the same weights and is not
registered again. No checkpoint plugin installed: a one-line notice, and training goes on.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from wandbkit.checkpointing import load_checkpoint, save_checkpoint
from wandbkit.errors import UserError

FILE_NAME = "model.ckpt"  # the file's name inside a version, as WandbLogger names it in W&B


def _notice(message: str) -> None:
    print(f"wandbkit-lightning: {message}", file=sys.stderr, flush=True)


def resolve(ref: str, fallback: bool = False) -> str:
    """The local ``.ckpt`` file of a wandbkit checkpoint reference, for Lightning's ``ckpt_path``.

    >>> trainer.fit(model, ckpt_path=resolve("my-model:best"), weights_only=True)  # doctest: +SKIP

    :param ref: ``NAME:best``, ``NAME:latest``, ``NAME:step-N``, ``NAME:vN`` or a version folder.
    :param fallback: when the version fails verification, take the newest older one that passes.
    :raises wandbkit.errors.UserError: when nothing matches (the message lists what exists), the
        version holds no ``.ckpt`` file, or no checkpoint plugin is installed.
    """
    result = load_checkpoint(ref, resolve_only=True, fallback=fallback)
    path = getattr(result, "path", None)
    if path is None:
        raise TypeError(f"the checkpoint plugin that answered for {ref!r} returned no path")
    folder = Path(path)
    if (folder / FILE_NAME).is_file():
        return str(folder / FILE_NAME)
    found = sorted(folder.glob("*.ckpt"))
    if len(found) != 1:
        raise UserError(f"{ref}: the version at {folder} holds {len(found)} .ckpt files, not one "
                        "(it was not registered by WandbkitLogger)")
    return str(found[0])


def keep_last(callback: Any) -> int | None:
    """How many versions to keep for ``callback``: its ``save_top_k`` (all for -1; one for 0,
    which keeps only ``last.ckpt``). ``best`` is always kept besides."""
    k = int(getattr(callback, "save_top_k", -1))
    return None if k < 0 else max(k, 1)


def _step_in_file(path: str) -> int:
    """``global_step`` of a Lightning checkpoint (read with ``weights_only=True``)."""
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


def _score(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None


def _may_be_rewritten_in_place(path: str) -> bool:
    """Whether Lightning's next save of this file's name could write into the file's own inode.

    Lightning saves through fsspec: a temp file in ``tempfile.gettempdir()``, then
    ``shutil.move`` onto the name. On the same file system that is a rename (a new inode: the
    version's hard link keeps the old bytes); across file systems (``/tmp`` on tmpfs) it copies
    *into* the existing file, which would change the version too. Names do repeat: ``last.ckpt``,
    and a top-k file whose name has no step in it (``filename="best"``).
    """
    try:
        return os.stat(tempfile.gettempdir()).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return True


class CheckpointVersions:
    """Registers the files ``ModelCheckpoint`` callbacks write, for one logger.

    :param log_model: ``True``: at the end of training, the checkpoints the callback kept (at
        once when it keeps all, ``save_top_k=-1``); ``"all"``: each checkpoint when it is written.
    :param name: the version name (``NAME:best``).
    """

    def __init__(self, log_model: bool | str, name: str | None) -> None:
        self.log_model = log_model
        self.name = name
        self.enabled = True
        self._steps: dict[str, int] = {}  # checkpoint path -> the global step it was saved at
        self._logged: dict[str, float] = {}  # path -> mtime already looked at
        self._steps_done: set[int] = set()
        self._waiting: dict[int, Any] = {}  # log_model=True: callbacks to scan at the end

    def saved(self, callback: Any, run: Any) -> None:
        """``after_save_checkpoint``: remember the step of the file just written; register it
        now (``"all"``, or ``True`` with ``save_top_k=-1``) or at :meth:`finish`."""
        from lightning.pytorch.loggers.utilities import _scan_checkpoints

        path = getattr(callback, "_last_checkpoint_saved", None)
        step = getattr(callback, "_last_global_step_saved", None)
        if not path or step is None:  # a Lightning without them: the newest file is the new one
            found = _scan_checkpoints(callback, {})
            if not found:
                return
            path = found[-1][1]
            step = _step_in_file(path)
        self._steps[str(path)] = int(step)
        if self.log_model == "all" or int(getattr(callback, "save_top_k", 1)) == -1:
            self.register_new(callback, run, keep=keep_last(callback))
        else:
            self._waiting[id(callback)] = callback

    def finish(self, run: Any) -> None:
        """End of training (``log_model=True``): register what the callbacks kept."""
        for callback in self._waiting.values():
            self.register_new(callback, run, keep=None)
        self._waiting.clear()

    def register_new(self, callback: Any, run: Any, keep: int | None) -> None:
        """Register, oldest first, the checkpoints of ``callback`` written during this training
        and not registered yet (so the best file of a run resumed from is not listed twice)."""
        from lightning.pytorch.loggers.utilities import _scan_checkpoints

        for mtime, path, score, _tag in _scan_checkpoints(callback, self._logged):
            step = self._steps.get(path)
            if step is None or not self.enabled:
                continue
            self._logged[path] = mtime
            if step in self._steps_done:
                continue  # last.ckpt of a step whose top-k file is a version already
            self._register(callback, run, path, step, score, keep)

    def _register(self, callback: Any, run: Any, path: str, step: int, score: Any,
                  keep: int | None) -> None:
        aliases = ["best"] if path == getattr(callback, "best_model_path", None) else []
        monitor = getattr(callback, "monitor", None)
        value = _score(score)
        metrics = {str(monitor): value} if monitor and value is not None else {}
        source, temp = os.path.realpath(path), None  # save_last="link" writes a symlink
        try:
            if _may_be_rewritten_in_place(source):
                temp = os.path.join(os.path.dirname(source), f".wandbkit-{uuid.uuid4().hex[:8]}.ckpt")
                shutil.copyfile(source, temp)
                source = temp
            save_checkpoint(step, files={FILE_NAME: source}, metrics=metrics, aliases=aliases,
                            name=self.name or f"model-{run.id}", run=run, force=True,
                            keep_last=keep)
            self._steps_done.add(step)
        except UserError as exc:
            _notice(f"checkpoints are not registered: {exc}")
            self.enabled = False
        except Exception as exc:  # a failing checkpoint plugin must not stop training
            _notice(f"registering {Path(path).name} (step {step}) failed: "
                    f"{type(exc).__name__}: {exc}")
        finally:
            if temp is not None and os.path.exists(temp):
                os.unlink(temp)  # the version holds its own link to the copy
