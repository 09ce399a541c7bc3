"""The search space: each W&B parameter law as an Optuna distribution, and back to a config.

Optuna knows uniform/log-uniform floats, integers and categories. W&B's other laws are mapped
so that samplers search the right space and runs receive exactly what W&B would give them:

- ``uniform``, ``int_uniform``, ``log_uniform_values`` map directly; ``inv_log_uniform_values``
  is log-uniform between the same limits (W&B samples ``exp(-U(-log max, -log min))``, the
  same law); ``q_*`` laws are sampled continuously and rounded to ``q`` as W&B does.
- ``normal``, ``log_normal`` (and ``q_``) are searched as a quantile ``u`` in (0, 1) and
  turned into a value by the inverse CDF: uniform ``u`` gives W&B's law exactly, and a
  model-based sampler works in CDF space, as W&B's own bayes engine does.
- ``beta`` is searched on [0, 1]; ``categorical_w_probabilities`` as a category. The random
  method's sampler (:class:`wandbkit_sweeps.samplers.WandbRandomSampler`) draws both from
  their real laws.
- Categories that Optuna cannot store (lists, dicts, None mixed in) are stored as JSON text.
"""

from __future__ import annotations

import itertools
import json
import math
from statistics import NormalDist
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from wandbkit_sweeps.config import ParamSpec, SweepSpec

QUANTILE_KINDS = ("normal", "q_normal", "log_normal", "q_log_normal")
_EPS = 1e-12
_PRIMITIVE = (bool, int, float, str)


def _encoded(values: list[Any]) -> bool:
    """True when some value is not an Optuna-storable primitive: store all as JSON text."""
    return not all(isinstance(v, _PRIMITIVE) for v in values)


def _choices(values: list[Any]) -> tuple[Any, ...]:
    seen: list[Any] = []
    keys = json.dumps if _encoded(values) else (lambda v: (type(v).__name__, v))
    known = set()
    for v in values:
        k = keys(v)
        if k not in known:
            known.add(k)
            seen.append(json.dumps(v) if _encoded(values) else v)
    return tuple(seen)


def distribution(p: ParamSpec) -> BaseDistribution | None:
    """The Optuna distribution that searches ``p`` (None for a constant)."""
    a = p.args
    kind = p.kind
    if kind == "constant":
        return None
    if kind in ("categorical", "categorical_w_probabilities"):
        return CategoricalDistribution(_choices(a["values"]))
    if kind == "int_uniform":
        return IntDistribution(a["min"], a["max"])
    if kind in ("uniform", "q_uniform"):
        return FloatDistribution(float(a["min"]), float(a["max"]))
    if kind in ("log_uniform_values", "inv_log_uniform_values", "q_log_uniform_values"):
        return FloatDistribution(float(a["min"]), float(a["max"]), log=True)
    if kind in QUANTILE_KINDS:
        return FloatDistribution(_EPS, 1.0 - _EPS)
    if kind in ("beta", "q_beta"):
        return FloatDistribution(0.0, 1.0)
    raise ValueError(f"unknown parameter kind {kind}")


def search_space(spec: SweepSpec) -> dict[str, BaseDistribution]:
    """``{optuna name: distribution}`` for every searchable parameter."""
    out = {}
    for p in spec.searchable:
        dist = distribution(p)
        assert dist is not None
        out[p.name] = dist
    return out


def _quantise(value: float, q: Any) -> Any:
    out = round(value / q) * q
    return int(out) if isinstance(q, int) else out


def to_value(p: ParamSpec, raw: Any) -> Any:
    """The value a run receives for ``p`` given what the sampler chose (``raw``)."""
    a = p.args
    kind = p.kind
    if kind == "constant":
        return a["value"]
    if kind in ("categorical", "categorical_w_probabilities"):
        return json.loads(raw) if _encoded(a["values"]) else raw
    if kind == "int_uniform":
        return int(raw)
    if kind in ("q_uniform", "q_log_uniform_values", "q_beta"):
        return _quantise(raw, a["q"])
    if kind in QUANTILE_KINDS:
        x = NormalDist(a["mu"], a["sigma"]).inv_cdf(min(max(raw, _EPS), 1 - _EPS)) \
            if a["sigma"] > 0 else float(a["mu"])
        if "log" in kind:
            x = math.exp(min(x, 700.0))
        return _quantise(x, a["q"]) if kind.startswith("q_") else x
    return float(raw)


def suggest(trial: optuna.Trial, spec: SweepSpec) -> dict[str, Any]:
    """Ask ``trial`` for every parameter; return the nested run config W&B would build."""
    space = search_space(spec)
    config: dict[str, Any] = {}
    for p in spec.params:
        raw = None
        if p.kind != "constant":
            raw = _ask(trial, p.name, space[p.name])
        _set(config, p.path, to_value(p, raw))
    return config


def _ask(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high)
    assert isinstance(dist, FloatDistribution)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def _set(config: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every grid point as ``{optuna name: stored value}``, in W&B's order (by name).

    ``int_uniform`` is every integer from min to max; ``q_uniform`` is
    ``numpy.arange(min, max, q)`` like W&B's grid engine (max itself excluded).
    """
    axes: list[tuple[str, list[Any]]] = []
    for p in sorted(spec.searchable, key=lambda p: p.name):
        a = p.args
        if p.kind == "categorical":
            values = list(_choices(a["values"]))
        elif p.kind == "int_uniform":
            values = list(range(a["min"], a["max"] + 1))
        elif p.kind == "q_uniform":
            count = max(0, math.ceil((a["max"] - a["min"]) / a["q"]))
            values = [a["min"] + i * a["q"] for i in range(count)]
        else:
            raise ValueError(f"{p.name}: {p.kind} is not a grid law")
        axes.append((p.name, values))
    names = [n for n, _ in axes]
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(v for _, v in axes))]


def grid_size(spec: SweepSpec) -> int:
    """Number of grid points (without building them)."""
    size = 1
    for p in spec.searchable:
        a = p.args
        if p.kind == "categorical":
            size *= len(_choices(a["values"]))
        elif p.kind == "int_uniform":
            size *= a["max"] - a["min"] + 1
        elif p.kind == "q_uniform":
            size *= max(0, math.ceil((a["max"] - a["min"]) / a["q"]))
    return size


def flat_params(spec: SweepSpec, config: dict[str, Any]) -> dict[str, Any]:
    """The searchable values of a nested run config, by Optuna name (for tables and plots)."""
    out = {}
    for p in spec.searchable:
        node: Any = config
        for key in p.path:
            node = node.get(key) if isinstance(node, dict) else None
        out[p.name] = node
    return out
