"""Where the selected patches lie on the grid, and where the attention went.

Notation: B images, an ``H x W`` patch grid, ``N = H * W`` patches in row-major order, a selection
mask ``m`` ``[B, N]``. Distances are in patch units.
"""

from __future__ import annotations

import math

import torch

from wandbkit_vlm.functional.relevance import attention_per_patch

REGIONS = 4
"""The coverage and spatial entropy use a REGIONS x REGIONS grid of regions."""


def _grid(n: int, grid: tuple[int, int] | None) -> tuple[int, int]:
    if grid is None:
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"{n} patches is not a square grid: pass grid=(H, W)")
        return side, side
    h, w = grid
    if h * w != n:
        raise ValueError(f"grid {grid} has {h * w} patches, the mask has {n}")
    return h, w


def _region_counts(selected: torch.Tensor, grid: tuple[int, int] | None) -> torch.Tensor:
    n = selected.shape[-1]
    h, w = _grid(n, grid)
    rows = torch.arange(h, device=selected.device).repeat_interleave(w) * REGIONS // h
    cols = torch.arange(w, device=selected.device).repeat(h) * REGIONS // w
    region = torch.nn.functional.one_hot(rows * REGIONS + cols, REGIONS * REGIONS).float()  # [N, R]
    return selected.float() @ region  # [B, R]


def region_coverage(selected: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """Fraction of the 4x4 regions holding at least one selected patch: ``Tensor[B]`` in [0, 1]."""
    return (_region_counts(selected, grid) > 0).float().mean(dim=-1)


def spatial_entropy(selected: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """Entropy of the selected patches over the 4x4 regions, divided by ``log 16``.

    :returns: ``Tensor[B]`` in [0, 1]: 0 when everything sits in one region (or nothing is
        selected), 1 when the regions hold equal shares.
    """
    counts = _region_counts(selected, grid)
    p = counts / counts.sum(dim=-1, keepdim=True).clamp(min=1)
    h = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(dim=-1)
    return h / math.log(REGIONS * REGIONS)


def grid_coordinates(grid: tuple[int, int], device: torch.device | str | None = None) -> torch.Tensor:
    """``[N, 2]`` (row, column) of each patch in row-major order."""
    h, w = grid
    rows = torch.arange(h, device=device, dtype=torch.float32).repeat_interleave(w)
    cols = torch.arange(w, device=device, dtype=torch.float32).repeat(h)
    return torch.stack([rows, cols], dim=-1)


def mean_nearest_neighbour(selected: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """Mean distance from each selected patch to the nearest other selected patch.

    :returns: ``Tensor[B]`` in patch units (1 for a solid block); 0 when fewer than two patches
        are selected. Cost: one ``[B, N, N]`` masked minimum.
    """
    n = selected.shape[-1]
    g = _grid(n, grid)
    coords = grid_coordinates(g, selected.device)
    dist = torch.cdist(coords, coords)
    dist.fill_diagonal_(float("inf"))
    sel = selected.bool()
    nearest = dist.unsqueeze(0).masked_fill(~sel.unsqueeze(1), float("inf")).amin(dim=-1)  # [B, N]
    count = sel.sum(dim=-1)
    total = torch.where(sel & torch.isfinite(nearest), nearest, torch.zeros_like(nearest)).sum(-1)
    return torch.where(count >= 2, total / count.clamp(min=1), torch.zeros_like(total))


def clustering(selected: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """``1 - mean_nn / (sqrt(2) * G)`` for a ``G x G`` grid (``sqrt(H^2 + W^2)`` for ``H x W``).

    :returns: ``Tensor[B]`` in [0, 1]; near 1 when the selected patches touch each other.
    """
    h, w = _grid(selected.shape[-1], grid)
    return 1 - mean_nearest_neighbour(selected, (h, w)) / math.hypot(h, w)


def attention_entropy(attention: torch.Tensor, text_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Entropy (nats) of the attention over patches, after averaging heads and text tokens.

    :param attention: ``[B, N]``, ``[B, T, N]`` or ``[B, heads, T, N]``.
    :returns: ``Tensor[B]`` in [0, log N]; uniform attention gives ``log N``.
    """
    p = attention_per_patch(attention, text_mask)
    return -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(dim=-1)


def attention_recall(attention: torch.Tensor, selected: torch.Tensor,
                     text_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Attention mass that falls on the selected patches: ``Tensor[B]`` in [0, 1]."""
    p = attention_per_patch(attention, text_mask)
    return (p * selected.float()).sum(dim=-1)
