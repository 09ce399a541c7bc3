"""Each formula on small hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from wandbkit_vlm import functional as F


def test_attention_entropy_uniform_is_log_n() -> None:
    n = 64
    uniform = torch.full((3, n), 1.0 / n)
    assert torch.allclose(F.attention_entropy(uniform), torch.full((3,), math.log(n)))
    # [B, heads, T, N] is averaged over heads and text tokens first.
    assert torch.allclose(F.attention_entropy(torch.ones(2, 4, 5, n)), torch.full((2,), math.log(n)))
    one_hot = torch.zeros(1, n)
    one_hot[0, 7] = 1
    assert F.attention_entropy(one_hot).item() == pytest.approx(0.0, abs=1e-6)


def test_attention_recall() -> None:
    attn = torch.tensor([[0.5, 0.25, 0.25, 0.0]])
    sel = torch.tensor([[True, False, True, False]])
    assert F.attention_recall(attn, sel).item() == pytest.approx(0.75)


def test_gini_hand_cases() -> None:
    assert torch.equal(F.gini(torch.full((2, 10), 256.0)), torch.zeros(2))
    # One patch holds everything: (n - 1) / n.
    assert F.gini(torch.tensor([[0.0, 0.0, 0.0, 400.0]])).item() == pytest.approx(0.75)
    # [1, 3]: |1-3| * 2 / (2 * 4 * 2) = 0.25.
    assert F.gini(torch.tensor([[1.0, 3.0]])).item() == pytest.approx(0.25)
    assert F.gini(torch.zeros(1, 5)).item() == 0.0


def test_gini_matches_the_double_sum() -> None:
    t = torch.rand(4, 9) * 400
    n = t.shape[1]
    brute = (t[:, :, None] - t[:, None, :]).abs().sum((1, 2)) / (2 * n * n * t.mean(1))
    assert torch.allclose(F.gini(t), brute, atol=1e-5)


def test_spearman() -> None:
    r = torch.rand(3, 20)
    assert torch.allclose(F.spearman(r, r * 5 + 2), torch.ones(3))  # monotone -> 1
    assert torch.allclose(F.spearman(r, -r), -torch.ones(3))
    # Monotone but snapped to levels (ties): still the tie-corrected value of scipy.
    x = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    y = torch.tensor([[64.0, 64.0, 256.0, 400.0]])
    # Ranks x: 1,2,3,4; y: 1.5,1.5,3,4 -> Pearson = 0.9486833.
    assert F.spearman(x, y).item() == pytest.approx(0.9486833, abs=1e-6)
    assert F.spearman(x, torch.ones(1, 4)).item() == 0.0


def test_average_ranks_ties() -> None:
    assert F.average_ranks(torch.tensor([[3.0, 1.0, 3.0, 2.0]])).tolist() == [[3.5, 1.0, 3.5, 2.0]]


def test_allocation_and_levels() -> None:
    r = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    sel = torch.tensor([[True, True, True, False]])
    # 64 + 336 r: 64, 148, 232, 400 -> nearest levels 64, 160, 256 (and 0 for the unselected).
    assert F.allocate_tokens(r, sel).tolist() == [[64.0, 160.0, 256.0, 0.0]]
    assert F.allocate_tokens(r, torch.ones_like(sel), gamma=2.0).tolist() == [[64.0, 100.0, 160.0, 400.0]]
    assert F.snap_to_levels(torch.tensor([82.0]), (64, 100)).tolist() == [64.0]  # tie -> lower
    assert F.top_k_mask(torch.tensor([[0.1, 0.9, 0.5]]), 2).tolist() == [[False, True, True]]


def test_compression_ratios() -> None:
    tokens = torch.tensor([[64.0, 400.0, 0.0, 0.0], [256.0, 256.0, 256.0, 256.0]])
    sel = tokens > 0
    assert F.patch_compression(sel).tolist() == [2.0, 1.0]
    # Baseline N * 400 = 1600 tokens.
    assert F.vision_compression(tokens).tolist() == pytest.approx([1600 / 464, 1600 / 1024])
    assert F.vision_compression(tokens, 928.0).tolist() == pytest.approx([2.0, 928 / 1024])
    assert F.optical_compression(torch.tensor([928.0, 1024.0]), tokens).tolist() == pytest.approx([2.0, 1.0])
    assert F.vision_tokens(tokens).tolist() == [464.0, 1024.0]
    assert F.budget_utilisation(tokens, 512).tolist() == pytest.approx([464 / 512, 2.0])
    assert F.text_tokens(torch.tensor([[1, 1, 0], [1, 1, 1]])).tolist() == [2.0, 3.0]


def test_lod_distribution() -> None:
    tokens = torch.tensor([[64.0, 64.0, 256.0, 0.0]])
    lod = F.lod_distribution(tokens, tokens > 0, (64, 256, 400))
    assert lod["fraction"][0].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert lod["token_share"][0].tolist() == pytest.approx([128 / 384, 256 / 384, 0.0])
    expected = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert lod["entropy"].item() == pytest.approx(expected)


def test_selection_geometry() -> None:
    # 8x8 grid: a solid 2x2 block in one corner.
    sel = torch.zeros(1, 64, dtype=torch.bool)
    sel[0, [0, 1, 8, 9]] = True
    assert F.mean_nearest_neighbour(sel).item() == pytest.approx(1.0)
    assert F.clustering(sel).item() == pytest.approx(1 - 1 / (math.sqrt(2) * 8))
    assert F.region_coverage(sel).item() == pytest.approx(1 / 16)   # all in one 2x2 region
    assert F.spatial_entropy(sel).item() == pytest.approx(0.0)
    # One patch in each of the 16 regions: full coverage, entropy 1.
    spread = torch.zeros(1, 64, dtype=torch.bool)
    spread[0, [r * 16 + c * 2 for r in range(4) for c in range(4)]] = True
    assert F.region_coverage(spread).item() == 1.0
    assert F.spatial_entropy(spread).item() == pytest.approx(1.0)
    assert F.mean_nearest_neighbour(spread).item() == pytest.approx(2.0)
    single = torch.zeros(1, 64, dtype=torch.bool)
    single[0, 5] = True
    assert F.mean_nearest_neighbour(single).item() == 0.0
    with pytest.raises(ValueError, match="not a square grid"):
        F.region_coverage(torch.ones(1, 10, dtype=torch.bool))
    assert F.region_coverage(torch.ones(1, 10, dtype=torch.bool), grid=(2, 5)).item() == pytest.approx(8 / 16)


def test_relevance_maps() -> None:
    # Equal-logit features have maximal entropy; a peaked one has less.
    feats = torch.zeros(1, 3, 8)
    feats[0, 1, 0] = 10.0
    ent = F.softmax_entropy(feats)
    assert ent[0, 0].item() == pytest.approx(1.0) and ent[0, 1].item() < 0.1
    assert F.propositional_relevance(features=feats)[0].tolist() == pytest.approx([1.0, 0.0, 1.0])
    # A flat patch has no edges; a patch holding a step edge has the most.
    img = torch.zeros(1, 3, 8, 16)
    img[:, :, :, 12:] = 1.0
    assert F.perspectival_relevance(img, 8)[0].tolist() == pytest.approx([0.0, 1.0])
    # A constant patch has zero histogram entropy, a half/half patch log 2 / log bins.
    pix = torch.tensor([[[0.0] * 4, [0.0, 0.0, 1.0, 1.0]]])
    assert F.histogram_entropy(pix, bins=4)[0].tolist() == pytest.approx([0.0, 0.5])
    # Participatory: cosine with the mean text embedding, rescaled, then min-max.
    vis = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])
    text = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    assert F.participatory_relevance(vis, text)[0].tolist() == pytest.approx([1.0, 0.5, 0.0])
    attn = torch.tensor([[[[0.2, 0.6, 0.2]]]])
    assert F.participatory_relevance(attention=attn)[0].tolist() == pytest.approx([0.0, 1.0, 0.0])
    with pytest.raises(ValueError):
        F.participatory_relevance()


def test_minmax_and_balance() -> None:
    assert F.minmax(torch.tensor([[2.0, 4.0, 3.0], [5.0, 5.0, 5.0]])).tolist() == [[0.0, 1.0, 0.5], [0.0] * 3]
    scores = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])
    assert F.balanced_relevance(scores).tolist() == [[0.0, 1.0]]
    w = torch.tensor([[0.0, 1.0, 0.0]])
    assert F.balanced_relevance(scores, w).tolist() == [[1.0, 0.0]]


def test_language_metrics() -> None:
    logits = torch.tensor([[[5.0, 0.0], [0.0, 5.0], [5.0, 0.0]]])
    labels = torch.tensor([[0, 0, -100]])
    assert F.token_accuracy(logits, labels).tolist() == [0.5]
    ce = torch.nn.functional.cross_entropy(logits[0, :2], labels[0, :2])
    assert F.token_loss(logits, labels).item() == pytest.approx(ce.item())
    assert F.perplexity(logits, labels).item() == pytest.approx(math.exp(ce.item()))
    assert F.exact_match(["A  cat", "dog"], ["a cat", "cat"]).tolist() == [1.0, 0.0]
    assert F.exact_match(["A cat"], ["a cat"], normalize=False).tolist() == [0.0]


def test_caption_metrics_come_from_torchmetrics() -> None:
    from torchmetrics.functional.text import bleu_score, chrf_score

    preds = ["a red square on the left", "a blue disc"]
    refs = [["a red square at the left", "red square left"], ["a blue disc"]]
    assert F.caption_bleu(preds, refs).item() == pytest.approx(bleu_score(preds, refs).item())
    assert F.caption_chrf(preds, refs).item() == pytest.approx(chrf_score(preds, refs).item())
    assert F.caption_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]).item() == pytest.approx(1.0)


def test_alignment_metrics() -> None:
    img = torch.eye(4)
    txt = torch.eye(4)
    assert F.matched_similarity(img, txt).tolist() == [1.0] * 4
    assert F.unmatched_similarity(img, txt).tolist() == [0.0] * 4
    assert F.retrieval_recall(img, txt, 1).tolist() == [1.0] * 4
    swapped = txt[[1, 0, 2, 3]]
    assert F.retrieval_recall(img, swapped, 1, "text_to_image").tolist() == [0.0, 0.0, 1.0, 1.0]
    assert F.retrieval_recall(img, swapped, 2).tolist() == [1.0] * 4
    assert F.alignment(img, txt).tolist() == pytest.approx([0.0] * 4)
    assert F.alignment(img, -txt).tolist() == pytest.approx([4.0] * 4)
    # Orthonormal points: every pair at squared distance 2 -> log exp(-4) = -4.
    assert F.uniformity(img).item() == pytest.approx(-4.0)
    with pytest.raises(ValueError, match="direction"):
        F.retrieval_recall(img, txt, 1, "sideways")


def test_encoder_metrics() -> None:
    feats = torch.zeros(2, 4, 3)
    feats[:, :, 0] = 3.0
    feats[:, :, 1] = 4.0
    stats = F.feature_norm_stats(feats)
    assert stats["mean"].tolist() == [5.0, 5.0] and stats["std"].tolist() == [0.0, 0.0]
    # Rank-1 features have effective rank 1; orthonormal ones have rank D.
    assert F.effective_rank(feats).tolist() == pytest.approx([1.0, 1.0], abs=1e-3)
    assert F.effective_rank(torch.eye(6)).item() == pytest.approx(6.0, rel=1e-4)


def test_sobel_matches_the_3x3_convolution() -> None:
    img = torch.rand(2, 3, 12, 20)
    gray = torch.nn.functional.pad(img.mean(1, keepdim=True), (1, 1, 1, 1), mode="replicate")
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    gx = torch.nn.functional.conv2d(gray, kx)
    gy = torch.nn.functional.conv2d(gray, kx.transpose(-1, -2))
    assert torch.allclose(F.sobel_magnitude(img), (gx.square() + gy.square()).sqrt().squeeze(1), atol=1e-5)
    # With gradients on (e.g. an input-gradient check), flat regions stay finite.
    x = torch.full((1, 3, 8, 8), 0.5, requires_grad=True)
    F.sobel_magnitude(x).sum().backward()
    assert torch.isfinite(x.grad).all()
