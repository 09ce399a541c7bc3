"""One object that tracks a hand-written PyTorch training loop, without stalling the device.

>>> tracker = Tracker(run, model, optimizer, scaler=scaler, stats_every=10, hist_every=100)
>>> for step in range(max_steps):
...     loss = model(x, y); scaler.scale(loss).backward()
...     scaler.unscale_(optimizer)
...     tracker.after_backward()       # gradients are here: norms, weight snapshot, histograms
...     scaler.step(optimizer); scaler.update()
...     tracker.step(loss, batch_size=64, tokens=64 * 1024)
...     optimizer.zero_grad(set_to_none=True)
>>> tracker.close()

Every value the tracker computes stays a device tensor until the core flusher reads the batch
(see :mod:`wandbkit.convert`); nothing on the per-step path reads a device value back, so
tracking adds kernel launches but never a host-device synchronisation. Red-flag checks read
host copies that arrive a step or two late (see :mod:`wandbkit_torch.red_flags`).
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import nn

from wandbkit import hookimpl
from wandbkit.errors import UserError
from wandbkit.media import Histogram
from wandbkit_torch import distributed as dist_utils
from wandbkit_torch.distributed import CrossRankMean, PackedRows, PendingRow
from wandbkit_torch.histograms import DEFAULT_BINS, DEFAULT_SAMPLE_SIZE, HistogramSampler, HostCopy
from wandbkit_torch.norms import (
    ParamIndex,
    SampledUpdateTracker,
    UpdateTracker,
    depth_group,
    foreach_norms,
    global_norm,
    group_norms,
    module_group,
)
from wandbkit_torch.red_flags import (
    GRAD_KEY,
    HUNT_KEY,
    NanHunter,
    RedFlag,
    RedFlagError,
    RedFlagMonitor,
    RedFlagPolicy,
)
from wandbkit_torch.system_metrics import SystemMonitor
from wandbkit_torch.throughput import SUMMED_ACROSS_RANKS, Throughput

_TINY = 1e-30


def _check_every(name: str, value: int, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UserError(f"Tracker({name}={value!r}): must be an integer >= {minimum}"
                        + (" (0 turns it off)" if minimum == 0 else ""))
    return value


def _scalar(value: Any, what: str) -> torch.Tensor | float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise UserError(f"tracker.step: {what} must be a scalar tensor, got shape "
                            f"{tuple(value.shape)}")
        value = value.detach()
        return value if value.dim() == 0 else value.reshape(())
    if isinstance(value, (int, float)):
        return float(value)
    raise UserError(f"tracker.step: {what} must be a tensor or a number, got "
                    f"{type(value).__name__}")


class Tracker:
    """Tracks one model (+ optimizer, optional scheduler and GradScaler) in a plain loop.

    :param run: the :class:`wandbkit.Run` to log to; ``None`` on DDP ranks other than 0 (use
        :func:`wandbkit_torch.init_run`, which returns exactly that).
    :param model: the model being trained (DDP- and ``torch.compile``-wrapped models are fine).
    :param optimizer: its optimizer; the learning rate of every param group is logged.
    :param scheduler: optional LR scheduler (its learning rates come from the optimizer).
    :param scaler: optional ``torch.amp.GradScaler``: logs ``amp/scale`` and
        ``amp/skipped_steps``, and takes norms of unscaled gradients.
    :param log_every: log loss (mean over the interval), learning rate and throughput every
        N steps.
    :param stats_every: per-group and global gradient/weight norms and update/weight ratios
        every N steps (0: off).
    :param hist_every: weight and gradient histograms every N steps (0: off).
    :param flops_per_token: model FLOPs per token (forward + backward), for ``perf/mfu``.
    :param peak_flops: the device's peak FLOP/s, for ``perf/mfu``.
    :param red_flags: a :class:`RedFlagPolicy` (default: warn on NaN/Inf and explosions).
    :param group_by: how parameters are grouped for norms: ``None`` (the module that owns
        them, e.g. ``blocks.3.attn``), an int depth (2: ``transformer.h``), or a function
        from parameter name to group name.
    :param update_ratio: how to measure ``||w_after - w_before|| / ||w||`` on stats steps:
        ``"sampled"`` (default: from at most ``hist_sample_size`` elements per tensor, exact
        for smaller tensors), ``"exact"`` (keeps a full copy of the weights) or ``False``.
    :param hist_sample_size: at most this many elements per tensor are binned (0: all of
        them, exact but slow on big models); see ``TRACKER.md`` for the accuracy.
    :param hist_bins: bins per histogram.
    :param system_every_s: seconds between system metric readings (0: off).
    :param flush_every: steps between red-flag checks (one stacked device-to-host copy each)
        and, under DDP, between cross-rank reductions (one ``all_reduce`` each); default
        ``max(log_every, 10)``. Without DDP rows go to the run every step regardless.
    :param loss_key: the key the loss is logged under.
    :param start_step: the first step's number (for resumed runs).
    """

    def __init__(self, run: Any, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: Any = None, scaler: Any = None, *, log_every: int = 1,
                 stats_every: int = 10, hist_every: int = 10,
                 flops_per_token: float | None = None, peak_flops: float | None = None,
                 red_flags: RedFlagPolicy | None = None,
                 group_by: int | Callable[[str], str] | None = None,
                 update_ratio: bool | str = "sampled",
                 hist_sample_size: int = DEFAULT_SAMPLE_SIZE, hist_bins: int = DEFAULT_BINS,
                 system_every_s: float = 10.0, flush_every: int | None = None,
                 loss_key: str = "train/loss", start_step: int = 0) -> None:
        self.log_every = _check_every("log_every", log_every, 1)
        self.stats_every = _check_every("stats_every", stats_every, 0)
        self.hist_every = _check_every("hist_every", hist_every, 0)
        if not isinstance(model, nn.Module):
            raise UserError(f"Tracker(model=...): expected a torch.nn.Module, got "
                            f"{type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise UserError(f"Tracker(optimizer=...): expected a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.rank = dist_utils.rank()
        self.world = dist_utils.world_size()
        self.ddp = self.world > 1
        self.is_main = self.rank == 0
        if self.is_main and run is None:
            raise UserError("Tracker(run=None) on rank 0: pass the run from wandbkit.init() "
                            "(or wandbkit_torch.init_run(), which is None only on other ranks)")
        self.run = run if self.is_main else None
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scaler = scaler if scaler is not None and scaler.is_enabled() else None
        self.loss_key = loss_key
        self._checked = frozenset({loss_key, GRAD_KEY, HUNT_KEY})  # what red flags read
        self.policy = red_flags if red_flags is not None else RedFlagPolicy()
        if update_ratio not in (True, False, "exact", "sampled"):
            raise UserError(f"Tracker(update_ratio={update_ratio!r}): use 'sampled', 'exact' "
                            "or False")
        self.update_ratio = bool(update_ratio)
        self.global_step = start_step
        self.should_stop = False
        self.red_flags: list[RedFlag] = []

        group_fn = (module_group if group_by is None else
                    depth_group(group_by) if isinstance(group_by, int) else group_by)
        self.index = ParamIndex.build(model, group_fn)
        self.device = self.index.params[0].device
        self._updates: UpdateTracker | SampledUpdateTracker = (
            SampledUpdateTracker(self.index, hist_sample_size or DEFAULT_SAMPLE_SIZE, start_step)
            if update_ratio == "sampled" else UpdateTracker(self.index))
        self._sampler: HistogramSampler | None = None
        if self.hist_every and self.is_main:
            shapes = [p.shape for p in self.index.params] * 2  # weights, then gradients
            self._sampler = HistogramSampler(shapes, self.device, hist_sample_size, hist_bins,
                                             seed=start_step)
        self._throughput = Throughput(flops_per_token, peak_flops)
        self._reducer = CrossRankMean(SUMMED_ACROSS_RANKS) if self.ddp else None
        self.flush_every = _check_every("flush_every", flush_every or max(log_every, 10), 1)

        self._hunter = NanHunter(model) if self.policy.nan_hooks else None
        if self._hunter is not None and self.policy.nan_hooks is True:
            self._hunter.install()
        self._monitor = RedFlagMonitor(self.policy, self.index.groups, self._hunter, loss_key,
                                       amp=self.scaler is not None)

        self._system: SystemMonitor | None = None
        if system_every_s and self.is_main:
            self._system = SystemMonitor(system_every_s)
            self._system.start()

        self._loss_sum: torch.Tensor | float | None = None
        self._loss_n = 0
        self._grad_pp: torch.Tensor | None = None
        self._hist_pending: Any = None
        self._hist_pool: ThreadPoolExecutor | None = None
        self._skipped: torch.Tensor | None = None
        self._prev_scale: torch.Tensor | None = self._current_scale()
        self._extras: dict[str, Any] = {}
        self._pending: list[PendingRow] = []
        self._probe_rows: list[PendingRow] = []
        self._outbox: deque[tuple[int, dict[str, Any], Any]] = deque()
        self._probes: deque[tuple[HostCopy, PackedRows, list[PendingRow]]] = deque()
        self._deferred: tuple[RedFlag, int] | None = None
        self._error: RedFlagError | None = None
        self._closed = False
        self._guard = _FinishGuard.install(self)

    # --- what is due when --------------------------------------------------------------------

    def _due(self, every: int, step: int) -> bool:
        return bool(every) and step % every == 0

    # --- the two per-step calls ----------------------------------------------------------------

    def after_backward(self) -> None:
        """Call once gradients are complete (after ``scaler.unscale_(optimizer)`` with AMP,
        before ``optimizer.step()``). On stats steps it takes gradient norms and snapshots
        the weights for the update ratio; on histogram steps it bins weights and gradients.
        Other steps cost nothing."""
        step = self.global_step
        if self._due(self.stats_every, step):
            self._grad_pp = self._grad_norms(scaled=self._grads_still_scaled())
            if self.update_ratio:
                self._updates.snapshot()
        if self._sampler is not None and self._due(self.hist_every, step):
            self._hist_pending = self._histograms(scaled=self._grads_still_scaled())

    def step(self, loss: Any, *, batch_size: int | None = None, tokens: int | None = None,
             grad_norm: Any = None) -> None:
        """Call once per optimizer step, after ``optimizer.step()`` (and ``scaler.update()``),
        before ``zero_grad``.

        :param loss: this step's loss (a tensor on any device, or a number); logged as the mean
            over the ``log_every`` interval.
        :param batch_size: samples in this step (all micro-batches), for ``perf/samples_per_s``.
        :param tokens: tokens in this step, for ``perf/tokens_per_s`` and ``perf/mfu``.
        :param grad_norm: the total norm ``clip_grad_norm_`` returned, if you clip; logged as
            ``grad/global_norm`` every logging step (else it is computed on stats steps).
        :raises RedFlagError: under ``RedFlagPolicy(action="raise")``, once a flag was seen.
        """
        if self._closed:
            raise UserError("tracker.step() after tracker.close()")
        step = self.global_step
        self._throughput.tick(batch_size, tokens)
        self._accumulate_loss(_scalar(loss, "loss"))
        scale = self._count_skipped_steps()

        row = PendingRow(step)
        if self._due(self.log_every, step):
            self._loss_row(row, scale)
        if grad_norm is not None and self._due(self.log_every, step):
            gn = _scalar(grad_norm, "grad_norm")
            (row.device if isinstance(gn, torch.Tensor) else row.host)["grad/global_norm"] = gn
        if self._due(self.stats_every, step):
            self._stats_row(row, have_total=grad_norm is not None)
        if self._sampler is not None and self._due(self.hist_every, step):
            if self._hist_pending is None:  # after_backward was not called: bin now
                self._hist_pending = self._histograms(scaled=False)
            row.hist, self._hist_pending = self._hist_pending, None
        if self._hunter is not None and self._hunter.installed:
            idx = self._hunter.take(step)
            if idx is not None:
                row.probe[HUNT_KEY] = idx
        if self._extras:
            row.local.update(self._extras)
            self._extras = {}
        if row.device or row.host or row.local or row.hist is not None or row.probe:
            self._pending.append(row)

        if not self.ddp:
            self._emit_local()
            if (step + 1) % self.flush_every == 0:
                self._queue_local_probe()
            self._poll_probes(block=False)
        elif (step + 1) % self.flush_every == 0:
            self._flush()
            # Every rank checks the previous flush's reduced values (long landed) at the same
            # step, so every rank takes the same stop/raise decision at the same step.
            self._poll_probes(block=True, keep=1)
        self._drain_outbox(block=False)
        self._act_on_flags(step)
        self._grad_pp = None
        self.global_step += 1
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def log(self, metrics: dict[str, Any]) -> None:
        """Add values (``val/loss``, ...) to the row of the next :meth:`step` call; logged by rank 0
        as they are (not averaged across ranks)."""
        self._extras.update(metrics)

    def restart_clock(self) -> None:
        """Exclude the time since now from the next step time (after eval or a checkpoint)."""
        self._throughput.restart_clock()

    # --- pieces of a step ------------------------------------------------------------------------

    def _accumulate_loss(self, loss: torch.Tensor | float) -> None:
        # A new tensor each step (no in-place add): earlier ones may already be queued.
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        self._loss_n += 1

    def _loss_row(self, row: PendingRow, scale: torch.Tensor | None) -> None:
        mean = self._loss_sum / self._loss_n if self._loss_n > 1 else self._loss_sum
        (row.device if isinstance(mean, torch.Tensor) else row.host)[self.loss_key] = mean
        self._loss_sum, self._loss_n = None, 0
        row.host.update(self._throughput.interval())
        groups = self.optimizer.param_groups
        for i, group in enumerate(groups):
            key = "train/lr" if len(groups) == 1 else f"train/lr/{group.get('name', i)}"
            row.local[key] = group["lr"]
        if self.scaler is not None and scale is not None:
            row.device["amp/scale"] = scale
            row.device["amp/skipped_steps"] = self._skipped
        if self._system is not None:
            row.local.update(self._system.take())

    def _current_scale(self) -> torch.Tensor | None:
        scale = getattr(self.scaler, "_scale", None) if self.scaler is not None else None
        # GradScaler.get_scale() would call .item(): a sync. The private tensor is read on the
        # device instead; update() changes it in place, so we keep a clone.
        return None if scale is None else scale.detach().clone().reshape(())

    def _count_skipped_steps(self) -> torch.Tensor | None:
        """A step was skipped exactly when ``scaler.update()`` backed the scale off."""
        if self.scaler is None:
            return None
        scale = self._current_scale()
        if scale is None:
            return None
        if self._skipped is None:
            self._skipped = torch.zeros((), dtype=torch.float32, device=scale.device)
        prev = self._prev_scale
        if prev is None:  # the scaler made its scale lazily, at the first scale() call
            prev = torch.full_like(scale, float(self.scaler._init_scale))
        self._skipped = self._skipped + (scale < prev).to(torch.float32)
        self._prev_scale = scale
        return scale

    def _grads_still_scaled(self) -> bool:
        if self.scaler is None:
            return False
        from torch.amp.grad_scaler import OptState

        state = self.scaler._per_optimizer_states.get(id(self.optimizer), {})
        return state.get("stage") is not OptState.UNSCALED

    def _grad_norms(self, scaled: bool) -> torch.Tensor:
        norms = foreach_norms(self.index.grads())
        if scaled and self.scaler._scale is not None:
            norms = norms / self.scaler._scale  # before unscale_: the gradients are x scale
        return norms

    def _histograms(self, scaled: bool) -> Any:
        """Start this step's histograms; returns a pending result the outbox waits for.

        The samples are gathered here (a snapshot of at most ``hist_sample_size`` elements
        per tensor). On CPU the binning and the building of the histogram objects run on a
        worker thread (torch ops release the GIL, so they use the other core); on CUDA the
        kernels are queued here and the packed result is copied to pinned memory.
        """
        assert self._sampler is not None
        sampler = self._sampler
        samples = sampler.gather(self.index.params + self.index.grads())
        inv = None
        if scaled and self.scaler._scale is not None:
            inv = (1.0 / self.scaler._scale).to(samples.device)  # a new tensor: update() may
            # change the scaler's own in place before the worker reads it

        def bin_packed() -> torch.Tensor:
            packed = sampler.bin(samples)
            if inv is None:
                return packed
            n_params = len(self.index.params)
            T, B = sampler.count, sampler.bins
            mult = torch.cat([torch.ones(n_params, device=packed.device),
                              inv.reshape(1).expand(n_params)])
            return torch.cat([packed[:T * B], packed[T * B:T * B + T] * mult,
                              packed[T * B + T:] * mult])

        if samples.device.type == "cpu":
            if self._hist_pool is None:
                self._hist_pool = ThreadPoolExecutor(1, thread_name_prefix="wandbkit-torch-hist")
            future = self._hist_pool.submit(
                lambda: self._histogram_values(bin_packed().numpy()))
            return _ThreadHistograms(future)
        return _CopiedHistograms(HostCopy(bin_packed()), self._histogram_values)

    def _stats_row(self, row: PendingRow, have_total: bool) -> None:
        grad_pp = self._grad_pp if self._grad_pp is not None else self._grad_norms(scaled=False)
        weight_pp = foreach_norms(self.index.params)
        update_pp = self._updates.update_norms()
        g_grad = group_norms(grad_pp, self.index)
        g_weight = group_norms(weight_pp, self.index)
        if not have_total:
            row.device["grad/global_norm"] = global_norm(grad_pp)
        w_total = global_norm(weight_pp)
        row.device["weight/global_norm"] = w_total
        g_ratio = None
        if update_pp is not None:
            g_ratio = group_norms(update_pp, self.index) / g_weight.clamp_min(_TINY)
            row.device["update_ratio/global"] = global_norm(update_pp) / w_total.clamp_min(_TINY)
        for i, name in enumerate(self.index.groups):
            row.device[f"grad_norm/{name}"] = g_grad[i]
            row.device[f"weight_norm/{name}"] = g_weight[i]
            if g_ratio is not None:
                row.device[f"update_ratio/{name}"] = g_ratio[i]

    # --- handing rows over -------------------------------------------------------------------

    def _emit_local(self) -> None:
        """Without DDP: hand rows to the run now, tensors as they are, and keep the few values
        the red-flag checks read for the next stacked copy."""
        rows, self._pending = self._pending, []
        for row in rows:
            values = {**row.device, **row.host, **row.local}
            self._outbox.append((row.step, values, row.hist))
            checked = {k: v for k, v in row.device.items()
                       if k in self._checked or k.startswith("grad_norm/")}
            checked.update(row.probe)
            host = {k: v for k, v in row.host.items() if k in self._checked}
            if checked or host:
                self._probe_rows.append(PendingRow(row.step, device=checked, host=host))

    def _queue_local_probe(self) -> None:
        rows, self._probe_rows = self._probe_rows, []
        if not rows:
            return
        packed = dist_utils.pack_device_values(rows, self.device, include_host=False)
        if packed is None:
            packed = PackedRows(torch.zeros(0), [[] for _ in rows])
        self._probes.append((HostCopy(packed.values), packed, rows))

    def _flush(self) -> None:
        if not self.ddp:
            self._emit_local()
            self._queue_local_probe()
            return
        rows, self._pending = self._pending, []
        if not rows:
            return
        packed = dist_utils.pack_device_values(rows, self.device, include_host=self.ddp)
        if packed is not None and self._reducer is not None:
            packed = self._reducer.reduce(packed)
        for r, row in enumerate(rows):
            values: dict[str, Any] = {}
            if packed is not None:
                values.update({key: packed.values[i] for key, i in packed.layout[r]})
            if not self.ddp:
                values.update(row.host)
            values.update(row.local)
            if self.is_main:
                self._outbox.append((row.step, values, row.hist))
        self._queue_probe(rows, packed)

    def _queue_probe(self, rows: list[PendingRow], packed: PackedRows | None) -> None:
        """Copy what the red-flag checks need to the host, without waiting for it."""
        probe_rows = [PendingRow(row.step, device=row.probe) for row in rows]
        probes = dist_utils.pack_device_values(probe_rows, self.device, include_host=False)
        parts, layout = [], [[] for _ in rows]
        if packed is not None:
            parts.append(packed.values)
            for r, entries in enumerate(packed.layout):
                layout[r] += entries
        if probes is not None:
            base = packed.values.numel() if packed is not None else 0
            parts.append(probes.values)
            for r, entries in enumerate(probes.layout):
                layout[r] += [(key, base + i) for key, i in entries]
        if not parts:
            vec = torch.zeros(0)
        else:
            vec = parts[0] if len(parts) == 1 else torch.cat(parts)
        self._probes.append((HostCopy(vec), PackedRows(vec, layout), rows))

    def _drain_outbox(self, block: bool) -> None:
        """Log finished rows in step order; a row whose histograms are still being copied
        holds back the rows after it (W&B needs steps in order)."""
        while self._outbox:
            step, values, hist = self._outbox[0]
            if hist is not None:
                if not hist.ready():
                    if not block:
                        return
                    hist.wait()
                values.update(hist.values())
            self._outbox.popleft()
            if self.run is not None:
                self.run.log(values, step=step)

    def _histogram_values(self, packed: np.ndarray) -> dict[str, Histogram]:
        assert self._sampler is not None
        names = self.index.names
        out = {}
        for i, (counts, edges) in enumerate(self._sampler.unpack(packed)):
            kind = "weights" if i < len(names) else "grads"
            out[f"hist/{kind}/{names[i % len(names)]}"] = Histogram(counts=counts, edges=edges)
        return out

    def _poll_probes(self, block: bool, keep: int = 0) -> None:
        """Run the red-flag checks on every host copy that has landed (all but the newest
        ``keep``); ``block`` waits for the copies instead of leaving them for later."""
        while len(self._probes) > keep:
            copy, packed, rows = self._probes[0]
            if not copy.ready():
                if not block:
                    return
                while not copy.ready():  # poll, like the core flusher: no sync call
                    time.sleep(0.0002)
            self._probes.popleft()
            host = copy.numpy()
            for r, row in enumerate(rows):
                values = {key: float(host[i]) for key, i in packed.layout[r]}
                if not self.ddp:
                    values.update({k: float(v) for k, v in row.host.items()})
                for flag in self._monitor.observe(row.step, values):
                    self._on_flag(flag)

    # --- red flags -----------------------------------------------------------------------------

    def _on_flag(self, flag: RedFlag) -> None:
        self.red_flags.append(flag)
        if self.run is not None:
            level = "error" if flag.kind.startswith("nonfinite") else "warn"
            self.run.alert(flag.title, flag.text, level=level)
        if flag.kind == "nonfinite_forward" and self._deferred is not None:
            pending, _ = self._deferred
            self._deferred = None
            pending.module = flag.module
            pending.text += f"; first non-finite forward output: {flag.module}"
            self._act(pending)
            return
        if flag.kind == "nonfinite_forward":
            return  # its non-finite loss/gradient flag already acted
        if flag.awaiting_module and not self.ddp and self.policy.action != "warn":
            self._deferred = (flag, self.global_step + self.policy.modules_timeout_steps)
            return
        self._act(flag)

    def _act(self, flag: RedFlag) -> None:
        if self.policy.action == "stop":
            self.should_stop = True
        elif self.policy.action == "raise" and self._error is None:
            self._error = RedFlagError(flag)

    def _act_on_flags(self, step: int) -> None:
        if self._monitor.want_hooks and self._hunter is not None:
            self._monitor.want_hooks = False
            self._hunter.install()
        if self._deferred is not None and step >= self._deferred[1]:
            flag, _ = self._deferred
            self._deferred = None
            self._act(flag)

    # --- the end ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Hand over every pending row (waiting for device copies: fine at the end), run the
        last red-flag checks, remove hooks and stop the system thread. Idempotent.

        :raises RedFlagError: under ``action="raise"`` if a flag was seen in the last rows.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
            self._poll_probes(block=True)
            if self._deferred is not None:
                flag, self._deferred = self._deferred[0], None
                self._act(flag)
            self._drain_outbox(block=True)
        finally:
            _FinishGuard.remove(self._guard)
            if self._hunter is not None:
                self._hunter.remove()
            if self._system is not None:
                self._system.stop()
            if self._hist_pool is not None:
                self._hist_pool.shutdown(wait=False)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:  # keep the original error; still hand over what was logged
            try:
                self.close()
            except RedFlagError:
                pass


class _FinishGuard:
    """Closes a tracker whose run is finished before ``tracker.close()`` was called, so the
    rows it still holds reach the run (through core's ``wandbkit_run_finishing`` hook).

    Not under DDP: closing there takes part in a collective, which every rank must join.
    """

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = weakref.ref(tracker)

    @classmethod
    def install(cls, tracker: Tracker) -> _FinishGuard | None:
        if tracker.ddp or tracker.run is None:
            return None
        from wandbkit.plugins import get_plugin_manager

        pm = get_plugin_manager()
        if not hasattr(pm.hook, "wandbkit_run_finishing"):
            return None  # an older core without the hook
        guard = cls(tracker)
        pm.register(guard, name=f"wandbkit_torch.tracker-{id(guard):x}")
        return guard

    @staticmethod
    def remove(guard: _FinishGuard | None) -> None:
        if guard is None:
            return
        from wandbkit.plugins import get_plugin_manager

        pm = get_plugin_manager()
        if pm.is_registered(guard):
            pm.unregister(guard)

    @hookimpl
    def wandbkit_run_finishing(self, run: Any) -> None:
        """Close the tracker if it belongs to ``run`` and is still open."""
        tracker = self._tracker()
        if tracker is None or tracker.run is not run or tracker._closed:
            return
        try:
            tracker.close()
        except RedFlagError as error:  # too late to raise into the loop: say it instead
            from wandbkit.console import warn

            warn(f"tracker closed by run.finish(): {error}")


class _ThreadHistograms:
    """Histograms being binned on the worker thread (CPU)."""

    def __init__(self, future: Future) -> None:
        self._future = future

    def ready(self) -> bool:
        return self._future.done()

    def wait(self) -> None:
        self._future.exception()

    def values(self) -> dict[str, Any]:
        error = self._future.exception()
        if error is not None:  # a broken histogram must not stop training: report, log the rest
            from wandbkit.plugins import report_failure

            report_failure("wandbkit_torch histograms", error)
            return {}
        return self._future.result()


class _CopiedHistograms:
    """Histograms binned on the device, on their way to pinned host memory (CUDA)."""

    def __init__(self, copy: HostCopy, build: Callable[[np.ndarray], dict[str, Any]]) -> None:
        self._copy = copy
        self._build = build

    def ready(self) -> bool:
        return self._copy.ready()

    def wait(self) -> None:
        self._copy.wait()

    def values(self) -> dict[str, Any]:
        return self._build(self._copy.numpy())


__all__ = ["RedFlagError", "RedFlagPolicy", "Tracker"]
