"""The hook-facing layer: named groups of metrics over ``(outputs, batch)`` dicts.

Each group reads the named tensors it needs and is skipped (returns ``{}``) when one is missing,
so a model that only has logits still gets the language metrics. Values are 0-d tensors (batch
means) left on the model's device: ``run.log`` reads them off the training thread.

``outputs`` (a dict, a HuggingFace ``ModelOutput`` or any object with these attributes):

=====================  ==================  ================================================
key                    shape               used by
=====================  ==================  ================================================
``loss``               scalar              ``lm/loss``
``logits``             ``[B, T, V]``       ``lm/*`` (with ``batch["labels"]``)
``predictions``        ``list[str]``       ``vqa/accuracy``, ``text/exact_match``, ``caption/*``
``image_embeds``       ``[B, D]``          ``alignment/*`` (with ``text_embeds``)
``text_embeds``        ``[B, D]``          ``alignment/*``
``vision_features``    ``[B, N, D]``       ``encoder/*``, propositional/participatory relevance
``text_features``      ``[B, T, D]``       participatory relevance (cosine form; else ``text_embeds``)
``attention``          ``[B, h, T, N]``    ``attention/*``, participatory relevance
``relevance_scores``   ``[B, 3, N]``       the model's own three maps (else computed here)
``relevance_weights``  ``[B, 3]``          ``relevance/weight/*`` and the balance
``relevance``          ``[B, N]``          the balanced map (else balanced here)
``selected``           ``[B, N]`` bool     ``allocation/*``, ``compression/patch``
``tokens``             ``[B, N]``          ``allocation/*``, ``compression/*``
=====================  ==================  ================================================

``batch``: ``labels`` ``[B, T]`` (aligned with logits, ``-100`` ignored), ``attention_mask``
``[B, T]`` (text tokens), ``pixel_values`` ``[B, C, H*p, W*p]`` (perspectival relevance),
``answers`` (``list[list[str]]``, VQA), ``targets`` (``list[str]`` or lists, exact match and
captions), ``ocr_tokens`` ``[B]`` (text tokens an image renders, ``compression/optical``).

Settings, read from ``outputs`` or ``batch`` when present: ``grid`` ``(H, W)`` (default: square),
``patch_size`` (pixels; default ``image side / grid side``), ``lod_levels``, ``token_cap``
(per image), ``baseline_tokens``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import torch

from wandbkit_vlm import functional as F
from wandbkit_vlm.functional.allocation import DEFAULT_LEVELS

RELEVANCE_NAMES = ("propositional", "perspectival", "participatory")


def get(obj: Any, key: str) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` otherwise; None when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def setting(outputs: Any, batch: Any, key: str, default: Any = None) -> Any:
    """A setting from ``outputs``, else ``batch``, else ``default``."""
    value = get(outputs, key)
    if value is None:
        value = get(batch, key)
    return default if value is None else value


def _mean(x: torch.Tensor) -> torch.Tensor:
    return x.float().mean().detach()


# --- groups --------------------------------------------------------------------------------


def language_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """``lm/loss``, ``lm/perplexity``, ``lm/token_accuracy`` from logits and labels."""
    out: dict[str, Any] = {}
    loss = get(outputs, "loss")
    if isinstance(loss, torch.Tensor) and loss.dim() == 0:
        out["lm/loss"] = loss.detach()
    logits, labels = get(outputs, "logits"), get(batch, "labels")
    if isinstance(logits, torch.Tensor) and isinstance(labels, torch.Tensor) and logits.dim() == 3:
        ignore = int(setting(outputs, batch, "ignore_index", -100))
        per_sample = F.token_loss(logits.detach(), labels, ignore)
        out["lm/token_loss"] = _mean(per_sample)
        out["lm/perplexity"] = _mean(per_sample.exp())
        out["lm/token_accuracy"] = _mean(F.token_accuracy(logits.detach(), labels, ignore))
    return out


def answer_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """``vqa/accuracy`` (official rules), ``text/exact_match``, ``caption/bleu4``, ``caption/chrf``."""
    preds = get(outputs, "predictions")
    if preds is None:
        return {}
    preds = list(preds)
    out: dict[str, Any] = {}
    answers = get(batch, "answers")
    if answers is not None:
        out["vqa/accuracy"] = _mean(F.vqa_accuracy(preds, answers))
    targets = get(batch, "targets")
    if targets is not None:
        first = [t if isinstance(t, str) else t[0] for t in targets]
        out["text/exact_match"] = _mean(F.exact_match(preds, first))
        out["caption/bleu4"] = F.caption_bleu(preds, targets)
        out["caption/chrf"] = F.caption_chrf(preds, targets)
    return out


def encoder_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """Norms of the patch features (per image) and the effective rank of the batch's image
    embeddings (``image_embeds``, else the mean patch feature): collapse shows as a falling rank."""
    feats = get(outputs, "vision_features")
    out: dict[str, Any] = {}
    if isinstance(feats, torch.Tensor) and feats.dim() == 3:
        feats = feats.detach()
        stats = F.feature_norm_stats(feats)
        for name, value in stats.items():
            out[f"encoder/feature_norm_{name}"] = _mean(value)
    pooled = get(outputs, "image_embeds")
    if pooled is None and isinstance(feats, torch.Tensor) and feats.dim() == 3:
        pooled = feats.mean(dim=1)
    if isinstance(pooled, torch.Tensor) and pooled.dim() == 2 and pooled.shape[0] >= 2:
        # RankMe's definition: the spectrum of a batch of embeddings (one per image).
        out["encoder/effective_rank"] = F.effective_rank(pooled.detach())
    return out


def alignment_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """Matched vs unmatched cosine, recall@1/5 both ways, alignment and uniformity."""
    img, txt = get(outputs, "image_embeds"), get(outputs, "text_embeds")
    if not (isinstance(img, torch.Tensor) and isinstance(txt, torch.Tensor)):
        return {}
    img, txt = img.detach(), txt.detach()
    matched = F.matched_similarity(img, txt)
    unmatched = F.unmatched_similarity(img, txt)
    out = {"alignment/cos_matched": _mean(matched), "alignment/cos_unmatched": _mean(unmatched),
           "alignment/cos_gap": _mean(matched - unmatched),
           "alignment/alignment": _mean(F.alignment(img, txt)),
           "alignment/uniformity_image": F.uniformity(img),
           "alignment/uniformity_text": F.uniformity(txt)}
    for k in (1, 5):
        out[f"alignment/recall@{k}_i2t"] = _mean(F.retrieval_recall(img, txt, k, "image_to_text"))
        out[f"alignment/recall@{k}_t2i"] = _mean(F.retrieval_recall(img, txt, k, "text_to_image"))
    return out


_MAP_INPUTS = (("outputs", "relevance_scores"), ("outputs", "vision_features"), ("outputs", "attention"),
               ("outputs", "text_features"), ("outputs", "text_embeds"), ("batch", "pixel_values"),
               ("batch", "attention_mask"))
_last_maps: tuple[Any, ...] | None = None  # (weak refs, versions, settings, maps) of the last call


def relevance_maps(outputs: Any, batch: Any) -> dict[str, torch.Tensor]:
    """The three relevance maps ``[B, N]``: the model's own ``relevance_scores`` when given, else
    those computable from ``vision_features``, ``pixel_values`` and ``attention``/``text_features``.

    Two groups need them (relevance and allocation); the last result is reused while the input
    tensors are the very same objects, unmodified (held by weak reference: nothing is kept alive).
    """
    global _last_maps
    found = [get(outputs if side == "outputs" else batch, key) for side, key in _MAP_INPUTS]
    tensors = [t if isinstance(t, torch.Tensor) else None for t in found]
    settings = (setting(outputs, batch, "grid"), setting(outputs, batch, "patch_size"))
    versions = [t._version if t is not None else None for t in tensors]
    last = _last_maps
    if last is not None and last[2] == settings and last[1] == versions and all(
            (r is None and t is None) or (r is not None and r() is t)
            for r, t in zip(last[0], tensors, strict=True)):
        return last[3]
    maps = _compute_relevance_maps(outputs, batch)
    _last_maps = ([weakref.ref(t) if t is not None else None for t in tensors], versions, settings, maps)
    return maps


def _compute_relevance_maps(outputs: Any, batch: Any) -> dict[str, torch.Tensor]:
    scores = get(outputs, "relevance_scores")
    if isinstance(scores, torch.Tensor) and scores.dim() == 3:
        return {name: scores[:, i].detach() for i, name in enumerate(RELEVANCE_NAMES[:scores.shape[1]])}
    maps: dict[str, torch.Tensor] = {}
    feats = get(outputs, "vision_features")
    if isinstance(feats, torch.Tensor) and feats.dim() == 3:
        maps["propositional"] = F.propositional_relevance(features=feats.detach())
    pixels = get(batch, "pixel_values")
    if isinstance(pixels, torch.Tensor) and pixels.dim() == 4:
        grid = setting(outputs, batch, "grid")
        patch = setting(outputs, batch, "patch_size")
        if patch is None and grid is not None:
            patch = pixels.shape[-1] // int(grid[1])
        if patch is not None:
            maps["perspectival"] = F.perspectival_relevance(pixels.detach(), int(patch))
    attention = get(outputs, "attention")
    mask = get(batch, "attention_mask")
    if isinstance(attention, torch.Tensor):
        maps["participatory"] = F.participatory_relevance(attention=attention.detach(), text_mask=_text_mask(
            mask, attention))
    elif isinstance(feats, torch.Tensor) and feats.dim() == 3:
        # Token-level text features when given (masked mean), else the pooled text embedding,
        # as long as it lives in the same space as the patch features.
        text = get(outputs, "text_features")
        if not isinstance(text, torch.Tensor):
            text, mask = get(outputs, "text_embeds"), None
        if isinstance(text, torch.Tensor) and text.shape[-1] == feats.shape[-1]:
            if not (isinstance(mask, torch.Tensor) and text.dim() == 3 and mask.shape == text.shape[:2]):
                mask = None
            maps["participatory"] = F.participatory_relevance(feats.detach(), text.detach(), text_mask=mask)
    return maps


def _text_mask(mask: Any, attention: torch.Tensor) -> torch.Tensor | None:
    # Use the batch's text mask only when it lines up with the attention's text axis.
    if isinstance(mask, torch.Tensor) and attention.dim() >= 3 and mask.shape[-1] == attention.shape[-2]:
        return mask
    return None


def relevance_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """Mean of each relevance map, the balance weights, and how far the maps agree."""
    maps = relevance_maps(outputs, batch)
    out: dict[str, Any] = {}
    for name, value in maps.items():
        out[f"relevance/{name}"] = _mean(value)
    weights = get(outputs, "relevance_weights")
    if isinstance(weights, torch.Tensor) and weights.dim() == 2:
        for i, name in enumerate(RELEVANCE_NAMES[:weights.shape[1]]):
            out[f"relevance/weight/{name}"] = _mean(weights[:, i].detach())
    names = [n for n in RELEVANCE_NAMES if n in maps]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out[f"relevance/agreement/{a}_{b}"] = _mean(F.spearman(maps[a], maps[b]))
    return out


def balanced(outputs: Any, batch: Any) -> torch.Tensor | None:
    """The balanced relevance ``[B, N]``: ``outputs["relevance"]`` or the balance of the maps."""
    r = get(outputs, "relevance")
    if isinstance(r, torch.Tensor):
        return r.detach()
    maps = relevance_maps(outputs, batch)
    if not maps:
        return None
    scores = torch.stack([maps[n] for n in RELEVANCE_NAMES if n in maps], dim=1)
    weights = get(outputs, "relevance_weights")
    if not (isinstance(weights, torch.Tensor) and weights.shape[:2] == scores.shape[:2]):
        weights = None
    return F.balanced_relevance(scores, weights)


def allocation_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """Budgets, LOD distribution, compression, fidelity and selection geometry."""
    tokens, selected = get(outputs, "tokens"), get(outputs, "selected")
    if not isinstance(tokens, torch.Tensor):
        return {}
    tokens = tokens.detach().float()
    selected = (tokens > 0) if not isinstance(selected, torch.Tensor) else selected.detach().bool()
    levels = tuple(setting(outputs, batch, "lod_levels", DEFAULT_LEVELS))
    grid = setting(outputs, batch, "grid")
    grid = tuple(int(g) for g in grid) if grid is not None else None
    per_image = F.vision_tokens(tokens)
    n_selected = selected.float().sum(dim=-1)
    out: dict[str, Any] = {
        "allocation/vision_tokens": _mean(per_image),
        "allocation/tokens_per_batch": per_image.sum(),
        "allocation/selected_patches": _mean(n_selected),
        "allocation/tokens_per_patch": _mean(per_image / n_selected.clamp(min=1)),
        "allocation/gini": _mean(F.gini(tokens)),
        "allocation/gini_selected": _mean(_gini_selected(tokens, selected)),
        "compression/patch": _mean(F.patch_compression(selected)),
        "compression/vision": _mean(F.vision_compression(tokens, setting(outputs, batch, "baseline_tokens"))),
    }
    mask = get(batch, "attention_mask")
    if isinstance(mask, torch.Tensor):
        text = F.text_tokens(mask)
        out["allocation/text_tokens"] = _mean(text)
        out["allocation/total_tokens_per_batch"] = per_image.sum() + text.sum()
    ocr = get(batch, "ocr_tokens")
    if isinstance(ocr, torch.Tensor):
        out["compression/optical"] = _mean(F.optical_compression(ocr, tokens))
    cap = setting(outputs, batch, "token_cap")
    if cap is not None:
        out["allocation/utilisation"] = _mean(F.budget_utilisation(tokens, float(cap)))
    lod = F.lod_distribution(tokens, selected, levels)
    for i, level in enumerate(levels):
        out[f"allocation/lod_fraction/{level}"] = _mean(lod["fraction"][:, i])
        out[f"allocation/lod_token_share/{level}"] = _mean(lod["token_share"][:, i])
    out["allocation/lod_entropy"] = _mean(lod["entropy"])
    relevance = balanced(outputs, batch)
    if relevance is not None and relevance.shape == tokens.shape:
        out["allocation/spearman"] = _mean(F.spearman(relevance, tokens))
    if grid is not None or _is_square(tokens.shape[-1]):
        out["allocation/coverage"] = _mean(F.region_coverage(selected, grid))
        out["allocation/spatial_entropy"] = _mean(F.spatial_entropy(selected, grid))
        out["allocation/mean_nn_distance"] = _mean(F.mean_nearest_neighbour(selected, grid))
        out["allocation/clustering"] = _mean(F.clustering(selected, grid))
    return out


def _gini_selected(tokens: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    # Gini over the selected patches only: unselected patches sort first (as zeros) and are
    # dropped by shifting the rank weights; computed as the Gini of n_sel values.
    t = torch.where(selected, tokens, torch.zeros_like(tokens)).sort(dim=-1).values
    n = t.shape[-1]
    k = selected.float().sum(dim=-1, keepdim=True)
    # Rank among the selected (0-based) for the last k entries; zeros get weight 0 anyway.
    rank = torch.arange(n, device=t.device, dtype=t.dtype) - (n - k)
    coef = torch.where(rank >= 0, 2 * rank - k + 1, torch.zeros_like(rank))
    total = t.sum(dim=-1)
    ratio = 2 * (coef * t).sum(-1) / (2 * k.squeeze(-1) * total.clamp(min=1e-12))
    return torch.where(total > 0, ratio, torch.zeros_like(total))


def _is_square(n: int) -> bool:
    return math.isqrt(n) ** 2 == n


def attention_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """``attention/entropy`` (and normalised by log N) and ``attention/recall`` on selected patches."""
    attention = get(outputs, "attention")
    if not isinstance(attention, torch.Tensor):
        return {}
    attention = attention.detach()
    mask = _text_mask(get(batch, "attention_mask"), attention)
    entropy = F.attention_entropy(attention, mask)
    n = attention.shape[-1]
    out = {"attention/entropy": _mean(entropy),
           "attention/entropy_normalised": _mean(entropy / math.log(n))}
    selected = get(outputs, "selected")
    if isinstance(selected, torch.Tensor):
        out["attention/recall"] = _mean(F.attention_recall(attention, selected.detach(), mask))
    return out


GROUPS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "vlm_language": language_metrics,
    "vlm_answers": answer_metrics,
    "vlm_encoder": encoder_metrics,
    "vlm_alignment": alignment_metrics,
    "vlm_relevance": relevance_metrics,
    "vlm_allocation": allocation_metrics,
    "vlm_attention": attention_metrics,
}
"""The registered metrics by name (``wandbkit.metrics.compute_metrics(..., names=[...])``)."""


def vlm_metrics(outputs: Any, batch: Any) -> dict[str, Any]:
    """Every group at once (what the registered metrics give together)."""
    out: dict[str, Any] = {}
    for fn in GROUPS.values():
        out.update(fn(outputs, batch))
    return out
