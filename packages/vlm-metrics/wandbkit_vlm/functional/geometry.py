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
        are selected.

    Exact, and separable like a distance transform: the nearest other patch lies either in the
    same column (a column pass that skips the patch itself) or in another column (a column pass,
    then a row pass that skips the patch's own column). Cost ``B*H*W*(H+W)``, not ``B*N^2``.
    """
    n = selected.shape[-1]
    h, w = _grid(n, grid)
    sel = selected.bool().view(-1, h, w)
    inf = torch.tensor(float("inf"), device=selected.device)
    # 0 where a patch is selected, inf elsewhere: [B, 1, H(r'), W].
    cost = torch.where(sel, torch.zeros((), device=selected.device), inf).unsqueeze(1)
    r = torch.arange(h, device=selected.device, dtype=torch.float32)
    dr2 = (r[:, None] - r[None, :]).square()                                  # [H(r), H(r')]
    dr2_other = dr2 + torch.diag(torch.full((h,), float("inf"), device=selected.device))
    same_col = (dr2_other[None, :, :, None] + cost).amin(dim=2)               # [B, H, W]
    col_best = (dr2[None, :, :, None] + cost).amin(dim=2)                     # [B, H, W]
    c = torch.arange(w, device=selected.device, dtype=torch.float32)
    dc2_other = (c[:, None] - c[None, :]).square() + torch.diag(torch.full((w,), float("inf"),
                                                                          device=selected.device))
    other_col = (dc2_other[None, None] + col_best.unsqueeze(2)).amin(dim=-1)  # [B, H, W]
    nearest = torch.minimum(same_col, other_col).sqrt().view(-1, n)
    count = sel.view(-1, n).sum(dim=-1)
    ok = sel.view(-1, n) & torch.isfinite(nearest)
    total = torch.where(ok, nearest, torch.zeros_like(nearest)).sum(-1)
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
