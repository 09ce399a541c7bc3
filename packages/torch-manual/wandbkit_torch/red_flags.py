"""Red flags while training: non-finite loss or gradients (with the module that produced them),
a loss that stopped improving, and gradient-norm explosions.

Checks never read device values on the training thread. The tracker hands the monitor host
copies of the values it logged (on CUDA copied with ``non_blocking=True`` into pinned memory and
polled through an event, so a flag may be raised a step or two after the step that caused it;
on CPU at once). Each flag is an event: a console warning, ``run.alert`` (kept in the store,
``wandb.alert`` online) and then the policy's action: ``warn`` (go on), ``stop``
(``tracker.should_stop`` becomes True) or ``raise`` (:class:`RedFlagError` from the next
``tracker.step``).

Finding the module: forward hooks that test every module's output cost a pass over the
activations, so by default they are installed only after the first non-finite value
(``nan_hooks="after_first"``); ``nan_hooks=True`` installs them from the start, ``False`` never.
The hooks flag outputs on the device and one ``argmax`` picks the first module, in completion
order (innermost first), whose output was not finite; that index is read back with the other
values. For non-finite gradients the flag names the last parameter group, in model order,
whose gradient norm is not finite: gradients flow backwards, so that is the one nearest to
where the non-finite value entered the backward pass.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from wandbkit.errors import UserError

Action = Literal["warn", "stop", "raise"]
HUNT_KEY = "debug/first_nonfinite_module"
GRAD_KEY = "grad/global_norm"


@dataclass
class RedFlagPolicy:
    """What to watch for and what to do when it happens.

    :param action: ``warn`` (log and go on), ``stop`` (set ``tracker.should_stop``) or
        ``raise`` (raise :class:`RedFlagError` from ``tracker.step``).
    :param nonfinite: watch for NaN/Inf loss and gradient norms.
    :param nan_hooks: ``"after_first"`` (install module hooks after the first non-finite
        value), ``True`` (from the start: the first flag names the module; costs one
        ``isfinite`` pass over every module output each step) or ``False``.
    :param plateau_window: flag when the loss has not improved for this many steps (0: off).
    :param plateau_min_delta: relative improvement that counts (0.01 = 1 % below the best).
    :param explosion_factor: flag a gradient norm above this many times the running median
        (0: off).
    :param explosion_history: how many recent gradient norms the median is taken over.
    :param explosion_min_history: gradient norms needed before the check starts.
    :param modules_timeout_steps: with ``stop``/``raise`` and hooks installed late, wait at
        most this many steps for the hooks to name the module before acting.
    """

    action: Action = "warn"
    nonfinite: bool = True
    nan_hooks: bool | Literal["after_first"] = "after_first"
    plateau_window: int = 1000
    plateau_min_delta: float = 0.01
    explosion_factor: float = 10.0
    explosion_history: int = 50
    explosion_min_history: int = 5
    modules_timeout_steps: int = 5

    def __post_init__(self) -> None:
        if self.action not in ("warn", "stop", "raise"):
            raise UserError(f"RedFlagPolicy(action={self.action!r}): use 'warn', 'stop' or "
                            "'raise'")
        if self.nan_hooks not in (True, False, "after_first"):
            raise UserError(f"RedFlagPolicy(nan_hooks={self.nan_hooks!r}): use True, False or "
                            "'after_first'")
        for name in ("plateau_window", "explosion_history", "explosion_min_history",
                     "modules_timeout_steps"):
            if getattr(self, name) < 0:
                raise UserError(f"RedFlagPolicy({name}={getattr(self, name)}) must be >= 0")
        if self.explosion_factor != 0 and self.explosion_factor <= 1:
            raise UserError(f"RedFlagPolicy(explosion_factor={self.explosion_factor}) must be "
                            "> 1 (or 0 to turn the check off)")


@dataclass
class RedFlag:
    """One event: what happened, at which step, and the module involved when known."""

    kind: str
    step: int
    title: str
    text: str
    module: str | None = None
    awaiting_module: bool = False


class RedFlagError(RuntimeError):
    """Raised by ``tracker.step`` under ``RedFlagPolicy(action="raise")``."""

    def __init__(self, flag: RedFlag) -> None:
        super().__init__(f"{flag.title} at step {flag.step}: {flag.text}")
        self.flag = flag


def _float_outputs(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() or out.is_complex() else []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _float_outputs(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _float_outputs(o)]
    return []


class NanHunter:
    """Forward hooks that find the first module whose output is not finite, on the device."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._handles: list[Any] = []
        self._flags: list[torch.Tensor] = []
        self._names: list[str] = []
        self._orders: dict[int, list[str]] = {}

    @property
    def installed(self) -> bool:
        """True while the hooks are in place."""
        return bool(self._handles)

    def install(self) -> None:
        """Hook every module (idempotent)."""
        if self._handles:
            return
        for name, module in self.model.named_modules():
            self._handles.append(module.register_forward_hook(self._hook(_clean(name, module))))

    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            tensors = _float_outputs(output)
            if not tensors:
                return
            with torch.no_grad():
                if len(tensors) == 1:
                    bad = ~torch.isfinite(tensors[0]).all()
                else:
                    bad = ~torch.stack([torch.isfinite(t).all() for t in tensors]).all()
            self._flags.append(bad)
            self._names.append(name)

        return hook

    def take(self, step: int) -> torch.Tensor | None:
        """The index (a 0-d float tensor, -1 for none) of the first module with a non-finite
        output since the last call, recorded under ``step``; None when nothing ran."""
        if not self._flags:
            return None
        flags = torch.stack(self._flags)
        self._orders[step] = self._names
        self._flags, self._names = [], []
        for old in [s for s in self._orders if s < step - 1000]:
            del self._orders[old]
        first = flags.to(torch.int64).argmax()  # the first True in call order
        return torch.where(flags.any(), first, -1).to(torch.float32)

    def name_for(self, step: int, index: int) -> str | None:
        """The module at ``index`` in the call order recorded for ``step``."""
        names = self._orders.get(step)
        if names is None or not 0 <= index < len(names):
            return None
        return names[index]

    def remove(self) -> None:
        """Take the hooks out."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _clean(name: str, module: nn.Module) -> str:
    for prefix in ("module.", "_orig_mod."):
        while name.startswith(prefix):
            name = name[len(prefix):]
    if name in ("module", "_orig_mod"):
        name = ""
    return name or f"(model: {type(module).__name__})"


class RedFlagMonitor:
    """Looks at host values of logged rows and returns the red flags they raise."""

    def __init__(self, policy: RedFlagPolicy, groups: list[str], hunter: NanHunter | None,
                 loss_key: str = "train/loss", amp: bool = False) -> None:
        self.policy = policy
        # With a GradScaler, inf gradients are routine: the step is skipped and counted in
        # amp/skipped_steps, so they are not a red flag.
        self.amp = amp
        self.groups = groups
        self.hunter = hunter
        self.loss_key = loss_key
        self.want_hooks = False  # set when the hooks should go in now (read by the tracker)
        self._fired: set[str] = set()
        self._best: float | None = None
        self._best_step = 0
        self._plateau_fired = False
        self._norms: deque[float] = deque(maxlen=max(1, policy.explosion_history))
        self._exploding = False

    def observe(self, step: int, values: dict[str, float]) -> list[RedFlag]:
        """Check one row's values; returns the new flags (each kind of non-finite flag fires
        once per run, plateau once per stall, explosion once per excursion)."""
        flags: list[RedFlag] = []
        if self.policy.nonfinite:
            flags += self._nonfinite(step, values)
        loss = values.get(self.loss_key)
        if loss is not None and math.isfinite(loss) and self.policy.plateau_window:
            flags += self._plateau(step, loss)
        norm = values.get(GRAD_KEY)
        if norm is not None and math.isfinite(norm) and self.policy.explosion_factor:
            flags += self._explosion(step, norm)
        return flags

    def _module_from_hooks(self, step: int, values: dict[str, float]) -> str | None:
        idx = values.get(HUNT_KEY)
        if self.hunter is None or idx is None or not math.isfinite(idx) or idx < 0:
            return None
        return self.hunter.name_for(step, int(idx))

    def _nonfinite(self, step: int, values: dict[str, float]) -> list[RedFlag]:
        flags = []
        module = self._module_from_hooks(step, values)
        loss = values.get(self.loss_key)
        hooks_late = self.policy.nan_hooks == "after_first" and self.hunter is not None \
            and not self.hunter.installed
        if loss is not None and not math.isfinite(loss) and "loss" not in self._fired:
            self._fired.add("loss")
            where = (f"first non-finite output in forward: {module}" if module else
                     "module not known yet: forward hooks installed, the next non-finite "
                     "forward pass will name it" if hooks_late else
                     "no module produced a non-finite output in forward (look at the loss "
                     "function and the targets)" if self.hunter and self.hunter.installed
                     else "module hooks are off (RedFlagPolicy(nan_hooks=...))")
            flags.append(RedFlag("nonfinite_loss", step, "Non-finite loss",
                                 f"{self.loss_key} = {loss} at step {step}; {where}",
                                 module, awaiting_module=hooks_late and module is None))
            if module:
                self._fired.add("forward")
        norm = values.get(GRAD_KEY)
        if norm is not None and not math.isfinite(norm) and not self.amp \
                and "grad" not in self._fired:
            self._fired.add("grad")
            bad = [g for g in self.groups
                   if (v := values.get(f"grad_norm/{g}")) is not None and not math.isfinite(v)]
            group = bad[-1] if bad else None
            text = (f"{GRAD_KEY} = {norm} at step {step}; " + (
                f"{len(bad)} group(s) non-finite, nearest the source (last in model order): "
                f"{group}" if group else "per-group norms were not logged at this step"))
            flags.append(RedFlag("nonfinite_grad", step, "Non-finite gradients", text, group,
                                 awaiting_module=hooks_late and module is None))
        if hooks_late and flags:
            self.want_hooks = True
        if module and "forward" not in self._fired:
            self._fired.add("forward")
            flags.append(RedFlag("nonfinite_forward", step, "Non-finite forward output",
                                 f"first module with a non-finite output at step {step}: "
                                 f"{module}", module))
        return flags

    def _plateau(self, step: int, loss: float) -> list[RedFlag]:
        p = self.policy
        if self._best is None or loss < self._best - abs(self._best) * p.plateau_min_delta:
            self._best, self._best_step, self._plateau_fired = loss, step, False
            return []
        if step - self._best_step >= p.plateau_window and not self._plateau_fired:
            self._plateau_fired = True
            return [RedFlag("loss_plateau", step, "Loss not decreasing",
                            f"{self.loss_key} has not gone below {self._best:.6g} "
                            f"(by {p.plateau_min_delta:.1%}) for {step - self._best_step} steps "
                            f"(best at step {self._best_step}, now {loss:.6g})")]
        return []

    def _explosion(self, step: int, norm: float) -> list[RedFlag]:
        p = self.policy
        out = []
        if len(self._norms) >= max(1, p.explosion_min_history):
            median = statistics.median(self._norms)
            if median > 0 and norm > p.explosion_factor * median:
                if not self._exploding:
                    self._exploding = True
                    out.append(RedFlag("grad_explosion", step, "Gradient norm explosion",
                                       f"{GRAD_KEY} = {norm:.6g} at step {step} is "
                                       f"{norm / median:.1f}x the median {median:.6g} of the "
                                       f"last {len(self._norms)} (threshold "
                                       f"{p.explosion_factor:g}x)"))
                return out  # keep the spike out of the median
            self._exploding = False
        self._norms.append(norm)
        return out
