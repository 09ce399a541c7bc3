"""``WandbkitLogger``: a Lightning logger that writes one wandbkit run, from rank 0 only.

A one-word switch from Lightning's ``WandbLogger``: the same constructor arguments, the same
``trainer/global_step`` x-axis, ``log_model``, ``log_image``/``log_table``/``log_text``,
``watch``. What differs: ``log_metrics`` only enqueues (the row is converted and written by
wandbkit's background flusher, to W&B and the local store), checkpoints become local versions
registered in place instead of uploads, and ``finalize`` ends the run with W&B's state
(``failed`` when training raised).
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning.fabric.utilities.logger import _add_prefix, _convert_params, _sanitize_callable_params
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

import wandbkit
from wandbkit.console import warn, warn_once
from wandbkit.errors import UserError
from wandbkit.media import Image, Table
from wandbkit_lightning.checkpoints import CheckpointVersions

STEP_KEY = "trainer/global_step"
# Lightning's finalize statuses -> how the run ends ("finished" comes from a SLURM requeue).
_STATES = {"success": "finished", "failed": "failed", "finished": "preempted"}


def plain_config(value: Any) -> Any:
    """Hyperparameters as JSON-friendly values: mappings and namespaces (at any depth) become
    dicts, sequences lists, 0-d tensors and numpy scalars numbers, anything else its ``str``."""
    if isinstance(value, Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return str(value)


class WandbkitLogger(Logger):
    """Log a Lightning ``Trainer`` through wandbkit (W&B offline or online, and the local store).

    >>> trainer = Trainer(logger=WandbkitLogger(project="mnist", log_model="all"),
    ...                   callbacks=[ModelCheckpoint(monitor="val/loss")])  # doctest: +SKIP

    :param name: the run's display name.
    :param save_dir: the local store root (default ``$WANDBKIT_DIR`` or ``./wandbkit-runs``);
        W&B's run folder goes under it (``save_dir/wandb/``), as ``WandbLogger`` puts it.
    :param version: the run id (same as ``id``).
    :param offline: W&B offline (``mode="offline"``); the default is wandbkit's ``auto``.
    :param dir: same as ``save_dir`` (``WandbLogger`` takes both).
    :param id: the run id; with it the run is continued when stored (``resume="allow"``, as
        ``WandbLogger`` does), so a restarted job with ``ckpt_path=`` keeps one run.
    :param project: the project (default ``$WANDB_PROJECT``, ``$WANDBKIT_PROJECT``, else
        ``lightning_logs``); also the logger's ``name``, which Lightning puts in the checkpoint
        folder (``<root>/<project>/<run id>/checkpoints``).
    :param log_model: ``False``; ``True``: at the end of training, the checkpoints each
        ``ModelCheckpoint`` kept become versions; ``"all"``: every checkpoint when it is
        written, keeping the newest ``save_top_k`` versions (plus ``best``).
    :param experiment: a wandbkit run to log into (default: the active run, else a new one).
    :param prefix: put before every metric key (``prefix-key``).
    :param checkpoint_name: the versions' name (default ``model-<run id>``); resume with
        ``ckpt_path=wandbkit_lightning.resolve(f"{checkpoint_name}:best")``.
    :param add_file_policy: accepted for ``WandbLogger``'s sake: versions are hard links to the
        files Lightning wrote (a copy only where Lightning could rewrite one in place).
    :param kwargs: passed to :func:`wandbkit.init` (``tags``, ``group``, ``config``, ``mode``,
        ``resume``, ``entity``, ``notes``, ...).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, name: str | None = None, save_dir: str | os.PathLike[str] | None = None,
                 version: str | None = None, offline: bool = False,
                 dir: str | os.PathLike[str] | None = None, id: str | None = None,
                 project: str | None = None, log_model: bool | str = False,
                 experiment: wandbkit.Run | None = None, prefix: str = "",
                 checkpoint_name: str | None = None, add_file_policy: str = "mutable",
                 **kwargs: Any) -> None:
        if log_model not in (False, True, "all"):
            raise UserError(f"WandbkitLogger(log_model={log_model!r}): use False, True or 'all'")
        super().__init__()
        root = save_dir if save_dir is not None else dir
        self._save_dir = os.fspath(root) if root is not None else None
        self._project = (project or os.environ.get("WANDB_PROJECT")
                         or os.environ.get("WANDBKIT_PROJECT") or "lightning_logs")
        self._name = name
        self._id = version or id
        self._prefix = prefix
        self._log_model = log_model
        self._checkpoint_name = checkpoint_name
        init: dict[str, Any] = {"project": self._project, "name": name, "dir": self._save_dir,
                                "id": self._id}
        if self._id is not None:
            init["resume"] = "allow"
        if offline:
            init["mode"] = "offline"
        init.update(kwargs)
        self._init = init
        self._experiment = experiment
        self._owns_run = False
        self._watches: list[Any] = []
        self._checkpoints = CheckpointVersions(log_model, checkpoint_name) if log_model else None

    def __getstate__(self) -> dict[str, Any]:
        # ddp_spawn pickles the logger into its workers: the run (threads, sinks) stays behind;
        # rank 0's worker continues it by id.
        state = self.__dict__.copy()
        if self._experiment is not None:
            state["_id"] = self._experiment.id
            state["_init"] = {**self._init, "id": self._experiment.id, "resume": "allow"}
        state["_experiment"] = None
        state["_owns_run"] = False
        state["_watches"] = []
        return state

    # --- the run ---------------------------------------------------------------------------

    @property
    @rank_zero_experiment
    def experiment(self) -> wandbkit.Run:
        """The wandbkit :class:`~wandbkit.Run`, started on first use on rank 0 (other ranks get
        Lightning's no-op experiment). Used after :meth:`finalize` (``trainer.test()`` after
        ``fit``), it continues the same run."""
        run = self._experiment
        if run is not None and run.report is None:
            return run
        if run is None and wandbkit.get_run() is not None:
            warn("a wandbkit run is already active: WandbkitLogger logs into it (finish it first "
                 "for a run of its own)")
            self._experiment, self._owns_run = wandbkit.get_run(), False
            return self._experiment
        init = dict(self._init)
        if run is not None:  # finished by finalize: continue it
            init.update(id=run.id, resume="allow")
        self._experiment = wandbkit.init(**init)
        self._owns_run = True
        self._id = self._experiment.id
        try:
            self._experiment.define_metric(STEP_KEY)
            self._experiment.define_metric("*", step_metric=STEP_KEY, step_sync=True)
        except Exception as exc:  # a sink that refuses: keep logging, plotted by step
            warn_once("lightning-define-metric", f"define_metric failed ({type(exc).__name__}: "
                      f"{exc}); plotting by step")
        return self._experiment

    @property
    def name(self) -> str:
        """The project (what ``WandbLogger.name`` returns; Lightning names checkpoint folders by it)."""
        return self._project

    @property
    def version(self) -> str | None:
        """The run id (the one given to the constructor until the run exists)."""
        return self._experiment.id if self._experiment is not None else self._id

    @property
    def save_dir(self) -> str | None:
        """The local store root given (None: wandbkit's default store)."""
        return self._save_dir

    @property
    def log_dir(self) -> str:
        """``<save_dir or cwd>/<project>/<run id>``: where Lightning's ``ModelCheckpoint`` puts
        its ``checkpoints/`` folder when it is given no ``dirpath``."""
        return os.path.join(self._save_dir or os.getcwd(), self.name, str(self.version))

    # --- logging -----------------------------------------------------------------------------

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any,
                        **kwargs: Any) -> None:
        """Put ``params`` (a dict, ``Namespace`` or ``save_hyperparameters()``'s ``hparams``,
        nested ones kept nested) in the run's config."""
        params = _sanitize_callable_params(_convert_params(params))
        self.experiment.config.update(plain_config(params))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log one row with ``trainer/global_step`` = ``step`` (its x-axis in W&B); returns at
        once (values, tensors included, are read by the background flusher)."""
        row = _add_prefix(dict(metrics), self._prefix, self.LOGGER_JOIN_CHAR)
        if step is not None:
            row[STEP_KEY] = step
        self.experiment.log(row)

    @rank_zero_only
    def log_image(self, key: str, images: list[Any], step: int | None = None,
                  **kwargs: Any) -> None:
        """Log images (tensors, numpy arrays, PIL images or file paths) as ``key`` (one image)
        or ``key/0``, ``key/1``, ...; ``caption=[...]`` gives one caption per image."""
        if not isinstance(images, list):
            raise UserError(f"log_image({key!r}): images must be a list, got {type(images).__name__}")
        for option, values in kwargs.items():
            if len(values) != len(images):
                raise UserError(f"log_image({key!r}): {len(images)} images but {len(values)} "
                                f"values for {option}")
        unsupported = sorted(set(kwargs) - {"caption"})
        if unsupported:
            warn_once(f"lightning-image:{','.join(unsupported)}",
                      f"log_image: {', '.join(unsupported)} not supported; logged without")
        captions = kwargs.get("caption") or [None] * len(images)
        pictures = [Image(img, caption=None if c is None else str(c))
                    for img, c in zip(images, captions, strict=True)]
        values = {key: pictures[0]} if len(pictures) == 1 else \
            {f"{key}/{i}": p for i, p in enumerate(pictures)}
        self.log_metrics(values, step)

    @rank_zero_only
    def log_table(self, key: str, columns: list[str] | None = None,
                  data: list[list[Any]] | None = None, dataframe: Any = None,
                  step: int | None = None) -> None:
        """Log a table, from ``columns`` and ``data`` or from a pandas ``dataframe``."""
        self.log_metrics({key: Table(columns=columns, data=data, dataframe=dataframe)}, step)

    @rank_zero_only
    def log_text(self, key: str, columns: list[str] | None = None,
                 data: list[list[str]] | None = None, dataframe: Any = None,
                 step: int | None = None) -> None:
        """Log text as a table (``WandbLogger``'s ``log_text``)."""
        self.log_table(key, columns, data, dataframe, step)

    @rank_zero_only
    def watch(self, model: Any, log: str | None = "gradients", log_freq: int = 100,
              log_graph: bool = True) -> None:
        """Watch ``model`` through the plugin that implements ``wandbkit_watch`` (wandbkit-torch):
        ``"gradients"``, ``"parameters"``, ``"all"`` histograms, or ``"norms"`` (fused gradient
        and weight norms with no device sync), every ``log_freq`` backward passes; they join the
        next logged row. ``log_graph`` is accepted; no graph is logged."""
        from wandbkit.plugins import get_plugin_manager

        if log not in (None, "gradients", "parameters", "all", "norms"):
            raise UserError(f"watch(log={log!r}): use 'gradients', 'parameters', 'all', 'norms' "
                            "or None")
        if log_freq < 1:
            raise UserError(f"watch(log_freq={log_freq}): must be at least 1")
        handle = get_plugin_manager().hook.wandbkit_watch(run=self.experiment, model=model,
                                                          log=log, log_freq=log_freq)
        if handle is None:
            warn_once("lightning-watch", "watch(): no installed plugin watches this model "
                      "(pip install wandbkit-torch); training goes on without it")
        else:
            self._watches.append(handle)

    # --- checkpoints and the end -------------------------------------------------------------

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Register the checkpoint ``ModelCheckpoint`` just wrote (``log_model``)."""
        if self._checkpoints is not None and rank_zero_only.rank == 0:
            self._checkpoints.saved(checkpoint_callback, self.experiment)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """End of ``fit``/``validate``/``test``: register the checkpoints kept (``log_model=True``,
        on success), stop watching, and finish the run with W&B's state: ``finished``,
        ``failed`` (training raised) or ``preempted`` (a SLURM requeue)."""
        run = self._experiment
        if run is None or run.report is not None:
            return
        if status == "success" and self._checkpoints is not None:
            self._checkpoints.finish(run)
        while self._watches:
            self._watches.pop().remove()
        if self._owns_run:
            state = _STATES.get(status, "failed")
            run.finish(exit_code=0 if state == "finished" else 1, state=state)
