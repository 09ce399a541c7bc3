"""ARR-COC relevance maps: three ways of scoring each patch, and their balance.

Notation: B images, an ``H x W`` patch grid, ``N = H * W`` patches in row-major order. Every map
is ``[B, N]`` in [0, 1], min-max normalised **per image** (never across the batch), so one image's
map never depends on another's.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def minmax(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rescale each row of ``x`` ``[B, N]`` to [0, 1]; a constant row becomes all zeros."""
    x = x.float()
    lo = x.amin(dim=-1, keepdim=True)
    span = x.amax(dim=-1, keepdim=True) - lo
    return torch.where(span > eps, (x - lo) / span.clamp(min=eps), torch.zeros_like(x))


def softmax_entropy(features: torch.Tensor) -> torch.Tensor:
    """Normalised entropy ``H(softmax(f)) / log C`` of each patch's features.

    :param features: ``[B, N, C]``. :returns: ``[B, N]`` in [0, 1] (not yet min-max normalised).
    """
    logp = F.log_softmax(features.float(), dim=-1)
    entropy = -(logp.exp() * logp).sum(dim=-1)
    return entropy / math.log(features.shape[-1])


def histogram_entropy(patch_pixels: torch.Tensor, bins: int = 16) -> torch.Tensor:
    """Normalised entropy of a ``bins``-bin intensity histogram per patch.

    :param patch_pixels: ``[B, N, P]`` intensities in [0, 1] (P pixels per patch).
    :returns: ``[B, N]`` in [0, 1] (``H / log bins``).
    """
    idx = (patch_pixels.float().clamp(0, 1) * bins).long().clamp(max=bins - 1)
    counts = F.one_hot(idx, bins).sum(dim=-2).float()  # [B, N, bins]
    p = counts / counts.sum(dim=-1, keepdim=True)
    entropy = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(dim=-1)
    return entropy / math.log(bins)


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut ``[B, C, H*patch, W*patch]`` images into ``[B, N, C*patch*patch]`` row-major patches."""
    b, c, _, _ = images.shape
    cols = F.unfold(images.float(), kernel_size=patch, stride=patch)  # [B, C*p*p, N]
    return cols.transpose(1, 2).reshape(b, -1, c * patch * patch)


def propositional_relevance(features: torch.Tensor | None = None, patch_pixels: torch.Tensor | None = None,
                            bins: int = 16) -> torch.Tensor:
    """Propositional relevance ("how much is there"): information content of each patch.

    Give ``features`` ``[B, N, C]`` (softmax-over-channels entropy, ``H / log C``) or
    ``patch_pixels`` ``[B, N, P]`` in [0, 1] (``bins``-bin histogram entropy).

    :returns: ``[B, N]`` in [0, 1], min-max normalised per image.
    """
    if features is not None:
        return minmax(softmax_entropy(features))
    if patch_pixels is not None:
        return minmax(histogram_entropy(patch_pixels, bins))
    raise ValueError("propositional_relevance needs features= or patch_pixels=")


def _padded_channel_sum(images: torch.Tensor) -> torch.Tensor:
    """The sum of the channels, edge-padded by one pixel: ``[B, C, H, W]`` -> ``[B, H+2, W+2]``.

    Without autograd it is written straight into the padded buffer (one pass fewer than a sum
    followed by ``F.pad``): this is the largest tensor any metric touches.
    """
    x = images.float()
    if x.requires_grad and torch.is_grad_enabled():
        return F.pad(x.sum(dim=1, keepdim=True), (1, 1, 1, 1), mode="replicate").squeeze(1)
    b, c, h, w = x.shape
    buf = torch.empty(b, h + 2, w + 2, dtype=x.dtype, device=x.device)
    inner = buf[:, 1:-1, 1:-1]
    if c == 1:
        inner.copy_(x[:, 0])
    else:
        torch.add(x[:, 0], x[:, 1], out=inner)
        for k in range(2, c):
            inner.add_(x[:, k])
    buf[:, 0, 1:-1] = buf[:, 1, 1:-1]
    buf[:, -1, 1:-1] = buf[:, -2, 1:-1]
    buf[:, :, 0] = buf[:, :, 1]
    buf[:, :, -1] = buf[:, :, -2]
    return buf


def _sobel_of_sum(images: torch.Tensor) -> torch.Tensor:
    """Sobel magnitude of the channel-sum image (C times that of the grey image): ``[B, H, W]``."""
    p = _padded_channel_sum(images)                                            # [B, H+2, W+2]
    dx = p[:, :, 2:] - p[:, :, :-2]                                            # [B, H+2, W]
    gx = torch.add(dx[:, :-2], dx[:, 2:]).add_(dx[:, 1:-1], alpha=2)           # [B, H, W]
    sy = torch.add(p[:, :, :-2], p[:, :, 2:]).add_(p[:, :, 1:-1], alpha=2)     # [B, H+2, W]
    gy = sy[:, 2:] - sy[:, :-2]
    if images.requires_grad and torch.is_grad_enabled():
        # The clamp keeps the gradient finite where the image is flat (d sqrt(x)/dx is inf at 0).
        return (gx.square() + gy.square()).clamp(min=1e-12).sqrt()
    return torch.hypot(gx, gy)


def sobel_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the grey-level (channel-mean) image, edges replicated:
    ``[B, C, Hp, Wp]`` -> ``[B, Hp, Wp]``.

    The 3x3 Sobel kernels are separable (a [1, 2, 1] smoothing times a [-1, 0, 1] difference), so
    they are applied as shifted slices: elementwise work, several times faster on the CPU than a
    one-channel ``conv2d``.
    """
    return _sobel_of_sum(images) / images.shape[1]


def perspectival_relevance(images: torch.Tensor, patch: int) -> torch.Tensor:
    """Perspectival relevance ("what stands out"): mean Sobel gradient magnitude in each patch.

    :param images: ``[B, C, H*patch, W*patch]``. :param patch: patch side in pixels.
    :returns: ``[B, N]`` in [0, 1], min-max normalised per image.
    """
    # The channel sum's magnitude is C times the grey image's: min-max makes the factor vanish.
    mag = _sobel_of_sum(images).unsqueeze(1)
    pooled = F.avg_pool2d(mag, kernel_size=patch, stride=patch)  # [B, 1, H, W]
    return minmax(pooled.flatten(1))


def participatory_relevance(vision_features: torch.Tensor | None = None,
                            text_embeds: torch.Tensor | None = None,
                            attention: torch.Tensor | None = None,
                            text_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Participatory relevance ("what matters to the question").

    With ``attention`` (text-to-image, ``[B, heads, T, N]`` or ``[B, T, N]``): the attention mass
    on each patch averaged over heads and (unmasked) text tokens, renormalised to sum to 1.
    Otherwise ``(cos(vision_features_i, mean text embedding) + 1) / 2``, with
    ``vision_features`` ``[B, N, D]`` and ``text_embeds`` ``[B, T, D]`` (or a pooled ``[B, D]``).
    ``text_mask`` ``[B, T]`` (1 = real token) excludes padding from both means.

    :returns: ``[B, N]`` in [0, 1], min-max normalised per image.
    """
    if attention is not None:
        mass = attention_per_patch(attention, text_mask)
        return minmax(mass)
    if vision_features is None or text_embeds is None:
        raise ValueError("participatory_relevance needs attention= or vision_features= and text_embeds=")
    text = mean_text_embedding(text_embeds, text_mask)
    cos = F.cosine_similarity(vision_features.float(), text.unsqueeze(1), dim=-1)
    return minmax((cos + 1) / 2)


def mean_text_embedding(text_embeds: torch.Tensor, text_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``[B, T, D]`` (or ``[B, D]``, returned as is) -> the mean over unmasked tokens ``[B, D]``."""
    if text_embeds.dim() == 2:
        return text_embeds.float()
    if text_mask is None:
        return text_embeds.float().mean(dim=1)
    w = text_mask.float().unsqueeze(-1)
    return (text_embeds.float() * w).sum(dim=1) / w.sum(dim=1).clamp(min=1)


def attention_per_patch(attention: torch.Tensor, text_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Text-to-image attention reduced to a distribution over patches.

    :param attention: ``[B, heads, T, N]``, ``[B, T, N]`` or ``[B, N]``.
    :param text_mask: ``[B, T]``: padding tokens (0) are left out of the mean.
    :returns: ``[B, N]``, non-negative, each row summing to 1.
    """
    a = attention.float()
    if a.dim() == 4:
        a = a.mean(dim=1)
    if a.dim() == 3:
        if text_mask is None:
            a = a.mean(dim=1)
        else:
            w = text_mask.float().unsqueeze(-1)
            a = (a * w).sum(dim=1) / w.sum(dim=1).clamp(min=1)
    a = a.clamp(min=0)
    return a / a.sum(dim=-1, keepdim=True).clamp(min=1e-12)


def balanced_relevance(scores: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Balance the three relevance maps: ``r = minmax(sum_k w_k * s_k)``.

    :param scores: ``[B, 3, N]`` (propositional, perspectival, participatory), or ``[B, K, N]``.
    :param weights: ``[B, K]`` per-image weights (default ``1/K`` each).
    :returns: ``[B, N]`` in [0, 1], min-max normalised per image.
    """
    if weights is None:
        weights = scores.new_full(scores.shape[:2], 1.0 / scores.shape[1])
    return minmax((weights.float().unsqueeze(-1) * scores.float()).sum(dim=1))
