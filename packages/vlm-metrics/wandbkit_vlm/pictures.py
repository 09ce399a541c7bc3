"""Pictures that explain the metrics, as :mod:`wandbkit` media (they reach W&B and the store).

- :func:`heatmap_overlay`: a relevance or attention map over the image;
- :func:`selection_overlay`: the patch grid, selected patches coloured by their token budget;
- :func:`lod_histogram` and :func:`budget_histogram`: where the tokens went;
- :func:`worst_samples`: the lowest-scoring samples (a table and an image strip);
- :func:`log_pictures`: all of them for one batch, in one ``run.log`` call.

Drawn with numpy and Pillow on the host: call them at logging intervals, not every step (the
tensors are copied to the CPU here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from wandbkit.media import Histogram, Image, Table

# A perceptually ordered colour ramp (viridis' end points and three stops between them).
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                 dtype=np.float64) / 255.0
_LEVEL_COLOURS = np.array([[49, 130, 189], [49, 163, 84], [255, 187, 51], [230, 85, 13],
                           [204, 0, 51], [117, 107, 177], [99, 99, 99]], dtype=np.float64) / 255.0


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _image_hwc(image: Any) -> np.ndarray:
    """``[C, H, W]``/``[H, W, C]``/``[H, W]`` in [0, 1] (or uint8) -> float ``[H, W, 3]`` in [0, 1]."""
    arr = _numpy(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.max(initial=0.0) > 1.0:
        arr = arr / 255.0
    return np.clip(arr[..., :3], 0.0, 1.0)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB in [0, 1] on a viridis-like ramp: shape ``values.shape + (3,)``."""
    v = np.clip(np.nan_to_num(values), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(v).astype(int).clip(0, len(_RAMP) - 2)
    frac = (v - lo)[..., None]
    return _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac


def _grid_of(n: int, grid: tuple[int, int] | None) -> tuple[int, int]:
    if grid is not None:
        return int(grid[0]), int(grid[1])
    side = int(round(n ** 0.5))
    if side * side != n:
        raise ValueError(f"{n} patches is not a square grid: pass grid=(H, W)")
    return side, side


def _upsample(patch_values: np.ndarray, grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """``[N]`` per-patch values -> ``[H_px, W_px]`` by nearest-neighbour blocks."""
    h, w = grid
    cells = patch_values.reshape(h, w)
    rows = (np.arange(size[0]) * h // size[0]).clip(0, h - 1)
    cols = (np.arange(size[1]) * w // size[1]).clip(0, w - 1)
    return cells[rows][:, cols]


def _scale(pixels: np.ndarray, scale: int) -> np.ndarray:
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else pixels


def heatmap_overlay(image: Any, heatmap: Any, grid: tuple[int, int] | None = None, alpha: float = 0.55,
                    scale: int = 4, caption: str | None = None) -> Image:
    """A map over the image: per-patch values ``[N]`` (with ``grid``) or a ``[h, w]`` map.

    Values are min-max normalised for display, then coloured and blended with ``alpha``.
    """
    base = _image_hwc(image)
    values = _numpy(heatmap)
    if values.ndim == 1:
        values = _upsample(values, _grid_of(values.size, grid), base.shape[:2])
    else:
        h, w = values.shape
        values = _upsample(values.ravel(), (h, w), base.shape[:2])
    lo, hi = float(values.min()), float(values.max())
    values = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    blended = (1 - alpha) * base + alpha * colormap(values)
    return Image(_scale(blended, scale), caption=caption)


def selection_overlay(image: Any, tokens: Any, grid: tuple[int, int] | None = None,
                      levels: Sequence[int] = (64, 100, 160, 256, 400), scale: int = 4,
                      caption: str | None = None) -> Image:
    """The patch grid over the (dimmed) image; each selected patch (tokens > 0) is tinted with
    its level's colour, unselected patches stay grey. A legend strip at the bottom shows the
    colour of each level, left to right."""
    base = _image_hwc(image)
    t = _numpy(tokens).ravel()
    g = _grid_of(t.size, grid)
    lv = np.asarray(levels, dtype=np.float64)
    level_idx = np.abs(t[:, None] - lv[None, :]).argmin(axis=1)
    colours = _LEVEL_COLOURS[level_idx % len(_LEVEL_COLOURS)]
    selected = t > 0
    tint = np.where(selected[:, None], colours, 0.5)
    strength = np.where(selected, 0.6, 0.0)
    size = base.shape[:2]
    tint_px = np.stack([_upsample(tint[:, c], g, size) for c in range(3)], axis=-1)
    strength_px = _upsample(strength, g, size)[..., None]
    dimmed = np.where(_upsample(selected.astype(float), g, size)[..., None] > 0, base, 0.35 * base + 0.2)
    pixels = _scale((1 - strength_px) * dimmed + strength_px * tint_px, scale)
    # Grid lines every patch.
    ph, pw = pixels.shape[0] / g[0], pixels.shape[1] / g[1]
    for i in range(1, g[0]):
        pixels[int(round(i * ph)), :, :] = 1.0
    for j in range(1, g[1]):
        pixels[:, int(round(j * pw)), :] = 1.0
    legend = np.ones((max(6, scale * 3), pixels.shape[1], 3))
    width = pixels.shape[1] // len(lv)
    for k in range(len(lv)):
        legend[:, k * width:(k + 1) * width] = _LEVEL_COLOURS[k % len(_LEVEL_COLOURS)]
    label = caption or "selected patches by tokens: " + " < ".join(str(int(v)) for v in lv)
    return Image(np.concatenate([pixels, legend], axis=0), caption=label)


def lod_histogram(tokens: Any, levels: Sequence[int] = (64, 100, 160, 256, 400)) -> Histogram:
    """Selected patches per level of detail across the batch (one bin per level)."""
    t = _numpy(tokens).ravel()
    lv = np.asarray(levels, dtype=np.float64)
    sel = t[t > 0]
    idx = np.abs(sel[:, None] - lv[None, :]).argmin(axis=1) if sel.size else np.zeros(0, dtype=int)
    counts = np.bincount(idx, minlength=len(lv)).astype(np.float64)
    # Bin edges halfway between levels, so each bin is centred on its level.
    mids = (lv[1:] + lv[:-1]) / 2
    edges = np.concatenate([[lv[0] - (mids[0] - lv[0]) if len(lv) > 1 else lv[0] - 1], mids,
                            [lv[-1] + (lv[-1] - mids[-1]) if len(lv) > 1 else lv[-1] + 1]])
    return Histogram(counts=counts, edges=edges)


def budget_histogram(tokens: Any, num_bins: int = 16) -> Histogram:
    """Vision tokens per image across the batch."""
    per_image = _numpy(tokens).reshape(_numpy(tokens).shape[0], -1).sum(axis=1)
    return Histogram(values=per_image, num_bins=num_bins)


def worst_samples(images: Any, questions: Sequence[str], answers: Sequence[Sequence[str] | str],
                  predictions: Sequence[str], scores: Any, k: int = 8, scale: int = 2) -> tuple[Table, Image]:
    """The ``k`` lowest-scoring samples: a table (rank, question, answer, prediction, score) and
    one image strip of the same samples, left to right in rank order, each labelled with its rank.

    Table cells are numbers and strings (what every wandbkit sink stores), so the pictures travel
    as one strip image beside the table. ``answers`` may hold the human answers per sample; the
    table shows the most common one.
    """
    s = _numpy(scores).ravel()
    order = np.argsort(s, kind="stable")[:k]
    rows, tiles = [], []
    for rank, i in enumerate(order.tolist()):
        ans = answers[i]
        shown = ans if isinstance(ans, str) else max(sorted(set(ans)), key=list(ans).count)
        rows.append([rank, str(questions[i]), str(shown), str(predictions[i]), float(s[i])])
        tiles.append(_label(_scale(_image_hwc(images[i]), scale), f"#{rank} {s[i]:.2f}"))
    table = Table(columns=["rank", "question", "answer", "prediction", "score"], data=rows)
    gap = np.ones((tiles[0].shape[0], 4, 3)) if tiles else np.ones((1, 1, 3))
    strip = np.concatenate([x for t in tiles for x in (t, gap)][:-1], axis=1) if tiles else gap
    return table, Image(strip, caption="worst samples, rank 0 first")


def _label(pixels: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` on a white band under ``pixels``."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    band = np.ones((12, pixels.shape[1], 3))
    img = PILImage.fromarray((np.concatenate([pixels, band], axis=0) * 255).astype(np.uint8))
    ImageDraw.Draw(img).text((2, pixels.shape[0]), text, fill=(0, 0, 0))
    return np.asarray(img, dtype=np.float64) / 255.0


def log_pictures(run: Any, outputs: Any, batch: Any, step: int | None = None, index: int = 0,
                 worst: int = 8) -> dict[str, Any]:
    """Log every picture that the batch allows, in one ``run.log`` call, and return them.

    Reads ``batch["pixel_values"]`` and, from ``outputs``: ``relevance``, ``attention``,
    ``tokens`` (the same keys as the metrics; see :mod:`wandbkit_vlm.metrics`) plus
    ``predictions`` with ``batch["answers"]``/``batch["questions"]`` for the worst-samples table.
    ``index`` picks the image shown in the overlays.
    """
    from wandbkit_vlm import functional as F
    from wandbkit_vlm.metrics import balanced, get, setting

    pixels = get(batch, "pixel_values")
    if pixels is None:
        return {}
    grid = setting(outputs, batch, "grid")
    grid = (int(grid[0]), int(grid[1])) if grid is not None else None
    levels = tuple(setting(outputs, batch, "lod_levels", F.DEFAULT_LEVELS))
    image = pixels[index]
    media: dict[str, Any] = {}
    relevance = balanced(outputs, batch)
    if relevance is not None:
        media["pictures/relevance"] = heatmap_overlay(image, relevance[index], grid,
                                                      caption="balanced relevance")
    attention = get(outputs, "attention")
    if attention is not None:
        per_patch = F.attention_per_patch(attention.detach()[index:index + 1])[0]
        media["pictures/attention"] = heatmap_overlay(image, per_patch, grid, caption="attention")
    tokens = get(outputs, "tokens")
    if tokens is not None:
        media["pictures/selection"] = selection_overlay(image, tokens[index], grid, levels)
        media["pictures/lod_histogram"] = lod_histogram(tokens, levels)
        media["pictures/budget_histogram"] = budget_histogram(tokens)
    preds, answers = get(outputs, "predictions"), get(batch, "answers")
    if preds is not None and answers is not None:
        preds = list(preds)
        scores = F.vqa_accuracy(preds, answers)
        questions = get(batch, "questions") or [""] * len(preds)
        table, strip = worst_samples(pixels, questions, answers, preds, scores, k=worst)
        media["pictures/worst_samples"] = table
        media["pictures/worst_images"] = strip
    if media and run is not None:
        run.log(media, step=step)
    return media
