"""What a run's config says about an HF training: arguments, model, PEFT, parameters, data."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def _jsonable(obj: Any) -> Any:
    """``obj`` with anything JSON cannot hold turned into its ``str`` (config must serialise)."""
    return json.loads(json.dumps(obj, default=str, allow_nan=True))


def model_config(model: Any) -> dict[str, Any] | None:
    """The model's ``config`` as a dict (HF models), else None."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    if isinstance(config, Mapping):
        return _jsonable(dict(config))
    to_dict = getattr(config, "to_dict", None)
    return _jsonable(to_dict()) if callable(to_dict) else None


def peft_config(model: Any) -> dict[str, Any] | None:
    """Every PEFT adapter's config (``model.peft_config``), or None without PEFT."""
    configs = getattr(model, "peft_config", None)
    if not configs:
        return None
    if not isinstance(configs, Mapping):
        configs = {"default": configs}
    out = {}
    for name, cfg in configs.items():
        to_dict = getattr(cfg, "to_dict", None)
        out[str(name)] = _jsonable(to_dict() if callable(to_dict) else vars(cfg))
    return out


def parameter_counts(model: Any) -> dict[str, int] | None:
    """``{"total": n, "trainable": n}`` (tied weights counted once), or None for no torch model."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return None
    total = trainable = 0
    for p in params():  # parameters() yields a tied tensor once
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return {"total": total, "trainable": trainable}


def dataset_provenance(dataset: Any) -> dict[str, Any] | None:
    """Which data a run saw: a ``datasets`` dataset's fingerprint, size, features and split.

    Other datasets give their type and size when they have one; None gives None.
    """
    if dataset is None:
        return None
    out: dict[str, Any] = {"type": type(dataset).__name__}
    fingerprint = getattr(dataset, "_fingerprint", None)
    if fingerprint is not None:
        out["fingerprint"] = str(fingerprint)
    try:
        out["size"] = len(dataset)
    except TypeError:  # an iterable dataset has no length
        pass
    features = getattr(dataset, "features", None)
    if features is not None:
        out["features"] = {str(k): str(v) for k, v in dict(features).items()}
    info = getattr(dataset, "info", None)
    for attr in ("dataset_name", "config_name", "version"):
        value = getattr(info, attr, None)
        if value is not None:
            out[attr] = str(value)
    split = getattr(dataset, "split", None)
    if split is not None:
        out["split"] = str(split)
    return out


def data_provenance(train_dataset: Any, eval_dataset: Any) -> dict[str, Any]:
    """``{"train": ..., "eval": ...}``; a dict of eval sets gives ``{"eval": {name: ...}}``."""
    out: dict[str, Any] = {}
    train = dataset_provenance(train_dataset)
    if train is not None:
        out["train"] = train
    if isinstance(eval_dataset, Mapping):
        out["eval"] = {str(k): dataset_provenance(v) for k, v in eval_dataset.items()}
    elif eval_dataset is not None:
        out["eval"] = dataset_provenance(eval_dataset)
    return out


def training_args(args: Any) -> dict[str, Any]:
    """``TrainingArguments`` as a dict, tokens and infinities made safe for the config."""
    raw = args.to_dict() if hasattr(args, "to_dict") else dict(vars(args))
    clean = {}
    for key, value in raw.items():
        if key.endswith("_token") and value:
            value = "<set>"  # never put a hub token into a tracked config
        if isinstance(value, float) and math.isinf(value):
            value = str(value)
        clean[key] = value
    return _jsonable(clean)


def run_config(args: Any, model: Any, train_dataset: Any = None,
               eval_dataset: Any = None) -> dict[str, Any]:
    """The run's config: ``training_args``, ``model_config``, ``peft_config``, ``parameters``,
    ``data`` (each present when known)."""
    config: dict[str, Any] = {"training_args": training_args(args)}
    for key, value in (("model_config", model_config(model)), ("peft_config", peft_config(model)),
                       ("parameters", parameter_counts(model)),
                       ("data", data_provenance(train_dataset, eval_dataset) or None)):
        if value is not None:
            config[key] = value
    return config
