"""How Trainer log keys become wandbkit metric names (pure functions, no Trainer needed).

``loss`` -> ``train/loss``, ``eval_loss`` -> ``eval/loss``, ``test_accuracy`` -> ``test/accuracy``,
and with several validation sets (``eval_dataset={"wiki": ..., "code": ...}``, which HF logs as
``eval_wiki_loss``) ``eval/wiki/loss``. Runtime, throughput and FLOPs figures describe the whole
run, so they go to the summary instead of the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SUMMARY_SUFFIXES = ("_runtime", "_samples_per_second", "_steps_per_second")
SUMMARY_KEYS = ("total_flos", "train_loss")
PREFIXES = (("eval_", "eval"), ("test_", "test"))
# HF's train_loss is the mean over the whole run: not the last train/loss of the history
RENAMES = {"train_loss": "train/mean_loss"}


class _Sorted(tuple):  # type: ignore[type-arg]
    """Eval-set names already sorted longest first."""


def _by_length(names: Iterable[str]) -> _Sorted:
    return _Sorted(sorted(names, key=len, reverse=True))


def metric_name(key: str, eval_names: Iterable[str] = ()) -> str:
    """The namespaced name of one Trainer log key."""
    if key in RENAMES:
        return RENAMES[key]
    for prefix, space in PREFIXES:
        if key.startswith(prefix):
            rest = key[len(prefix):]
            # longest name first, so "wiki_long" wins over "wiki" for eval_wiki_long_loss
            names = eval_names if isinstance(eval_names, _Sorted) else _by_length(eval_names)
            for name in names:
                if rest.startswith(f"{name}_"):
                    return f"{space}/{name}/{rest[len(name) + 1:]}"
            return f"{space}/{rest}"
    if key.startswith("train_"):
        return f"train/{key[len('train_'):]}"
    return f"train/{key}"


def is_summary_key(key: str) -> bool:
    """Whether a Trainer log key is a whole-run figure (runtime, throughput, FLOPs, mean loss)."""
    return key in SUMMARY_KEYS or key.endswith(SUMMARY_SUFFIXES)


def split_logs(logs: Mapping[str, Any],
               eval_names: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(history, summary)``: the namespaced per-step metrics and the whole-run figures.

    Values that are not numbers (HF sometimes logs strings or lists) are left out.
    """
    names = _by_length(eval_names) if eval_names else _Sorted()
    history: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for key, value in logs.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if not hasattr(value, "item"):
                continue
        target = summary if is_summary_key(key) else history
        target[metric_name(key, names)] = value
    if set(history) <= {"train/epoch"}:
        history = {}  # the end-of-training log: only whole-run figures besides the epoch
    return history, summary
