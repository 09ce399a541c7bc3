"""Attach wandbkit to a Trainer that already exists, and run a tracked hyperparameter search."""

from __future__ import annotations

from typing import Any

from wandbkit_hf.callback import WandbkitCallback, new_search


def track(trainer: Any, **kwargs: Any) -> WandbkitCallback:
    """Add a :class:`WandbkitCallback` to an existing ``trainer`` (or reuse the one it has).

    Keyword arguments go to ``WandbkitCallback``. The built-in W&B callback, if ``report_to``
    named ``"wandb"``, is switched off so the Trainer makes exactly one W&B run.
    """
    found = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, WandbkitCallback)]
    if found:
        callback = found[0]
    else:
        callback = WandbkitCallback(**kwargs)
        trainer.add_callback(callback)
    callback.attach(trainer)
    return callback


def hyperparameter_search(trainer: Any, *, direction: str = "minimize", **kwargs: Any) -> Any:
    """``trainer.hyperparameter_search(...)`` with one wandbkit run per trial, grouped, and a
    summary run naming the best trial.

    Each trial's run has ``hp_search/objective`` and ``hp_search/best_so_far`` in its summary;
    when the search ends a run named ``<group>-summary`` (tag ``hp-search-summary``) records
    the best trial, its run id, objective and hyperparameters. Returns what the Trainer returns
    (``BestRun``). Arguments are ``Trainer.hyperparameter_search``'s.
    """
    import wandbkit

    callback = track(trainer)
    base = callback.group or _base_name(trainer)
    search = callback._search = new_search(base, direction)
    try:
        best = trainer.hyperparameter_search(direction=direction, **kwargs)
    finally:
        callback._search = None
    if trainer.args.process_index != 0 or best is None or isinstance(best, list):
        return best
    trial_runs = search["runs"]
    best_trial = str(best.run_id)
    summary = {"hp_search/best_trial": best_trial,
               "hp_search/best_run_id": trial_runs.get(best_trial),
               "hp_search/best_objective": best.objective, "hp_search/trials": len(trial_runs),
               "hp_search/direction": direction}
    with wandbkit.init(project=callback._project(), name=f"{search['group']}-summary",
                       group=search["group"], tags=["hp-search-summary"], mode=callback.mode,
                       dir=callback.dir,
                       config={"best_hyperparameters": dict(best.hyperparameters)}) as run:
        run.summary.update(summary)
    return best


def _base_name(trainer: Any) -> str:
    from wandbkit_hf.checkpoints import checkpoint_name

    return checkpoint_name(trainer.args)

