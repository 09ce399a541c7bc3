"""Visual-encoder health and image-text alignment.

Shapes: ``[B, D]`` pooled embeddings (one per image or caption), ``[B, N, D]`` patch features.
Everything is batched tensor algebra: no host synchronisation.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def feature_norms(features: torch.Tensor) -> torch.Tensor:
    """L2 norm of each feature vector.

    :param features: ``[B, D]`` or ``[B, N, D]``.
    :returns: ``[B]`` or ``[B, N]``.
    """
    return torch.linalg.vector_norm(features.float(), dim=-1)


def feature_norm_stats(features: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image mean, standard deviation and maximum of the patch feature norms.

    :param features: ``[B, N, D]``.
    :returns: ``{"mean", "std", "max"}``, each ``Tensor[B]``.
    """
    norms = feature_norms(features)
    return {"mean": norms.mean(dim=-1), "std": norms.std(dim=-1, unbiased=False),
            "max": norms.amax(dim=-1)}


def effective_rank(features: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Effective rank (Roy & Vetterli 2007; RankMe, Garrido et al. 2023): ``exp(H(p))`` with
    ``p`` the singular values of the feature matrix normalised to sum to 1.

    A healthy encoder spreads its features over many directions; collapse shows as a falling rank.
    The one exception to "no host sync" in this package: on CUDA, torch's eigen-solver checks
    for convergence errors, which waits for the device.

    :param features: ``[M, D]`` (e.g. the batch's pooled image embeddings) -> scalar, or
        ``[B, M, D]`` (e.g. each image's patch features) -> ``Tensor[B]``. In [1, min(M, D)].
    """
    x = features.float()
    # Singular values via the smaller Gram matrix's eigenvalues: cheaper than an SVD.
    gram = x.transpose(-1, -2) @ x if x.shape[-1] <= x.shape[-2] else x @ x.transpose(-1, -2)
    sigma = torch.linalg.eigvalsh(gram).clamp(min=0).sqrt()
    p = sigma / sigma.sum(dim=-1, keepdim=True).clamp(min=eps)
    entropy = -(p * (p + eps).log()).sum(dim=-1)
    return entropy.exp()


def similarity_matrix(image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
    """Cosine similarities of every image with every text: ``[B, B]`` from two ``[B, D]``."""
    return F.normalize(image_embeds.float(), dim=-1) @ F.normalize(text_embeds.float(), dim=-1).T


def matched_similarity(image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each image with its own text: ``Tensor[B]``."""
    return F.cosine_similarity(image_embeds.float(), text_embeds.float(), dim=-1)


def unmatched_similarity(image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity of each image with the other B-1 texts of the batch: ``Tensor[B]``
    (0 when B = 1)."""
    sim = similarity_matrix(image_embeds, text_embeds)
    b = sim.shape[0]
    off = sim.sum(dim=1) - sim.diagonal()
    return off / max(b - 1, 1)


def retrieval_recall(image_embeds: torch.Tensor, text_embeds: torch.Tensor, k: int = 1,
                     direction: str = "image_to_text") -> torch.Tensor:
    """In-batch retrieval: 1 where the matching item ranks in the top ``k``, else 0.

    :param image_embeds: ``[B, D]``; :param text_embeds: ``[B, D]`` (row i matches row i).
    :param direction: ``image_to_text`` (each image queries the texts) or ``text_to_image``.
    :returns: ``Tensor[B]``; its mean is recall@k. Depends on the batch by definition. Ties
        count against the match (a strict rank).
    """
    sim = similarity_matrix(image_embeds, text_embeds)
    if direction == "text_to_image":
        sim = sim.T
    elif direction != "image_to_text":
        raise ValueError(f"direction must be image_to_text or text_to_image, got {direction!r}")
    positive = sim.diagonal().unsqueeze(1)
    rank = (sim > positive).sum(dim=1)  # how many items beat the true match
    return (rank < k).float()


def alignment(image_embeds: torch.Tensor, text_embeds: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Alignment (Wang & Isola 2020): ``||f(x) - f(y)||^alpha`` of each normalised positive pair.

    :returns: ``Tensor[B]`` in [0, 2^alpha]; lower is better aligned. Its mean is the paper's loss.
    """
    x = F.normalize(image_embeds.float(), dim=-1)
    y = F.normalize(text_embeds.float(), dim=-1)
    return (x - y).norm(dim=-1).pow(alpha)


def uniformity(embeds: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Uniformity (Wang & Isola 2020): ``log E_{i != j} exp(-t ||f_i - f_j||^2)`` over the batch.

    :param embeds: ``[B, D]``, normalised here. :returns: a scalar <= 0; lower is more uniform
        (``-inf`` is impossible for B >= 2; B = 1 gives 0).
    """
    x = F.normalize(embeds.float(), dim=-1)
    b = x.shape[0]
    if b < 2:
        return x.new_zeros(())
    sq = torch.cdist(x, x).pow(2)
    off = ~torch.eye(b, dtype=torch.bool, device=x.device)
    # logsumexp over the off-diagonal pairs minus log(#pairs): a stable log-mean-exp.
    vals = (-t * sq).masked_fill(~off, float("-inf"))
    return torch.logsumexp(vals.flatten(), dim=0) - math.log(b * (b - 1))
