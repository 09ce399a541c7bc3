"""``wandb.sweep`` and ``wandb.agent`` under ``import wandbkit as wandb`` (the
``wandbkit_sweep_call`` hook): the local engine by default, W&B's servers when asked.

``WANDBKIT_SWEEP_ENGINE`` picks the engine: ``local`` (the default: Optuna in the store, no
network), ``wandb`` (W&B's controller: needs a login and W&B online), or ``auto`` (W&B when
logged in and online, else local), as ``wandbkit sweep run --engine`` does.
"""

from __future__ import annotations

import os
from typing import Any

from wandbkit.errors import UserError

ENGINE_VAR = "WANDBKIT_SWEEP_ENGINE"


def engine() -> str:
    """``local`` or ``wandb``, from ``$WANDBKIT_SWEEP_ENGINE`` (default local)."""
    from wandbkit_sweeps.wandb_engine import _offline, choose_engine, is_logged_in

    chosen = choose_engine(os.environ.get(ENGINE_VAR, "").strip().lower() or "local")
    if chosen == "wandb" and (_offline() or not is_logged_in()):
        raise UserError(f"{ENGINE_VAR}=wandb needs W&B online: run `wandb login` (and unset "
                        "WANDB_MODE=offline), or leave it unset to run the sweep locally")
    return chosen


def handle(request: Any) -> Any:
    """Run one drop-in call; the new sweep's id for ``sweep``, the trials' outcomes for
    ``agent``."""
    if request.call not in ("sweep", "agent"):
        return None
    on_wandb = engine() == "wandb"
    if request.call == "sweep":
        return _wandb_sweep(request) if on_wandb else _local_sweep(request)
    return _wandb_agent(request) if on_wandb else _local_agent(request)


def _local_sweep(request: Any) -> str:
    from wandbkit_sweeps.api import start

    opened = start(request.config, project=request.project)
    return opened.id


def _local_agent(request: Any) -> list[Any]:
    from wandbkit_sweeps.api import agent

    function = request.function
    # W&B's agent calls the function with no arguments whatever its signature (``def
    # train(config=None)`` is the usual idiom); its wandb.init() gets the trial's values.
    train = None if function is None else (lambda: function())
    return agent(request.sweep_id, train, count=request.count)


def _wandb_sweep(request: Any) -> str:
    import wandb

    try:
        return wandb.sweep(sweep=request.config, entity=request.entity, project=request.project)
    except Exception as exc:  # network, auth, server-side validation
        raise UserError(f"W&B refused the sweep: {exc}") from exc


def _wandb_agent(request: Any) -> bool:
    import wandb

    wandb.agent(request.sweep_id, function=request.function, entity=request.entity,
                project=request.project, count=request.count)
    return True
