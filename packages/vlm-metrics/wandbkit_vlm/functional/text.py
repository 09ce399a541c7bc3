"""Standard language-side metrics: loss, perplexity, token accuracy, exact match, captions.

Token metrics are per sample (``Tensor[B]``) and stay on the logits' device. Caption metrics come
from torchmetrics (BLEU, chrF) and are corpus-level, as published numbers are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F


def token_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean cross-entropy per sample over the tokens that are not ``ignore_index``.

    :param logits: ``[B, T, V]``.
    :param labels: ``[B, T]`` (already aligned with ``logits``: shift them first for a causal LM).
    :returns: ``Tensor[B]``; a sample with no counted token gets 0.
    """
    valid = labels != ignore_index
    nll = F.cross_entropy(logits.float().transpose(1, 2), labels.masked_fill(~valid, 0),
                          reduction="none")
    count = valid.sum(dim=1)
    return (nll * valid).sum(dim=1) / count.clamp(min=1)


def perplexity(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """``exp`` of :func:`token_loss` per sample: ``Tensor[B]``."""
    return token_loss(logits, labels, ignore_index).exp()


def token_accuracy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Fraction of counted tokens whose arg-max prediction equals the label.

    :param logits: ``[B, T, V]``; :param labels: ``[B, T]``.
    :returns: ``Tensor[B]`` in [0, 1]; a sample with no counted token gets 0.
    """
    valid = labels != ignore_index
    correct = (logits.argmax(dim=-1) == labels) & valid
    return correct.sum(dim=1).float() / valid.sum(dim=1).clamp(min=1).float()


def exact_match(predictions: Sequence[str], targets: Sequence[str], normalize: bool = True,
                device: torch.device | str | None = None) -> torch.Tensor:
    """1 where the prediction equals the target, else 0: ``Tensor[B]``.

    :param normalize: compare after lower-casing and collapsing whitespace.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"exact_match: {len(predictions)} predictions for {len(targets)} targets")

    def norm(s: str) -> str:
        return " ".join(s.lower().split()) if normalize else s

    hits = [float(norm(p) == norm(t)) for p, t in zip(predictions, targets, strict=True)]
    return torch.tensor(hits, dtype=torch.float32, device=device)


def _references(targets: Sequence[str | Sequence[str]]) -> list[list[str]]:
    return [[t] if isinstance(t, str) else list(t) for t in targets]


def caption_bleu(predictions: Sequence[str], targets: Sequence[str | Sequence[str]],
                 n_gram: int = 4, smooth: bool = False) -> torch.Tensor:
    """Corpus BLEU-``n_gram`` (torchmetrics' ``bleu_score``): a scalar tensor in [0, 1].

    :param predictions: B generated captions.
    :param targets: B reference captions, or B lists of references.
    """
    from torchmetrics.functional.text import bleu_score

    return bleu_score(list(predictions), _references(targets), n_gram=n_gram, smooth=smooth)


def caption_chrf(predictions: Sequence[str], targets: Sequence[str | Sequence[str]]) -> torch.Tensor:
    """Corpus chrF (torchmetrics' ``chrf_score``, sacreBLEU's defaults): a scalar in [0, 1]."""
    from torchmetrics.functional.text import chrf_score

    return chrf_score(list(predictions), _references(targets))
