"""Step time, samples/s, tokens/s and model FLOPs utilisation, from host clocks only.

Step time is the wall time between two ``Tracker.step`` calls on the training thread. On CUDA
the host runs ahead of the device until the launch queue or the caching allocator makes it
wait, so over a logging interval the mean host step time converges to the device step time
without any synchronisation (the first interval includes the run-ahead).
"""

from __future__ import annotations

import time

from wandbkit.errors import UserError


class Throughput:
    """Accumulates step times and work done over one logging interval.

    :param flops_per_token: model FLOPs per token for forward + backward (e.g. ``6 * N`` for
        an N-parameter transformer, plus attention); enables ``perf/mfu``.
    :param peak_flops: the device's peak FLOP/s (e.g. ``989e12`` for an H100 in bf16).
    """

    def __init__(self, flops_per_token: float | None = None,
                 peak_flops: float | None = None) -> None:
        if (flops_per_token is None) != (peak_flops is None):
            raise UserError("Tracker: MFU needs both flops_per_token and peak_flops (got only one)")
        if peak_flops is not None and peak_flops <= 0:
            raise UserError(f"Tracker(peak_flops={peak_flops}): must be > 0 FLOP/s")
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops
        self._last = time.perf_counter()
        self._reset()

    def _reset(self) -> None:
        self.steps = 0
        self.seconds = 0.0
        self.samples = 0
        self.tokens = 0
        self._has_samples = False
        self._has_tokens = False

    def restart_clock(self) -> None:
        """Start timing the next step now (after an evaluation or a checkpoint, say)."""
        self._last = time.perf_counter()

    def tick(self, batch_size: int | None = None, tokens: int | None = None) -> float:
        """Record one step that just finished; returns its wall time in seconds."""
        now = time.perf_counter()
        dt = now - self._last
        self._last = now
        self.steps += 1
        self.seconds += dt
        if batch_size is not None:
            self.samples += int(batch_size)
            self._has_samples = True
        if tokens is not None:
            self.tokens += int(tokens)
            self._has_tokens = True
        return dt

    def interval(self) -> dict[str, float]:
        """Metrics over the steps since the last call, then start a new interval."""
        if self.steps == 0:
            return {}
        secs = max(self.seconds, 1e-12)
        out = {"perf/step_time_s": self.seconds / self.steps}
        if self._has_samples:
            out["perf/samples_per_s"] = self.samples / secs
        if self._has_tokens:
            tps = self.tokens / secs
            out["perf/tokens_per_s"] = tps
            if self.flops_per_token is not None and self.peak_flops is not None:
                out["perf/mfu"] = tps * self.flops_per_token / self.peak_flops
        self._reset()
        return out


# Per-rank figures that add up across data-parallel ranks (the rest are averaged).
SUMMED_ACROSS_RANKS = frozenset({"perf/samples_per_s", "perf/tokens_per_s"})
