"""wandb's module-level API on wandbkit: ``import wandbkit as wandb`` runs a wandb script as is.

Every call is backed by the active run (:func:`wandbkit.get_run`). What wandbkit implements
itself (``init``, ``log``, ``config``, ``summary``, ``define_metric``, media, ...) goes through
the run's queue to every sink; the W&B sink replays it on a real wandb run in its worker
process, so W&B shows what the script asked for. What wandbkit does not implement prints one
line (once per call name) and returns ``None``: a script never stops on a compatibility gap.
``docs/wandb-compat.md`` lists every call and how far it is supported.
"""

from __future__ import annotations

import enum
import inspect
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandbkit import lifecycle
from wandbkit.console import warn_once
from wandbkit.errors import UserError
from wandbkit.formatting import first_line
from wandbkit.report import RunReport
from wandbkit.run import Run, _config_dict
from wandbkit.run import init as run_init

# wandb.init arguments the W&B sink passes on to wandb.init as they are.
WANDB_INIT_PASSTHROUGH = ("entity", "notes", "job_type", "save_code")
# wandb.init arguments that only change how wandb itself runs: accepted with a notice.
_MODE_ALIASES = {None: "auto", "dryrun": "offline", "run": "online", "shared": "online"}


def notice(call: str, text: str) -> None:
    """One line, once per ``call``, for a wandb feature wandbkit does not (fully) implement."""
    warn_once(f"dropin:{call}", f"{call}: {text}")


def _require_run(call: str) -> Run:
    run = lifecycle.current()
    if run is None:
        raise UserError(f"You must call wandbkit.init() before {call}")
    return run


# --- init ----------------------------------------------------------------------------------


def init(project: str | None = None, name: str | None = None, config: Any = None,
         tags: Iterable[str] | None = None, group: str | None = None, mode: str | None = "auto",
         dir: str | os.PathLike[str] | None = None, *, entity: str | None = None,
         job_type: str | None = None, notes: str | None = None, id: str | None = None,
         resume: str | bool | None = None, reinit: bool | str | None = None,
         save_code: bool | None = None, settings: Any = None,
         config_exclude_keys: Iterable[str] | None = None,
         config_include_keys: Iterable[str] | None = None,
         allow_val_change: bool | None = None, **kwargs: Any) -> Run:
    """Start a run, with wandbkit's arguments or ``wandb.init``'s; returns the :class:`Run`.

    :param project: project name (default ``$WANDB_PROJECT``, ``$WANDBKIT_PROJECT``, else
        ``"wandbkit"``).
    :param name: display name (default ``$WANDB_NAME``).
    :param config: hyperparameters: a dict, an argparse namespace, a dataclass, or the path of
        a YAML or JSON file (wandb's ``{key: {value: v}}`` form too). Under a sweep agent
        (``$WANDB_SWEEP_PARAM_PATH``) the sweep's values replace these.
    :param tags: labels; :param group: groups runs; :param mode: ``auto``, ``online``,
        ``offline``, ``disabled`` (wandb's ``dryrun`` means offline).
    :param dir: the local store root; W&B's run folder goes under it (``dir/wandb/``), as
        wandb puts it.
    :param entity: W&B team or user; with ``notes``, ``job_type`` and ``save_code`` it is
        passed to ``wandb.init`` by the W&B sink (not kept in the local store).
    :param id: the run's id; :param resume: W&B's resume modes (see ``wandbkit.run.init``).
    :param reinit: ``"return_previous"`` (or ``False`` in a notebook) returns the active run;
        anything else finishes it first (wandbkit keeps one active run per process).
    :param settings: a ``wandb.Settings`` or dict: accepted, not applied (one-line notice).
    :param config_exclude_keys: keys of ``config`` to leave out; :param config_include_keys:
        the only keys of ``config`` to keep.
    :param kwargs: wandbkit's own arguments (``sinks``, ``queue_size``, ``flush_interval``);
        any other ``wandb.init`` argument gets a one-line notice and is ignored.
    """
    active = lifecycle.current()
    if active is not None and reinit in ("return_previous",):
        return active
    if reinit == "create_new" and active is not None:
        notice("wandb.init(reinit='create_new')", "wandbkit keeps one active run per process; "
               "the previous run is finished first")
    native = set(inspect.signature(run_init).parameters)  # sinks, queue_size, flush_interval
    passed: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in native:
            passed[key] = value
        elif value is not None:
            notice(f"wandb.init({key}=)", "not used by wandbkit; ignored")
    if settings is not None and _settings_items(settings):
        notice("wandb.init(settings=)", "wandb settings are not applied (wandbkit runs wandb in "
               f"its own worker): {', '.join(sorted(_settings_items(settings)))}")
    if allow_val_change is not None:
        notice("wandb.init(allow_val_change=)", "accepted: wandbkit always allows config values "
               "to change")
    extra = {"entity": entity or os.environ.get("WANDB_ENTITY"),
             "notes": notes or os.environ.get("WANDB_NOTES"),
             "job_type": job_type or os.environ.get("WANDB_JOB_TYPE"), "save_code": save_code}
    values = _load_config(config)
    if config_include_keys:
        values = {k: v for k, v in values.items() if k in set(config_include_keys)}
    if config_exclude_keys:
        values = {k: v for k, v in values.items() if k not in set(config_exclude_keys)}
    sweep = sweep_parameters()
    values.update(sweep)
    tag_env = os.environ.get("WANDB_TAGS")
    run = run_init(
        project=project or os.environ.get("WANDB_PROJECT") or None,
        name=name or os.environ.get("WANDB_NAME") or None, config=values,
        tags=tags if tags is not None else (tag_env.split(",") if tag_env else None),
        group=group or os.environ.get("WANDB_RUN_GROUP") or None,
        mode=_mode(mode), dir=dir, id=id, resume=resume,
        wandb_init={k: v for k, v in extra.items() if v is not None}, **passed)
    if sweep:
        run.config._locked = frozenset(sweep)  # the agent's values win over later updates
    return run


def _mode(mode: str | None) -> str:
    if mode in _MODE_ALIASES:
        if mode == "shared":
            notice("wandb.init(mode='shared')", "shared-mode runs are not supported; online")
        return _MODE_ALIASES[mode]
    return str(mode)


def _settings_items(settings: Any) -> dict[str, Any]:
    if isinstance(settings, dict):
        return {k: v for k, v in settings.items() if v is not None}
    if isinstance(settings, Settings):
        return dict(settings.values)
    fields = getattr(settings, "model_fields_set", None)  # a real wandb.Settings (pydantic)
    if fields is not None:
        return {k: getattr(settings, k, None) for k in fields}
    return {}


def _load_config(config: Any) -> dict[str, Any]:
    """A config from a dict, namespace, dataclass, or a YAML/JSON file path."""
    if isinstance(config, (str, os.PathLike)):
        return read_config_file(Path(config))
    return _config_dict(config)


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON config file; wandb's ``{key: {value: v, desc: ...}}`` form is
    unwrapped and its ``wandb_version``/``_wandb`` entries dropped.

    :raises UserError: when the file is missing or not a mapping of YAML/JSON.
    """
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError
        raise UserError(f"config file {path}: not valid {path.suffix.lstrip('.') or 'YAML'}: "
                        f"{first_line(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path}: expected a mapping of keys, got "
                        f"{type(data).__name__}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("wandb_version", "_wandb"):
            continue
        if isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        out[str(key)] = value
    return out


def sweep_parameters() -> dict[str, Any]:
    """The parameters a sweep agent chose for this run (``$WANDB_SWEEP_PARAM_PATH``, the file
    wandb's agent writes and ``wandb.init`` reads), or ``{}``."""
    path = os.environ.get("WANDB_SWEEP_PARAM_PATH")
    return read_config_file(Path(path)) if path else {}


# --- the hot path and run data ---------------------------------------------------------------


def log(data: dict[str, Any] | None = None, step: int | None = None, commit: bool | None = None,
        sync: bool | None = None) -> None:
    """``wandb.log``: record ``data`` with W&B's step rules.

    ``log()`` with no data is ``log({})``: it commits the values gathered with
    ``commit=False`` as one step (wandb 0.31 itself requires the argument and raises
    ``TypeError``; older wandb and its examples call it bare).

    Without ``step`` the values are committed as the next step. ``commit=False`` keeps them
    in the current step until a committing call. With ``step`` (and no ``commit``) they are
    held at that step until a later step or a commit, and a step before the current one is
    ignored with a notice, exactly as wandb does.
    """
    run = _require_run("wandbkit.log()")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"wandbkit.log() takes a dict of values, got {type(data).__name__}")
    if step is None and commit is None and run._pending is None:
        run.log(data)
    else:
        run._log_accumulating(data, step, commit, wandb_rules=True)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> RunReport | None:
    """``wandb.finish``: deliver everything, close the sinks; a no-op without an active run."""
    run = lifecycle.current()
    if run is None:
        return None
    return run.finish(exit_code=exit_code or 0, quiet=bool(quiet))


class AlertLevel(enum.StrEnum):
    """wandb's alert levels (``wandb.AlertLevel.WARN``)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def alert(title: str, text: str, level: str | AlertLevel | None = None,
          wait_duration: Any = None) -> None:
    """``wandb.alert``: printed now, kept in the store, sent to W&B when online."""
    name = level.value if isinstance(level, AlertLevel) else (level or "WARN")
    _require_run("wandbkit.alert()").alert(title, text, level=str(name).lower())


def define_metric(name: str, step_metric: str | None = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                  overwrite: bool | None = None) -> Any:
    """``wandb.define_metric``: see :meth:`wandbkit.Run.define_metric`."""
    return _require_run("wandbkit.define_metric()").define_metric(
        name, step_metric=step_metric, summary=summary, goal=goal, hidden=hidden,
        step_sync=step_sync)


class _RunDict:
    """``wandbkit.config`` / ``wandbkit.summary``: the active run's dict, by attribute or key."""

    def __init__(self, attr: str) -> None:
        object.__setattr__(self, "_attr", attr)

    def _target(self) -> Any:
        return getattr(_require_run(f"wandbkit.{self._attr}"), self._attr)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return getattr(self._target(), key)

    def __setattr__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __repr__(self) -> str:
        run = lifecycle.current()
        return repr(getattr(run, self._attr)) if run is not None else f"<wandbkit.{self._attr}: no run>"


config = _RunDict("config")
summary = _RunDict("summary")


# --- models and media ----------------------------------------------------------------------

_watches: list[Any] = []


def watch(models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False) -> None:
    """``wandb.watch``: gradient/parameter histograms every ``log_freq`` backward passes,
    through the ``wandbkit_watch`` hook (``wandbkit-torch`` implements it)."""
    from wandbkit.plugins import get_plugin_manager

    run = _require_run("wandbkit.watch()")
    if log not in (None, "gradients", "parameters", "all"):
        raise UserError(f"watch(log={log!r}): use 'gradients', 'parameters', 'all' or None")
    if log_freq < 1:
        raise UserError(f"watch(log_freq={log_freq}): must be at least 1")
    if log_graph:
        notice("wandb.watch(log_graph=True)", "the model graph is not logged")
    for model in models if isinstance(models, (list, tuple)) else [models]:
        handle = get_plugin_manager().hook.wandbkit_watch(run=run, model=model, log=log,
                                                          log_freq=log_freq)
        if handle is None:
            notice("wandb.watch()", "no installed plugin watches this model "
                   "(`pip install wandbkit-torch` for PyTorch); nothing is logged")
        else:
            _watches.append(handle)


def unwatch(models: Any = None) -> None:
    """``wandb.unwatch``: stop every watch (``models`` is accepted; all watches stop)."""
    while _watches:
        handle = _watches.pop()
        remove = getattr(handle, "remove", None)
        if callable(remove):
            remove()


# --- account and files ---------------------------------------------------------------------


def login(key: str | None = None, relogin: bool | None = None, host: str | None = None,
          **kwargs: Any) -> bool:
    """``wandb.login``: passed to wandb. Offline (or without a key) it returns False with a
    notice instead of prompting, so a script runs where W&B is unreachable."""
    from wandbkit.settings import is_logged_in, resolve_wandb_mode

    if key is None and (resolve_wandb_mode("auto") != "online" or not is_logged_in()):
        notice("wandb.login()", "not logged in to W&B: runs are kept offline "
               "(`wandbkit sync` uploads them later)")
        return False
    import wandb

    return bool(wandb.login(key=key, relogin=relogin, host=host, **kwargs))


class Settings:
    """``wandb.Settings``: accepted so scripts construct it; its values are not applied."""

    def __init__(self, **values: Any) -> None:
        self.values = {k: v for k, v in values.items() if v is not None}

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key == "values":
            raise AttributeError(key)
        return self.values.get(key)

    def __repr__(self) -> str:
        return f"wandbkit.Settings({self.values!r})"


def save(glob_str: str | os.PathLike[str] | None = None, base_path: str | None = None,
         policy: str = "live", glob: bool = True) -> list[str]:
    """``wandb.save``: keep files with the active run (see :meth:`wandbkit.Run.save`)."""
    run = _require_run("wandbkit.save()")
    if glob_str is None:
        raise UserError("wandbkit.save() needs a file name or glob")
    return run.save(glob_str, base_path=base_path, policy=policy, glob=glob)


# --- sweeps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRequest:
    """A drop-in ``wandb.sweep`` or ``wandb.agent`` call, for the ``wandbkit_sweep_call`` hook."""

    call: str  # "sweep" or "agent"
    config: dict[str, Any] | None = None
    sweep_id: str | None = None
    function: Callable[[], Any] | None = None
    count: int | None = None
    project: str | None = None
    entity: str | None = None


SWEEPS_MISSING = ("{call}: running a sweep needs the wandbkit-sweeps plugin: "
                  "pip install wandbkit-sweeps")


def _sweep_call(request: SweepRequest) -> Any:
    from wandbkit.plugins import get_plugin_manager

    result = get_plugin_manager().hook.wandbkit_sweep_call(request=request)
    if result is None:
        # wandb would run the sweep: ending here beats a script that exits 0 having trained
        # nothing (SystemExit with a message: one line on stderr, exit status 1)
        raise SystemExit(SWEEPS_MISSING.format(call=f"wandb.{request.call}()"))
    return result


def sweep(sweep: dict[str, Any] | Callable[[], dict[str, Any]], entity: str | None = None,
          project: str | None = None, prior_runs: list[str] | None = None) -> str:
    """``wandb.sweep``: create a sweep from its configuration and return its id, through the
    ``wandbkit_sweep_call`` hook (``wandbkit-sweeps`` runs it locally, or on W&B when asked).
    Without such a plugin the script ends with a one-line error."""
    config = sweep() if callable(sweep) else sweep
    if not isinstance(config, dict):
        raise UserError(f"wandb.sweep(): the sweep configuration must be a dict, got "
                        f"{type(config).__name__}")
    if prior_runs:
        notice("wandb.sweep(prior_runs=)", "prior runs are not added to a wandbkit sweep")
    return str(_sweep_call(SweepRequest("sweep", config=dict(config), project=project,
                                        entity=entity)))


def agent(sweep_id: str, function: Callable[[], Any] | None = None, entity: str | None = None,
          project: str | None = None, count: int | None = None) -> None:
    """``wandb.agent``: run ``count`` trials of the sweep (default: until it is done), each
    calling ``function()``, whose ``wandb.init()`` gets the trial's values; without a
    function, the sweep file's ``program``. Through the ``wandbkit_sweep_call`` hook."""
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise UserError(f"wandb.agent(count={count!r}): must be a whole number of at least 1")
    if function is not None and not callable(function):
        raise UserError(f"wandb.agent(function=...): must be callable, got {type(function).__name__}")
    _sweep_call(SweepRequest("agent", sweep_id=str(sweep_id), function=function, count=count,
                             project=project, entity=entity))


# wandb's public names that wandbkit does not implement: each is a stand-in that prints one line
# and returns None (attribute access gives further stand-ins: ``wandb.plot.line(...)``).
UNSUPPORTED = ("Api", "Graph", "Molecule", "Object3D", "controller",
               "jupyter", "link_artifact", "link_model", "log_code", "log_model",
               "mark_preempting", "require", "restore", "setup",
               "teardown", "tensorboard", "termerror", "termlog", "termwarn", "use_model",
               "visualize")


# Methods of wandb's Run that wandbkit's Run does not have: stand-ins, as above.
RUN_UNSUPPORTED = ("link_artifact", "link_model", "log_code", "log_model", "mark_preempting",
                   "restore", "status", "to_html", "upsert_artifact",
                   "use_model", "display", "plot_table")


class Unsupported:
    """A stand-in for a wandb function or namespace wandbkit does not implement."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        notice(f"wandb.{self._name}()", "not supported by wandbkit; ignored")

    def __getattr__(self, key: str) -> Unsupported:
        if key.startswith("__"):
            raise AttributeError(key)
        return Unsupported(f"{self._name}.{key}")

    def __repr__(self) -> str:
        return f"<wandbkit: wandb.{self._name} is not supported>"
