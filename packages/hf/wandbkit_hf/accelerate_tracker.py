"""``WandbkitTracker``: accelerate's ``Accelerator(log_with=...)`` through one wandbkit run.

A one-word switch from ``log_with="wandb"``: ``init_trackers(project, config=, init_kwargs=)``,
``accelerator.log(values, step=)``, images and tables as accelerate's W&B tracker has them, and
``end_training()`` finishes the run. The main process logs; every method is a no-op elsewhere
(``main_process_only``), so a script launched on N processes makes one run.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process

import wandbkit
from wandbkit.errors import UserError
from wandbkit.media import Image, Table

# ``init_trackers(init_kwargs={...})`` keys read by this tracker: its own name, and W&B's, so
# a script's ``{"wandb": {...}}`` keeps working after switching.
INIT_KWARGS_KEYS = ("wandb", "wandbkit")


def _init_trackers_call() -> tuple[str | None, dict[str, Any]]:
    """``project_name`` and this tracker's ``init_kwargs`` from the ``Accelerator.init_trackers``
    call that is starting it.

    accelerate hands a custom tracker neither (it is "already initialized"), yet scripts pass
    their project and W&B arguments there; ``start()`` is called from inside that method, so its
    arguments are a few frames up.
    """
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            break
        if frame.f_code.co_name == "init_trackers" and "project_name" in frame.f_locals:
            init_kwargs = frame.f_locals.get("init_kwargs") or {}
            options: dict[str, Any] = {}
            for key in INIT_KWARGS_KEYS:
                if isinstance(init_kwargs.get(key), Mapping):
                    options.update(init_kwargs[key])
            return frame.f_locals["project_name"], options
        frame = frame.f_back
    return None, {}


def _images(key: str, images: Any) -> dict[str, Image]:
    """``key`` for one image, ``key/0``, ``key/1``, ... for several."""
    if not isinstance(images, (list, tuple)):
        images = [images]
    pictures = [img if isinstance(img, Image) else Image(img) for img in images]
    if len(pictures) == 1:
        return {key: pictures[0]}
    return {f"{key}/{i}": p for i, p in enumerate(pictures)}


class WandbkitTracker(GeneralTracker):
    """An accelerate tracker that logs through wandbkit (W&B offline or online, and the store).

    >>> accelerator = Accelerator(log_with=WandbkitTracker())  # doctest: +SKIP
    >>> accelerator.init_trackers("my-project", config={"lr": 1e-3},
    ...                           init_kwargs={"wandb": {"name": "run-1"}})  # doctest: +SKIP

    :param project: the project (default: ``init_trackers``' ``project_name``).
    :param init_kwargs: passed to :func:`wandbkit.init` (``name``, ``tags``, ``group``,
        ``mode``, ``dir``, ``id``, ``resume``, ...); ``init_trackers(init_kwargs={"wandb": {...}})``
        (or ``{"wandbkit": {...}}``) adds to them.
    """

    name = "wandbkit"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, project: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self.project = project
        self.init_kwargs = init_kwargs
        self.run: wandbkit.Run | None = None
        self._owns_run = False

    @property
    def tracker(self) -> wandbkit.Run | None:
        """The wandbkit run (``accelerator.get_tracker("wandbkit", unwrap=True)``)."""
        return self.run

    @on_main_process
    def start(self) -> None:
        """Start the run (or join the active one), with ``init_trackers``' project and options."""
        project_name, options = _init_trackers_call()
        if wandbkit.get_run() is not None:
            self.run, self._owns_run = wandbkit.get_run(), False
            return
        kwargs = {**self.init_kwargs, **options}
        kwargs.setdefault("project", self.project or project_name)
        self.run = wandbkit.init(**kwargs)
        self._owns_run = True

    def _live(self, what: str) -> wandbkit.Run:
        if self.run is None:
            raise UserError(f"WandbkitTracker.{what}: no run yet; call "
                            "accelerator.init_trackers(project_name) first")
        return self.run

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        """Put ``values`` (``init_trackers(config=)``) in the run's config."""
        self._live("store_init_configuration").config.update(dict(values))

    @on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        """Log ``values`` at ``step`` (default: the next step); returns at once. ``commit`` is
        ``wandb.log``'s."""
        self._live("log").log(values, step=step, commit=kwargs.get("commit"))

    @on_main_process
    def log_images(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        """Log images: ``{key: [numpy array, PIL image, tensor or path, ...]}``."""
        row: dict[str, Any] = {}
        for key, images in values.items():
            row.update(_images(key, images))
        self.log(row, step=step, **kwargs)

    @on_main_process
    def log_table(self, table_name: str, columns: list[str] | None = None,
                  data: list[list[Any]] | None = None, dataframe: Any = None,
                  step: int | None = None, **kwargs: Any) -> None:
        """Log a table from ``columns`` and ``data``, or from a pandas ``dataframe``."""
        self.log({table_name: Table(columns=columns, data=data, dataframe=dataframe)}, step=step,
                 **kwargs)

    @on_main_process
    def finish(self) -> None:
        """``accelerator.end_training()``: finish the run (a run joined, not started, stays open)."""
        if self.run is not None and self._owns_run and self.run.report is None:
            self.run.finish()
        self._owns_run = False
