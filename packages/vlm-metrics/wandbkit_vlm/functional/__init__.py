"""Every formula of wandbkit-vlm as a plain function (torchmetrics' functional style).

Batch-first torch, on any device, with no host synchronisation and no Python loop over images or
patches (only the string metrics, VQA accuracy, exact match and the caption scores, work on the
host). Per-sample results are ``Tensor[B]`` unless a docstring says otherwise. Notation: B images,
an ``H x W`` patch grid, ``N = H * W`` patches in row-major order.
"""

from __future__ import annotations

from wandbkit_vlm.functional.alignment import (
    alignment,
    effective_rank,
    feature_norm_stats,
    feature_norms,
    matched_similarity,
    retrieval_recall,
    similarity_matrix,
    uniformity,
    unmatched_similarity,
)
from wandbkit_vlm.functional.allocation import (
    DEFAULT_LEVELS,
    allocate_tokens,
    average_ranks,
    budget_utilisation,
    gini,
    lod_distribution,
    optical_compression,
    patch_compression,
    snap_to_levels,
    spearman,
    text_tokens,
    top_k_mask,
    vision_compression,
    vision_tokens,
)
from wandbkit_vlm.functional.geometry import (
    attention_entropy,
    attention_recall,
    clustering,
    grid_coordinates,
    mean_nearest_neighbour,
    region_coverage,
    spatial_entropy,
)
from wandbkit_vlm.functional.relevance import (
    attention_per_patch,
    balanced_relevance,
    histogram_entropy,
    mean_text_embedding,
    minmax,
    participatory_relevance,
    patchify,
    perspectival_relevance,
    propositional_relevance,
    sobel_magnitude,
    softmax_entropy,
)
from wandbkit_vlm.functional.text import (
    caption_bleu,
    caption_chrf,
    exact_match,
    perplexity,
    token_accuracy,
    token_loss,
)
from wandbkit_vlm.functional.vqa import normalize_vqa_answer, vqa_accuracy, vqa_score

__all__ = [
    "DEFAULT_LEVELS", "alignment", "allocate_tokens", "attention_entropy", "attention_per_patch",
    "attention_recall", "average_ranks", "balanced_relevance", "budget_utilisation", "caption_bleu",
    "caption_chrf", "clustering", "effective_rank", "exact_match", "feature_norm_stats",
    "feature_norms", "gini", "grid_coordinates", "histogram_entropy", "lod_distribution",
    "matched_similarity", "mean_nearest_neighbour", "mean_text_embedding", "minmax",
    "normalize_vqa_answer", "optical_compression", "participatory_relevance", "patch_compression",
    "patchify", "perplexity", "perspectival_relevance", "propositional_relevance", "region_coverage",
    "retrieval_recall", "similarity_matrix", "snap_to_levels", "sobel_magnitude", "softmax_entropy",
    "spatial_entropy", "spearman", "text_tokens", "token_accuracy", "token_loss", "top_k_mask",
    "uniformity", "unmatched_similarity", "vision_compression", "vision_tokens", "vqa_accuracy",
    "vqa_score",
]
