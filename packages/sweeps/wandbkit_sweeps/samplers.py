"""Samplers and the pruner a sweep file asks for, as small named strategies.

- grid: every point is queued in the study when the sweep is created (see
  :func:`wandbkit_sweeps.engine.create_sweep`) and agents pop them atomically, so two workers
  never run the same point; :class:`QueuedGridSampler` (Optuna's ``GridSampler`` over the same
  space) is the study's sampler.
- random: :class:`WandbRandomSampler`, uniform where W&B is uniform and W&B's own law where
  Optuna has none (probabilities of categories, beta).
- bayes: :class:`optuna.samplers.TPESampler`, multivariate, with the constant liar. W&B's bayes
  engine is a Gaussian process; Optuna's GP sampler needs torch and models categorical and
  nested (conditional) spaces poorly, while TPE handles mixed, categorical and conditional
  spaces natively, needs no extra dependency, and with ``constant_liar`` keeps parallel
  agents from proposing the same point while trials are still running.
- hyperband: not Optuna's. Its ``HyperbandPruner`` spreads trials over brackets and halves
  inside each, which stops other trials than W&B's controller does; the agents apply W&B's
  rule instead (:func:`wandbkit_sweeps.runs_to_stop`) and the study has no pruner.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler

from wandbkit_sweeps.config import SweepSpec
from wandbkit_sweeps.space import _choices, grid_points


class WandbRandomSampler(BaseSampler):
    """Independent random sampling with W&B's laws.

    Uniform, log-uniform, integer and plain categorical parameters (and the quantiles of the
    normal laws) are drawn by :class:`optuna.samplers.RandomSampler`; categories with
    ``probabilities`` and beta parameters are drawn from their own laws.
    """

    def __init__(self, spec: SweepSpec, seed: int | None = None) -> None:
        self._fallback = RandomSampler(seed=seed)
        self._rng = np.random.default_rng(seed)
        self._special = {p.name: p for p in spec.searchable
                         if p.kind in ("categorical_w_probabilities", "beta", "q_beta")}

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: optuna.trial.FrozenTrial) -> dict[str, BaseDistribution]:
        """No joint sampling: every parameter is drawn on its own."""
        return {}

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """Nothing is sampled jointly."""
        return {}

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           param_name: str, param_distribution: BaseDistribution) -> Any:
        """Draw one parameter from its W&B law."""
        p = self._special.get(param_name)
        if p is None:
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)
        if p.kind == "categorical_w_probabilities":
            choices = _choices(p.args["values"])
            probs = np.asarray(p.args["probabilities"], dtype=float)[:len(choices)]
            return choices[int(self._rng.choice(len(choices), p=probs / probs.sum()))]
        return float(self._rng.beta(p.args["a"] or 1e-9, p.args["b"] or 1e-9))

    def reseed_rng(self) -> None:
        """Fresh randomness in each worker process."""
        self._fallback.reseed_rng()
        self._rng = np.random.default_rng()


class QueuedGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler over the sweep's grid, for a study whose points are all queued.

    Optuna's own picks an unvisited point at random and, in its words, may evaluate a point
    twice in distributed optimisation; here every point is queued once and popped atomically.
    Its end-of-trial bookkeeping (stop the study when no point is unvisited) assumes it chose
    the points itself, so that part is left to the agents.
    """

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                    state: optuna.trial.TrialState, values: Any) -> None:
        """Nothing: agents stop when the queue is empty."""


def make_sampler(spec: SweepSpec, seed: int | None = None) -> BaseSampler:
    """The sampler for ``spec.method`` (see the module docstring for why each)."""
    if spec.method == "grid":
        axes: dict[str, list[Any]] = {}
        for point in grid_points(spec):
            for name, value in point.items():
                if value not in axes.setdefault(name, []):
                    axes[name].append(value)
        return QueuedGridSampler(axes, seed=seed)
    if spec.method == "random":
        return WandbRandomSampler(spec, seed=seed)
    if spec.method == "bayes":
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed,
                                          n_startup_trials=5)
    raise ValueError(f"method {spec.method!r} has no local sampler")


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """No Optuna pruner, ever: hyperband is W&B's rule, applied by the agents themselves
    (:mod:`wandbkit_sweeps.hyperband` through :class:`wandbkit_sweeps.agent.Monitor`). Optuna
    would otherwise default to its median pruner."""
    return optuna.pruners.NopPruner()
