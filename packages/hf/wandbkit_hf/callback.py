"""``WandbkitCallback``: HF Trainer events mapped onto one wandbkit run, on the main process only.

What it does differently from transformers' own ``WandbCallback`` (``report_to="wandb"``):
exactly one W&B run (the built-in callback is switched off when both are present), nothing on
ranks other than 0, no whole-model upload at start, checkpoints registered in place as
versions instead of uploaded whole every time, one run per hyperparameter-search trial grouped
under the search, and ``log`` calls that never wait for W&B.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

import wandbkit
from wandbkit import preempt
from wandbkit.checkpointing import save_checkpoint
from wandbkit.errors import UserError
from wandbkit.run import new_run_id
from wandbkit_hf.checkpoints import checkpoint_name, find_checkpoint
from wandbkit_hf.config import run_config
from wandbkit_hf.naming import split_logs


def _notice(message: str) -> None:
    print(f"wandbkit-hf: {message}", file=sys.stderr, flush=True)


def _find_trainer() -> Any:
    """The ``Trainer`` calling this event (a few frames up: ``__init__`` for ``on_init_end``,
    the training loop for ``on_train_begin``).

    Callbacks are not given their trainer; this is how a callback passed as
    ``Trainer(callbacks=[...])`` reaches it, to switch off the built-in W&B callback.
    """
    from transformers import Trainer

    frame = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Trainer):
            return candidate
        frame = frame.f_back
    return None


def switch_off_builtin_wandb(trainer: Any) -> int:
    """Make transformers' ``WandbCallback`` on ``trainer`` a no-op; returns how many it switched.

    Done in place (its ``_wandb`` handle set to None, which every one of its methods checks
    first) rather than by removing it, because this runs while the Trainer iterates over its
    callbacks; a callback without that handle is removed instead.
    """
    from transformers.integrations import WandbCallback

    found = [cb for cb in trainer.callback_handler.callbacks
             if isinstance(cb, WandbCallback) and getattr(cb, "_wandb", True) is not None]
    for cb in found:
        if getattr(cb, "_initialized", False):
            _notice("transformers' WandbCallback had already started its W&B run; add "
                    "WandbkitCallback through Trainer(callbacks=[...]) or wandbkit_hf.track(trainer)"
                    " so there is only one")
        if hasattr(cb, "_wandb"):
            cb._wandb = None
            cb._initialized = False
        else:
            trainer.remove_callback(cb)
    return len(found)


class WandbkitCallback(TrainerCallback):
    """Log a Trainer's metrics, config and checkpoints through wandbkit.

    >>> trainer = Trainer(model, args, callbacks=[WandbkitCallback(project="gpt2-tiny")])
    ... # doctest: +SKIP

    :param project: wandbkit/W&B project (default ``$WANDBKIT_PROJECT``, else ``huggingface``).
    :param name: run name (default ``TrainingArguments.run_name``).
    :param tags: run tags.
    :param group: run group (a hyperparameter search groups its trials under its own name).
    :param mode: ``auto``, ``online``, ``offline`` or ``disabled`` (see :func:`wandbkit.init`).
    :param checkpoints: register each checkpoint the Trainer saves as a version (needs a
        checkpoint plugin such as ``wandbkit-artifacts``).
    :param checkpoint_name: version name (default: from ``run_name`` or the output folder);
        resume with ``wandbkit_hf.resolve(f"{checkpoint_name}:best")``.
    :param final_model: at the end of training, make the final model a version with alias
        ``final`` (the last checkpoint's files when it holds the final weights, else a save).
    :param run: a wandbkit run to log into (default: the active run, else a new one).
    :param dir: the local store of runs this callback starts (default ``$WANDBKIT_DIR``).
    :param watch: ``"norms"`` (default): gradient and weight norms per module and global
        (``grad_norm/<module>``, ``weight_norm/<module>``), from wandbkit-torch's fused kernels
        with no device sync, when that plugin is installed (silently off otherwise);
        ``"gradients"``, ``"parameters"`` or ``"all"``: wandb.watch-style histograms
        (``gradients/<param>``); both through the plugin that implements ``wandbkit_watch``.
        None: off (the Trainer's own ``train/grad_norm`` is logged either way).
    :param preempt: on SIGTERM or SIGUSR1 (Slurm's and spot instances' notice), let the Trainer
        finish its step, save a checkpoint (registered with the alias ``preempt``) and stop;
        the run ends ``preempted`` and the process exits with 128 + the signal (Slurm requeues
        a SIGUSR1 job). Restarted with ``trainer.train(resume_from_checkpoint=True)``, the job
        continues the same run: each checkpoint folder records the run's id. The signal must
        reach every rank (Slurm sends it to every task).
    :param watch_every: backward passes between two watch logs (default: the first multiple
        of the Trainer's ``logging_steps`` that is at least 10 steps, times its gradient
        accumulation, so norms come with a log every 10 or more steps).
    """

    def __init__(self, project: str | None = None, name: str | None = None,
                 tags: list[str] | None = None, group: str | None = None, mode: str = "auto",
                 checkpoints: bool = True, checkpoint_name: str | None = None,
                 final_model: bool = True, run: wandbkit.Run | None = None,
                 dir: str | os.PathLike[str] | None = None, watch: str | None = "norms",
                 watch_every: int | None = None, preempt: bool = True) -> None:
        if watch not in (None, "norms", "gradients", "parameters", "all"):
            raise UserError(f"watch={watch!r}: use 'norms', 'gradients', 'parameters', 'all' "
                            "or None")
        if watch_every is not None and watch_every < 1:
            raise UserError(f"watch_every={watch_every!r}: use a positive number of steps")
        self.project = project
        self.name = name
        self.tags = list(tags or [])
        self.group = group
        self.mode = mode
        self.checkpoints = checkpoints
        self.checkpoint_name = checkpoint_name
        self.final_model = final_model
        self.run: wandbkit.Run | None = run
        self.dir = dir
        self.watch = watch
        self.watch_every = watch_every
        self._watch_handle: Any = None
        self.trainer: Any = None
        self._owns_run = False
        self._eval_names: tuple[str, ...] = ()
        self._last_eval: dict[str, Any] = {}
        self._evals: dict[int, dict[str, Any]] = {}  # eval metrics by global step
        self._last_registered: tuple[int, str] | None = None  # (step, folder)
        self._final_done = False
        self._search: dict[str, Any] | None = None  # set by hyperparameter_search
        self._train_started = 0.0
        self._trial: str | None = None
        self._step_offset = 0
        self.preempt = preempt
        self._preempting = False

    # --- attaching ----------------------------------------------------------------------------

    def attach(self, trainer: Any) -> None:
        """Know ``trainer`` (its datasets, output folders, search objective); switch off the
        built-in W&B callback so the Trainer makes exactly one W&B run."""
        self.trainer = trainer
        eval_dataset = getattr(trainer, "eval_dataset", None)
        if isinstance(eval_dataset, Mapping):
            self._eval_names = tuple(str(k) for k in eval_dataset)
        if switch_off_builtin_wandb(trainer) and trainer.args.process_index == 0:
            _notice("report_to names 'wandb': transformers' WandbCallback is switched off; "
                    "wandbkit logs the one W&B run")

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Find the Trainer being built and attach to it."""
        if self.trainer is None:
            trainer = _find_trainer()
            if trainer is not None:
                self.attach(trainer)

    # --- the run -----------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       **kwargs: Any) -> None:
        """Start (or join) the run on the main process; put the config in it."""
        if self.trainer is None:  # added with trainer.add_callback(): find the trainer now
            trainer = _find_trainer()
            if trainer is not None:
                self.attach(trainer)
        self._start_preempt_handling()
        if not state.is_world_process_zero:
            return
        self._train_started = time.monotonic()
        self._final_done = False
        self._last_registered = None
        self._last_eval = {}
        self._evals = {}
        trial = self._trial_label(state) if state.is_hyper_param_search else None
        self._trial = trial
        if trial is not None:
            self._start_trial_run(args, trial)
        elif self.run is None or self.run.report is not None:
            active = wandbkit.get_run()
            if active is not None:
                self.run, self._owns_run = active, False
            else:
                resumed = _run_of_checkpoint(args, state)
                self.run = wandbkit.init(project=self._project(), name=self.name or args.run_name,
                                         tags=self.tags, group=self.group, mode=self.mode,
                                         dir=self.dir, id=resumed,
                                         resume="allow" if resumed else None)
                self._owns_run = True
        # A run joined mid-way may already be past step 0: our rows go after its last step
        # (W&B drops steps that go backwards); train/global_step stays the plotted x-axis.
        self._step_offset = self.run.step + 1 if not self._owns_run and self.run.step >= 0 else 0
        self._define_metrics()
        trainer = self.trainer
        config = run_config(args, model, getattr(trainer, "train_dataset", None),
                            getattr(trainer, "eval_dataset", None))
        if trial is not None:
            config["hp_search"] = {"trial": trial, "params": state.trial_params
                                   or _trial_params(trainer)}
        self.run.config.update(config)  # type: ignore[union-attr]
        if self.watch and model is not None:
            # Default: with the first Trainer log at or after every 10 optimizer steps (the
            # torch Tracker's stats_every), so per-module norms cost little even when the
            # Trainer logs every step.
            logging = max(1, int(args.logging_steps))
            every = self.watch_every or (logging * -(-10 // logging)
                                         * max(1, int(args.gradient_accumulation_steps)))
            self._watch_handle = _start_watch(self.run, model, self.watch, every,
                                              quiet=self.watch == "norms")
            if self.watch == "norms" and hasattr(self._watch_handle, "hold"):
                self._watch_handle.hold = True  # norms join the Trainer's own log rows

    def _start_preempt_handling(self) -> None:
        """Catch the preemption signals; the step boundary (``on_step_end``) is the safe point,
        so a log in the middle of a step never ends the run."""
        self._preempting = False
        if not self.preempt or threading.current_thread() is not threading.main_thread():
            return
        try:
            preempt.install()
        except UserError as exc:
            _notice(f"preemption signals are not handled: {exc}")
            return
        preempt.claim_safe_point(self)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """A preemption signal arrived: save a checkpoint now and stop after this step."""
        if self.preempt and preempt.requested() and not self._preempting:
            self._preempting = True
            control.should_save = True
            control.should_training_stop = True
            if state.is_world_process_zero:
                _notice(f"preemption signal: saving checkpoint-{state.global_step} and stopping")

    def _define_metrics(self) -> None:
        define = getattr(self.run, "define_metric", None)
        if define is None:
            return
        try:
            define("train/global_step")
            for space in ("train/*", "eval/*", "test/*"):
                define(space, step_metric="train/global_step", step_sync=True)
        except Exception as exc:  # an older core, or a sink that refuses: keep logging
            _notice(f"define_metric failed ({type(exc).__name__}: {exc}); plotting by step")

    def _trial_label(self, state: Any) -> str:
        number = getattr(getattr(self.trainer, "_trial", None), "number", None)
        if state.trial_name:
            return str(state.trial_name)
        return f"trial-{number}" if number is not None else f"trial-{new_run_id()[:4]}"

    def _project(self) -> str:
        return self.project or os.environ.get("WANDBKIT_PROJECT") or "huggingface"

    def _start_trial_run(self, args: Any, trial: str) -> None:
        if self.run is not None and self._owns_run and self.run.report is None:
            self.run.finish(quiet=True)
        search = self._search or _implicit_search(self, args)
        self.run = wandbkit.init(project=self._project(), name=f"{search['group']}-{trial}",
                                 tags=[*self.tags, "hp-search"], group=search["group"],
                                 mode=self.mode, dir=self.dir)
        self._owns_run = True
        number = getattr(getattr(self.trainer, "_trial", None), "number", None)
        search["runs"][str(number) if number is not None else trial] = self.run.id

    # --- metrics -----------------------------------------------------------------------------

    def _live(self) -> bool:
        """A run to log into: started and not finished (a search's trial run ends at
        ``on_train_end``, before the Trainer's own closing evaluation)."""
        return self.run is not None and self.run.report is None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        """Namespaced metrics at ``train/global_step``; whole-run figures to the summary."""
        if not state.is_world_process_zero or not self._live() or not logs:
            return
        history, summary = split_logs(logs, self._eval_names)
        if history:
            history["train/global_step"] = state.global_step
            if "train/loss" in history and hasattr(self._watch_handle, "take"):
                history.update(self._watch_handle.take())  # the norms of this interval
            self.run.log(history, step=self._step_offset + state.global_step)
        if summary:
            self.run.summary.update(summary)

    def on_evaluate(self, args: Any, state: Any, control: Any,
                    metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Remember the evaluation's metrics for the next checkpoint (the Trainer logs them
        through ``on_log`` already, so they are not logged twice)."""
        if state.is_world_process_zero and metrics:
            history, _ = split_logs(metrics, self._eval_names)
            self._last_eval = {**self._last_eval, **history}
            self._evals[state.global_step] = {**self._evals.get(state.global_step, {}), **history}

    def on_predict(self, args: Any, state: Any, control: Any,
                   metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """``trainer.predict`` metrics as ``test/...`` (the Trainer does not log them itself)."""
        if not state.is_world_process_zero or not self._live() or not metrics:
            return
        history, summary = split_logs(metrics, self._eval_names)
        if history:
            self.run.log({**history, "train/global_step": state.global_step},
                         step=max(self._step_offset + state.global_step, self.run.step))
        if summary:
            self.run.summary.update(summary)

    # --- checkpoints ---------------------------------------------------------------------------

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Register the checkpoint the Trainer just wrote as a version, in place."""
        if not (state.is_world_process_zero and self.checkpoints and self._live()):
            return
        folder = find_checkpoint(args.output_dir, state.global_step)
        if folder is None:
            _notice(f"step {state.global_step}: no checkpoint-{state.global_step} folder under "
                    f"{args.output_dir}; not registered")
            return
        _record_run(folder, self.run.id)  # a restart from this checkpoint continues this run
        aliases = [preempt.PREEMPT_ALIAS] if self._preempting else []
        if args.metric_for_best_model and getattr(state, "best_global_step", None) == state.global_step:
            aliases.append("best")
        if state.max_steps and state.global_step >= state.max_steps \
                and not args.load_best_model_at_end:
            aliases.append("final")  # this checkpoint holds the final weights
            self._final_done = True
        if self._register(args, state, state.global_step, str(folder), aliases):
            self._last_registered = (state.global_step, str(folder))

    def _register(self, args: Any, state: Any, step: int, folder: str | None,
                  aliases: list[str], model: Any = None, extra_kept: int = 0) -> bool:
        name = checkpoint_name(args, self._trial)
        if self.checkpoint_name:
            name = f"{self.checkpoint_name}-{self._trial}" if self._trial else self.checkpoint_name
        metrics = {k: v for k, v in self._evals.get(step, {}).items()
                   if isinstance(v, (int, float))}  # the evaluation of this step, if any
        try:
            save_checkpoint(step, model=model, files=folder, metrics=metrics, aliases=aliases,
                            name=name, run=self.run, force=True,
                            keep_last=args.save_total_limit + extra_kept
                            if args.save_total_limit else None)
        except UserError as exc:
            _notice(f"checkpoints are not registered: {exc}")
            self.checkpoints = False
            return False
        except Exception as exc:  # a failing checkpoint plugin must not stop training
            _notice(f"registering the step-{step} checkpoint failed: {type(exc).__name__}: {exc}")
            return False
        return True

    # --- the end -------------------------------------------------------------------------------

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None,
                     **kwargs: Any) -> None:
        """The final model as a version with alias ``final``; finish the run if we started it.
        After a preemption signal: end the run ``preempted`` and exit instead."""
        preempt.release_safe_point(self)
        if self._preempting:
            self._end_preempted()
            return
        if not state.is_world_process_zero or not self._live():
            return
        if self.final_model and self.checkpoints and not self._final_done:
            self._save_final(args, state, model)
        if self._watch_handle is not None:
            self._watch_handle.remove()
            self._watch_handle = None
        self.run.summary["train/wall_seconds"] = round(time.monotonic() - self._train_started, 3)
        if state.is_hyper_param_search:
            _record_trial(self, state)
        if self._owns_run and not state.is_hyper_param_search:
            self.run.finish()
            self._owns_run = False

    def _end_preempted(self) -> None:
        """The checkpoint is saved: tell W&B, end the run as ``preempted`` and exit with
        128 + the signal (every rank; only rank 0 holds the run)."""
        if self._watch_handle is not None:
            self._watch_handle.remove()
            self._watch_handle = None
        if not self._owns_run and self.run is not None:
            _notice("preempted: the run was started outside the callback; it is ended too")
        self._owns_run = False
        preempt.act(saved_by=self)

    def _save_final(self, args: Any, state: Any, model: Any) -> None:
        best = state.best_model_checkpoint
        if args.load_best_model_at_end and best and os.path.isdir(best):
            # the Trainer loaded the best checkpoint's weights: that folder is the final model
            # (a new version, which becomes `latest`: one more kept, so the last checkpoint of
            # the training stays listed, as HF keeps its folder)
            self._register(args, state, _checkpoint_step(best, state.global_step), best, ["final"],
                           extra_kept=1)
        elif self._last_registered is not None and self._last_registered[0] == state.global_step \
                and os.path.isdir(self._last_registered[1]):
            self._register(args, state, state.global_step, self._last_registered[1], ["final"])
        elif model is not None:
            self._register(args, state, state.global_step, None, ["final"], model=model,
                           extra_kept=1)
        self._final_done = True


RUN_FILE = "wandbkit-run.json"  # in each checkpoint folder: the run that saved it


def _record_run(folder: Any, run_id: str) -> None:
    """Write the run's id into the checkpoint folder (before it is registered)."""
    try:
        (folder / RUN_FILE).write_text(json.dumps({"run_id": run_id}) + "\n")
    except OSError as exc:
        _notice(f"could not record the run id in {folder}: {exc}")


def _run_of_checkpoint(args: Any, state: Any) -> str | None:
    """The run that saved the checkpoint the Trainer resumes from, if it recorded itself."""
    if not state.global_step:
        return None
    folder = find_checkpoint(args.output_dir, state.global_step)
    try:
        return str(json.loads((folder / RUN_FILE).read_text())["run_id"]) if folder else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _checkpoint_step(folder: str, default: int) -> int:
    """N of a ``checkpoint-N`` folder."""
    tail = os.path.basename(os.path.normpath(folder)).rpartition("-")[2]
    return int(tail) if tail.isdigit() else default


def _start_watch(run: Any, model: Any, log: str, every: int, quiet: bool = False) -> Any:
    """Ask the plugin that implements ``wandbkit_watch`` to watch ``model``; None if none does
    (with a notice unless ``quiet``: the default norms are simply off without wandbkit-torch)."""
    from wandbkit.plugins import get_plugin_manager

    hook = getattr(get_plugin_manager().hook, "wandbkit_watch", None)
    handle = hook(run=run, model=model, log=log, log_freq=every) if hook is not None else None
    if handle is None and not quiet:
        _notice(f"watch={log!r}: no installed plugin watches this model "
                "(pip install wandbkit-torch); training goes on without histograms")
    return handle


def _trial_params(trainer: Any) -> dict[str, Any] | None:
    trial = getattr(trainer, "_trial", None)
    params = getattr(trial, "params", None)
    if params is None and isinstance(trial, Mapping):
        params = dict(trial)
    return dict(params) if params is not None else None


def new_search(base: str, direction: str | None) -> dict[str, Any]:
    """The bookkeeping of one search: its group name, trial runs and their objectives."""
    return {"group": f"{base}-hp-{new_run_id()[:6]}", "runs": {}, "objectives": {},
            "direction": direction}


def _implicit_search(callback: WandbkitCallback, args: Any) -> dict[str, Any]:
    """A search started without :func:`wandbkit_hf.hyperparameter_search`: group its trials."""
    search = new_search(callback.group or checkpoint_name(args), None)
    callback._search = search
    return search


def _record_trial(callback: WandbkitCallback, state: Any) -> None:
    """Put the trial's objective in its summary, marking it when it is the best so far, and
    finish its run (the next trial gets its own)."""
    run, search = callback.run, callback._search
    assert run is not None and search is not None
    objective = getattr(callback.trainer, "objective", None)
    if objective is None:  # no evaluation during the trial: the Trainer's default objective
        objective = callback._last_eval.get("eval/loss")
    if isinstance(objective, (int, float)):
        search["objectives"][run.id] = float(objective)
        best = _best_of(search)
        run.summary.update({"hp_search/objective": float(objective),
                            "hp_search/best_so_far": best == run.id})
    if callback._owns_run:
        run.finish(quiet=True)
        callback._owns_run = False


def _best_of(search: dict[str, Any]) -> str | None:
    """The run id with the best objective so far (``direction``: minimize unless maximize)."""
    scores = search["objectives"]
    if not scores:
        return None
    pick = max if search.get("direction") == "maximize" else min
    return pick(scores, key=scores.__getitem__)
