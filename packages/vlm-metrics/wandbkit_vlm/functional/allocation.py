"""Token budgets, allocation, LOD distribution, compression and allocation fidelity.

Notation: B images, N patches, a selection mask ``m`` ``[B, N]`` (bool or 0/1), tokens per
patch ``t`` ``[B, N]`` (0 for patches not selected), LOD levels ``L`` (tokens per level).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

DEFAULT_LEVELS = (64, 100, 160, 256, 400)
"""Tokens per patch at each level of detail (after DeepSeek-OCR's 64/100/256/400 modes)."""

MIN_TOKENS, MAX_TOKENS = 64, 400


def _levels(levels: Sequence[int] | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    lv = torch.as_tensor(levels, dtype=torch.float32, device=like.device)
    if lv.dim() != 1 or lv.numel() == 0:
        raise ValueError(f"levels must be a non-empty 1-D sequence, got {levels!r}")
    return lv


def snap_to_levels(values: torch.Tensor,
                   levels: Sequence[int] | torch.Tensor = DEFAULT_LEVELS) -> torch.Tensor:
    """Replace each value with the nearest level (ties go to the lower level): same shape."""
    lv = _levels(levels, values)
    idx = (values.float().unsqueeze(-1) - lv).abs().argmin(dim=-1)
    return lv[idx]


def allocate_tokens(relevance: torch.Tensor, selected: torch.Tensor, gamma: float = 1.0,
                    levels: Sequence[int] | torch.Tensor = DEFAULT_LEVELS) -> torch.Tensor:
    """Tokens per patch: ``t_i = m_i * snap_L(64 + 336 * r_i^gamma)``.

    :param relevance: ``[B, N]`` in [0, 1]. :param selected: ``[B, N]`` mask.
    :param gamma: > 1 concentrates the budget on the most relevant patches.
    :returns: ``[B, N]`` float tokens (0 where not selected).
    """
    raw = MIN_TOKENS + (MAX_TOKENS - MIN_TOKENS) * relevance.float().clamp(0, 1).pow(gamma)
    return snap_to_levels(raw, levels) * selected.float()


def top_k_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean ``[B, N]`` mask of each row's ``k`` highest scores."""
    idx = scores.topk(k, dim=-1).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, idx, True)


# --- budgets and compression ---------------------------------------------------------------


def vision_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Vision tokens per image: ``Tensor[B]`` from ``[B, N]``."""
    return tokens.float().sum(dim=-1)


def text_tokens(attention_mask: torch.Tensor) -> torch.Tensor:
    """Text tokens per sample from a ``[B, T]`` attention mask: ``Tensor[B]``."""
    return attention_mask.float().sum(dim=-1)


def budget_utilisation(tokens: torch.Tensor, cap: float) -> torch.Tensor:
    """Vision tokens per image over the per-image cap: ``Tensor[B]`` (> 1 means over budget)."""
    return vision_tokens(tokens) / float(cap)


def patch_compression(selected: torch.Tensor) -> torch.Tensor:
    """``compression/patch``: N / selected patches, ``Tensor[B]`` (inf when nothing is selected)."""
    n = selected.shape[-1]
    return n / selected.float().sum(dim=-1)


def vision_compression(tokens: torch.Tensor,
                       baseline_tokens: float | torch.Tensor | None = None) -> torch.Tensor:
    """``compression/vision``: baseline vision tokens / allocated tokens, ``Tensor[B]``.

    :param baseline_tokens: what the image costs without compression (scalar or ``[B]``);
        default ``N * 400``, every patch at the highest level of detail.
    """
    if baseline_tokens is None:
        baseline_tokens = tokens.shape[-1] * float(MAX_TOKENS)
    return baseline_tokens / vision_tokens(tokens)


def optical_compression(text_token_count: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``compression/optical`` (DeepSeek-OCR's sense): text tokens / vision tokens, ``Tensor[B]``.

    :param text_token_count: ``[B]`` tokens of the text the image renders (e.g. the OCR target).
    """
    return text_token_count.float() / vision_tokens(tokens)


# --- LOD distribution ---------------------------------------------------------------------


def lod_distribution(tokens: torch.Tensor, selected: torch.Tensor,
                     levels: Sequence[int] | torch.Tensor = DEFAULT_LEVELS) -> dict[str, torch.Tensor]:
    """How the selected patches spread over the levels of detail.

    :param tokens: ``[B, N]`` (values on the levels). :param selected: ``[B, N]`` mask.
    :returns: ``fraction`` ``[B, L]`` (share of selected patches per level), ``token_share``
        ``[B, L]`` (share of tokens per level) and ``entropy`` ``[B]`` (of ``fraction``, in nats;
        0 when every patch sits on one level, ``log L`` when they spread evenly).
    """
    lv = _levels(levels, tokens)
    sel = selected.float().unsqueeze(-1)
    onehot = (tokens.float().unsqueeze(-1) - lv).abs().argmin(dim=-1)
    member = torch.nn.functional.one_hot(onehot, lv.numel()).float() * sel  # [B, N, L]
    count = member.sum(dim=1)
    fraction = count / count.sum(dim=-1, keepdim=True).clamp(min=1)
    spent = count * lv
    token_share = spent / spent.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    entropy = -(fraction * torch.where(fraction > 0, fraction.log(), torch.zeros_like(fraction))).sum(-1)
    return {"fraction": fraction, "token_share": token_share, "entropy": entropy}


# --- allocation fidelity -------------------------------------------------------------------


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks along the last dimension, ties sharing their average rank (as scipy).

    One sort; each run of equal values gets (first position + last position) / 2 + 1, found with
    a running max of run starts and a reversed running min of run ends.
    """
    values, order = x.float().sort(dim=-1)
    n = values.shape[-1]
    pos = torch.arange(n, device=x.device).expand_as(values)
    new_run = torch.ones_like(values, dtype=torch.bool)
    new_run[..., 1:] = values[..., 1:] != values[..., :-1]
    run_end = torch.ones_like(new_run)
    run_end[..., :-1] = new_run[..., 1:]
    start = torch.where(new_run, pos, torch.zeros_like(pos)).cummax(dim=-1).values
    end = torch.where(run_end, pos, torch.full_like(pos, n - 1)).flip(-1).cummin(dim=-1).values.flip(-1)
    avg = (start + end).float() / 2 + 1
    return torch.empty_like(avg).scatter_(-1, order, avg)


def spearman(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Row-wise Spearman rank correlation (tie-corrected: Pearson on average ranks).

    :param x: ``[B, N]`` (e.g. relevance); :param y: ``[B, N]`` (e.g. tokens).
    :returns: ``Tensor[B]`` in [-1, 1]; 0 for a constant row.
    """
    rx = average_ranks(x)
    ry = average_ranks(y)
    rx = rx - rx.mean(dim=-1, keepdim=True)
    ry = ry - ry.mean(dim=-1, keepdim=True)
    denom = (rx.square().sum(-1) * ry.square().sum(-1)).sqrt()
    return torch.where(denom > eps, (rx * ry).sum(-1) / denom.clamp(min=eps), torch.zeros_like(denom))


def gini(tokens: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Row-wise Gini coefficient ``sum_i sum_j |t_i - t_j| / (2 n^2 mean(t))``.

    0 for equal budgets, ``1 - 1/n`` when one patch holds everything; 0 for an all-zero row.
    Computed from the sorted row in O(n log n): ``sum_ij |t_i - t_j| = 2 sum_i (2i - n + 1) t_(i)``.

    :param tokens: ``[B, n]`` non-negative. :returns: ``Tensor[B]`` in [0, 1).
    """
    t = tokens.float().sort(dim=-1).values
    n = t.shape[-1]
    coef = 2 * torch.arange(n, device=t.device, dtype=t.dtype) - n + 1
    pair_sum = 2 * (coef * t).sum(dim=-1)
    total = t.sum(dim=-1)  # n * mean
    return torch.where(total > eps, pair_sum / (2 * n * total.clamp(min=eps)), torch.zeros_like(total))
