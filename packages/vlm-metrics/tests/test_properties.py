"""Property tests: ranges, permutation behaviour and batch independence."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wandbkit_vlm import functional as F

FAST = settings(max_examples=25, deadline=None)


@st.composite
def maps(draw: st.DrawFn, grid: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of relevance-like maps and token allocations on a grid x grid patch grid."""
    b = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(b, grid * grid, generator=g)
    k = draw(st.integers(1, grid * grid))
    sel = F.top_k_mask(r, k)
    return r, F.allocate_tokens(r, sel)


def per_sample(r: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
    sel = t > 0
    return {"gini": F.gini(t), "spearman": F.spearman(r, t), "coverage": F.region_coverage(sel),
            "spatial_entropy": F.spatial_entropy(sel), "clustering": F.clustering(sel),
            "minmax": F.minmax(r), "attention_entropy": F.attention_entropy(r),
            "attention_recall": F.attention_recall(r, sel), "patch": F.patch_compression(sel),
            "lod_entropy": F.lod_distribution(t, sel)["entropy"]}


@FAST
@given(maps())
def test_ranges(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, t = data
    n = r.shape[1]
    m = per_sample(r, t)
    assert ((m["gini"] >= 0) & (m["gini"] < 1)).all()
    assert ((m["spearman"] >= -1 - 1e-5) & (m["spearman"] <= 1 + 1e-5)).all()
    for key in ("coverage", "spatial_entropy", "clustering", "minmax", "attention_recall"):
        assert ((m[key] >= -1e-6) & (m[key] <= 1 + 1e-6)).all(), key
    assert ((m["attention_entropy"] >= 0) & (m["attention_entropy"] <= math.log(n) + 1e-5)).all()
    assert (m["patch"] >= 1).all()
    assert (m["lod_entropy"] <= math.log(len(F.DEFAULT_LEVELS)) + 1e-6).all()
    # Allocation only uses the levels, and spends nothing on unselected patches.
    assert set(t.unique().tolist()) <= {0.0, *map(float, F.DEFAULT_LEVELS)}


@FAST
@given(maps())
def test_allocation_is_monotone_in_relevance(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, _ = data
    t = F.allocate_tokens(r, torch.ones_like(r, dtype=torch.bool))
    assert (F.spearman(r, t) >= 0).all()
    order = r.argsort(dim=1)
    assert (t.gather(1, order).diff(dim=1) >= 0).all()


@FAST
@given(maps(), st.integers(0, 2**31 - 1))
def test_batch_order_only_permutes_results(data: tuple[torch.Tensor, torch.Tensor], seed: int) -> None:
    r, t = data
    perm = torch.randperm(r.shape[0], generator=torch.Generator().manual_seed(seed))
    a, b = per_sample(r, t), per_sample(r[perm], t[perm])
    for key in a:
        assert torch.allclose(a[key][perm], b[key], atol=1e-6), key


@FAST
@given(maps(), maps())
def test_batch_independence(first: tuple[torch.Tensor, torch.Tensor],
                            other: tuple[torch.Tensor, torch.Tensor]) -> None:
    # Adding images to the batch never changes the metrics of the images already there.
    r, t = first
    alone = per_sample(r, t)
    together = per_sample(torch.cat([r, other[0]]), torch.cat([t, other[1]]))
    for key in alone:
        assert torch.allclose(alone[key], together[key][: r.shape[0]], atol=1e-6), key


@FAST
@given(maps())
def test_gini_and_entropy_ignore_patch_order(data: tuple[torch.Tensor, torch.Tensor]) -> None:
    r, t = data
    perm = torch.randperm(r.shape[1])
    assert torch.allclose(F.gini(t), F.gini(t[:, perm]), atol=1e-6)
    assert torch.allclose(F.attention_entropy(r), F.attention_entropy(r[:, perm]), atol=1e-5)
    assert torch.allclose(F.spearman(r, t), F.spearman(r[:, perm], t[:, perm]), atol=1e-5)


@FAST
@given(st.lists(st.sampled_from(["yes", "no", "2", "two", "the dog", "dog", "Yes."]), min_size=10,
                max_size=10), st.sampled_from(["yes", "no", "2", "dog", "cat"]))
def test_vqa_score_range_and_extremes(answers: list[str], pred: str) -> None:
    score = F.vqa_score(pred, answers)
    assert 0.0 <= score <= 1.0
    # The score only takes the values the leave-one-out average of min(k/3, 1) can take.
    assert any(abs(score * 30 - k) < 1e-9 for k in range(31))


@FAST
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31 - 1))
def test_nearest_neighbour_matches_brute_force(h: int, w: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    sel = torch.rand(3, h * w, generator=g) < torch.rand(3, 1, generator=g)
    coords = F.grid_coordinates((h, w))
    dist = torch.cdist(coords, coords)
    dist.fill_diagonal_(float("inf"))
    nearest = dist.unsqueeze(0).masked_fill(~sel.unsqueeze(1), float("inf")).amin(dim=-1)
    count = sel.sum(-1)
    total = torch.where(sel & torch.isfinite(nearest), nearest, torch.zeros_like(nearest)).sum(-1)
    brute = torch.where(count >= 2, total / count.clamp(min=1), torch.zeros_like(total))
    assert torch.allclose(F.mean_nearest_neighbour(sel, (h, w)), brute, atol=1e-5)


@FAST
@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_average_ranks_match_pairwise_counting(b: int, n: int, distinct: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(distinct, (b, n), generator=g).float()  # many ties
    less = (x.unsqueeze(-1) > x.unsqueeze(-2)).sum(-1).float()
    equal = (x.unsqueeze(-1) == x.unsqueeze(-2)).sum(-1).float()
    assert torch.equal(F.average_ranks(x), less + (equal + 1) / 2)
