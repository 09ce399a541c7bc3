"""Fused on-device histograms: counts add up, small tensors are exact, sampled ones stay
within the documented error bound, and strided sampling does not alias onto a few columns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wandbkit_torch.histograms import HistogramSampler, HostCopy, coprime_stride, dkw_epsilon


def _run(tensors: list[torch.Tensor], **kwargs) -> list[tuple[np.ndarray, np.ndarray]]:
    sampler = HistogramSampler([t.shape for t in tensors], torch.device("cpu"), **kwargs)
    return sampler.unpack(HostCopy(sampler.compute(tensors)).numpy())


def _exact_fractions(t: torch.Tensor, edges: np.ndarray) -> np.ndarray:
    values = t.double().flatten().numpy()
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return counts / counts.sum()


def test_small_tensors_are_binned_exactly_and_counts_sum_to_numel() -> None:
    torch.manual_seed(0)
    tensors = [torch.randn(40, 30), torch.rand(17) * 5 - 1, torch.randn(3, 4, 5)]
    results = _run(tensors, sample_size=4096, bins=32)
    for t, (counts, edges) in zip(tensors, results, strict=True):
        assert counts.sum() == t.numel()
        assert edges[0] == pytest.approx(float(t.min()), abs=1e-6)
        assert edges[-1] == pytest.approx(float(t.max()), rel=1e-5)
        ref, _ = np.histogram(t.double().flatten().numpy(), bins=edges)
        # Same edges, so only values sitting exactly on an edge may land one bin over.
        assert np.abs(counts - ref).sum() <= 2


def test_sampled_histogram_stays_within_the_dkw_bound() -> None:
    torch.manual_seed(1)
    # Columns with different scales and a shifted block: a sample that sees only some
    # columns would get the shape wrong.
    w = torch.randn(512, 512) * torch.linspace(0.2, 3.0, 512)
    w[:, 256:300] += 4.0
    k = 4096
    counts, edges = _run([w], sample_size=k, bins=64)[0]
    assert counts.sum() == k
    exact = _exact_fractions(w, edges)
    err = np.abs(counts / k - exact).max()
    bound = 2 * dkw_epsilon(k, delta=1e-3)
    assert err <= bound, (err, bound)
    # Typical error is far below the worst-case bound: 1/sqrt(k) ~ 0.016.
    assert err < 0.02


def test_coprime_stride_visits_every_column() -> None:
    assert coprime_stride(512 * 512, 4096, 512) == 63  # 64 would see 8 of 512 columns
    col = torch.arange(512, dtype=torch.float32).repeat(512, 1)  # value = column index
    counts, _ = _run([col], sample_size=4096, bins=8)[0]
    # Every eighth of the columns gets its share (1/8 of the sample), not all-or-nothing.
    assert np.abs(counts / counts.sum() - 1 / 8).max() < 0.02


def test_nonfinite_values_are_dropped_and_constant_tensors_get_a_range() -> None:
    t = torch.randn(100)
    t[[3, 50]] = float("nan")
    t[7] = float("inf")
    zeros = torch.zeros(10)
    allnan = torch.full((5,), float("nan"))
    (c1, _), (c2, e2), (c3, _) = _run([t, zeros, allnan], bins=16)
    assert c1.sum() == 97
    assert c2.sum() == 10 and e2[0] < 0.0 < e2[-1]
    assert c3.sum() == 0


def test_exact_mode_bins_every_element() -> None:
    w = torch.randn(300, 100)
    counts, edges = _run([w], sample_size=0, bins=64)[0]
    assert counts.sum() == w.numel()
    assert np.abs(counts / counts.sum() - _exact_fractions(w, edges)).max() < 1e-3


def test_missing_gradient_placeholder_is_binned_as_zeros() -> None:
    shape = torch.Size([64, 64])
    sampler = HistogramSampler([shape], torch.device("cpu"), sample_size=100, bins=4)
    counts, edges = sampler.unpack(sampler.compute([torch.zeros(())]).numpy())[0]
    assert counts.sum() == 100 and edges[0] < 0 < edges[-1]
