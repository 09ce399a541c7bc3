"""CheckpointManager: policies, atomic (optionally async) saves, aliases, retention, W&B.

The training thread calls :meth:`CheckpointManager.save`; when the policy says save, it captures
the RNG states and copies the tensors into reusable CPU buffers (the only work it waits for),
then a writer thread writes, digests, fsyncs, renames and indexes the version, logs it to W&B
and applies retention. At most ``max_in_flight`` saves are queued; one more waits for a free
buffer slot. A failure on the writer thread is raised by the next ``save`` or by ``finish``.
"""

from __future__ import annotations

import atexit
import queue
import shutil
import sys
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandbkit.formatting import first_line
from wandbkit_artifacts import rng
from wandbkit_artifacts.cleanup import DEFAULT_CACHE_CAP, GcReport, trim_caches
from wandbkit_artifacts.digest import ALGORITHMS, DEFAULT_ALGORITHM
from wandbkit_artifacts.errors import CheckpointError, check_alias, check_name
from wandbkit_artifacts.index import Index, Version
from wandbkit_artifacts.inplace import LinkedFiles, files_to_register, link_files, register_version
from wandbkit_artifacts.layout import tmp_dir_for, write_version
from wandbkit_artifacts.snapshot import BufferPool, Snapshot, Snapshotter, dedupe_tied
from wandbkit_artifacts.wandb_link import log_version, run_wandb_mode

_MANAGERS: dict[tuple[str | None, str], CheckpointManager] = {}
_LOCK = threading.Lock()


@dataclass
class SaveResult:
    """What :meth:`CheckpointManager.save` did: ``saved`` False when the policy skipped it."""

    step: int
    saved: bool
    reason: str
    future: Future | None = None

    def wait(self, timeout: float | None = None) -> Version | None:
        """Block until the version is written and listed; returns it (None when skipped)."""
        return None if self.future is None else self.future.result(timeout)

    @property
    def version(self) -> Version | None:
        """The listed version (waits for an async save)."""
        return self.wait()


class CheckpointManager:
    """Saves checkpoints of one name for one run according to a policy.

    Versions are numbered store-wide (``NAME:vN``), but aliases, ``best`` and retention belong
    to the run: two runs saving the same name in one store never move each other's ``latest``
    or ``best`` nor delete each other's versions, and :func:`wandbkit_artifacts.resume` inside
    a run continues from that run's own versions. ``NAME@RUN:ALIAS`` names another run's.

    :param run: a wandbkit run (or a ``wandb`` run, or None for local-only checkpoints).
    :param name: checkpoint name; versions are ``NAME:v0``, ``NAME:v1``, ...
    :param every_n_steps: save only when ``step % every_n_steps == 0`` (None: every call).
    :param keep_last_k: keep the newest K versions (plus any holding latest/best/user aliases).
    :param metric: the metric that defines ``best`` (read from ``save(metrics=...)``).
    :param mode: ``"min"`` or ``"max"`` for ``metric``.
    :param keep_best_k: also keep the K best versions by ``metric``.
    :param save_best_only: skip saves whose metric does not beat the best so far.
    :param save_on_finish: at :meth:`finish`, save the last state seen if it was skipped.
    :param async_save: write on a background thread (the training thread only copies state).
    :param max_in_flight: saves queued or writing at once before ``save`` waits.
    :param dir: folder holding ``NAME/vN`` (default ``<store root>/checkpoints``).
    :param store_dir: the wandbkit store holding the index (default: the run's, or
        ``$WANDBKIT_DIR``).
    :param digest: ``"xxh3_128"`` (default, fast), ``"sha256"`` (tamper-evident) or ``"blake2b"``.
    :param log_to_wandb: log each version as a W&B Artifact when the run has a W&B sink.
    :param wandb_cache_cap: at :meth:`finish`, trim wandb's artifact cache under the store
        (``<store>/.wandb-cache/artifacts``, where the run's W&B worker keeps it unless
        ``$WANDB_CACHE_DIR`` is set) to this many bytes, least recently used first; None leaves
        it alone.
    :param trim_cache_dir: also trim this folder (e.g. your ``$WANDB_CACHE_DIR/artifacts``) to
        ``wandb_cache_cap`` at :meth:`finish`. Only a folder named here is trimmed: a cache
        outside the store (often shared on a cluster) is never touched by default.
    :param preempt: on a preemption signal (SIGTERM, SIGUSR1; see ``wandbkit.on_preempt``),
        the next :meth:`save` is the safe point: it saves that step with the alias
        ``preempt`` whatever the policy, waits for every write, then the run ends as
        ``preempted`` and the process exits (``128 + signal``), ready to be requeued and
        continued with :func:`wandbkit_artifacts.resume`.
    """

    def __init__(self, run: Any = None, name: str = "model", *, every_n_steps: int | None = None,
                 keep_last_k: int | None = None, metric: str | None = None, mode: str = "min",
                 keep_best_k: int | None = None, save_best_only: bool = False,
                 save_on_finish: bool = True, async_save: bool = True, max_in_flight: int = 1,
                 dir: str | Path | None = None, store_dir: str | Path | None = None,
                 digest: str = DEFAULT_ALGORITHM, log_to_wandb: bool = True,
                 wandb_cache_cap: int | None = DEFAULT_CACHE_CAP, preempt: bool = False,
                 trim_cache_dir: str | Path | None = None) -> None:
        check_name(name)
        if mode not in ("min", "max"):
            raise CheckpointError(f"mode={mode!r}: use 'min' or 'max'")
        for label, value in (("every_n_steps", every_n_steps), ("keep_last_k", keep_last_k),
                             ("keep_best_k", keep_best_k), ("max_in_flight", max_in_flight)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise CheckpointError(f"{label}={value!r}: use a positive integer")
        if (keep_best_k or save_best_only) and not metric:
            raise CheckpointError("keep_best_k/save_best_only need metric=... to rank versions")
        if digest not in ALGORITHMS:
            raise CheckpointError(f"digest={digest!r}: use one of {', '.join(ALGORITHMS)}")
        if run is None:
            try:
                import wandbkit

                run = wandbkit.get_run()
            except (ImportError, AttributeError):
                run = None
        self.run = run
        self.name = name
        self.scope = _run_id(run) or ""  # the run scope of this manager's versions and aliases
        self.every_n_steps = every_n_steps
        self.keep_last_k = keep_last_k
        self.metric = metric
        self.mode = mode
        self.keep_best_k = keep_best_k
        self.save_best_only = save_best_only
        self.save_on_finish = save_on_finish
        self.async_save = async_save
        self.max_in_flight = max_in_flight
        self.digest = digest
        self.wandb_cache_cap = wandb_cache_cap
        self.trim_cache_dir = trim_cache_dir
        self.wandb_mode = run_wandb_mode(run) if log_to_wandb else None
        if store_dir is None and run is not None:
            store_dir = getattr(run, "store_dir", None)
        self.index = Index.open(store_dir)
        self.parent = (Path(dir) if dir else self.index.root / "checkpoints") / name
        self._pool = BufferPool(max_in_flight) if async_save else None
        self._free_slots: queue.Queue[int] = queue.Queue()
        for slot in range(max_in_flight):
            self._free_slots.put(slot)
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._errors: list[BaseException] = []
        self._last_failure: BaseException | None = None  # the newest write failed: not on disk
        self._pending: list[Future] = []
        self._last: dict[str, Any] | None = None
        self._last_saved_step: int | None = None
        self._best: float | None = None
        self._finished = False
        self.preempt = preempt
        self._in_preempt = False
        if preempt:
            from wandbkit import preempt as preemption
            from wandbkit.errors import UserError

            try:
                preemption.install()
            except UserError as exc:
                raise CheckpointError(f"preempt=True: {exc}") from None
            preemption.claim_safe_point(self)  # run.log leaves the safe point to save()
        with _LOCK:
            _MANAGERS[(_run_id(run), name)] = self
        atexit.register(self._atexit)

    # --- policy -----------------------------------------------------------------------------

    def should_save(self, step: int, metrics: dict[str, Any] | None = None,
                    force: bool = False) -> tuple[bool, str]:
        """Whether the policy saves at ``step``, and why (or why not)."""
        if force:
            return True, "forced"
        if self.every_n_steps is not None and step % self.every_n_steps:
            return False, f"step {step} is not a multiple of every_n_steps={self.every_n_steps}"
        if self.save_best_only:
            value = _as_float((metrics or {}).get(self.metric))
            if value is None:
                return False, f"metric {self.metric!r} missing from metrics"
            if self._best is not None and not self._better(value, self._best):
                return False, f"{self.metric}={value:g} does not beat {self._best:g}"
        return True, "policy"

    def _better(self, new: float, old: float) -> bool:
        return new < old if self.mode == "min" else new > old

    def _admit(self, step: int, metrics: dict[str, Any], force: bool) -> tuple[bool, str]:
        """Whether this rank and the policy save at ``step``, and why; when they do, the best
        value so far is updated."""
        rank = _rank()
        ok, reason = (False, f"rank {rank}: only rank 0 saves") if rank else \
            self.should_save(step, metrics, force)
        if ok:
            value = _as_float(metrics.get(self.metric)) if self.metric else None
            if value is not None and (self._best is None or self._better(value, self._best)):
                self._best = value
        return ok, reason

    # --- saving -----------------------------------------------------------------------------

    def save(self, step: int, model: Any = None, optimizer: Any = None, scheduler: Any = None,
             scaler: Any = None, extra: dict[str, Any] | None = None,
             metrics: dict[str, Any] | None = None, aliases: list[str] | tuple[str, ...] = (),
             force: bool = False) -> SaveResult:
        """Save a version at ``step`` if the policy says so; returns a :class:`SaveResult`.

        Async saves return once the state is copied; ``result.wait()`` gives the version.
        :raises CheckpointError: when an earlier background save failed (it is raised once).
        """
        if self.preempt and not self._in_preempt and _preempt_pending():
            return self._save_preempt(step, model, optimizer, scheduler, scaler, extra, metrics,
                                      aliases)
        self._raise_deferred()
        if self._finished:
            raise CheckpointError(f"checkpoint manager {self.name!r} is finished")
        if extra is not None:
            check_safe_extra(extra)
        aliases = tuple(check_alias(a) for a in aliases)
        metrics = {k: _scalar(v) for k, v in (metrics or {}).items() if v is not None}
        self._last = dict(step=step, model=model, optimizer=optimizer, scheduler=scheduler,
                          scaler=scaler, extra=extra, metrics=metrics, aliases=tuple(aliases))
        ok, reason = self._admit(step, metrics, force)
        if not ok:
            return SaveResult(step, False, reason)
        slot = self._free_slots.get() if self.async_save else 0  # back-pressure: bounded in flight
        try:
            self._raise_deferred()  # a save that failed while we waited for the slot
            snap = self._snapshot(slot, model, optimizer, scheduler, scaler, extra)
        except BaseException:
            if self.async_save:
                self._free_slots.put(slot)
            raise
        return self._submit(step, reason, snap, self._info(step, metrics), aliases, slot)

    def _submit(self, step: int, reason: str, payload: Any, info: dict[str, Any],
                aliases: list[str] | tuple[str, ...], slot: int) -> SaveResult:
        """Hand a version to the writer thread (or write it now, without async saves)."""
        future: Future = Future()
        self._last_saved_step = step
        job = (payload, info, list(aliases), slot, future)
        if self.async_save:
            self._ensure_thread()
            self._pending = [f for f in self._pending if not f.done()] + [future]
            self._jobs.put(job)
        else:
            self._run_job(job)
            self._raise_deferred()
        return SaveResult(step, True, reason, future)

    def register(self, step: int, files: Any, metrics: dict[str, Any] | None = None,
                 aliases: list[str] | tuple[str, ...] = (), force: bool = False) -> SaveResult:
        """Register existing files as a version at ``step``, in place, if the policy says so.

        ``files`` is a folder (every file under it) or ``{name in the version: path}``. Each file
        is hard-linked into the version on this thread (a copy, with a notice, only where a link
        is impossible), so deleting the originals later (HF's checkpoint rotation) leaves the
        version whole; digesting, listing, W&B logging and retention follow on the writer
        thread as for :meth:`save`. The files must not be modified in place afterwards.
        :raises CheckpointError: for a missing file or a bad name, or an earlier failed save.
        """
        self._raise_deferred()
        if self._finished:
            raise CheckpointError(f"checkpoint manager {self.name!r} is finished")
        sources = files_to_register(files)
        aliases = tuple(check_alias(a) for a in aliases)
        metrics = {k: _scalar(v) for k, v in (metrics or {}).items() if v is not None}
        self._last = None  # nothing to save at finish: the files may be gone by then
        ok, reason = self._admit(step, metrics, force)
        if not ok:
            return SaveResult(step, False, reason)
        slot = self._free_slots.get() if self.async_save else 0
        tmp = tmp_dir_for(self.parent)
        try:
            self._raise_deferred()
            copied = link_files(tmp, sources)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if self.async_save:
                self._free_slots.put(slot)
            raise
        if copied:
            _warn(f"{self.name!r} step {step}: {len(copied)} file(s) could not be hard-linked "
                  f"(another file system?) and were copied: {', '.join(copied[:3])}")
        return self._submit(step, reason, LinkedFiles(tmp, copied), self._info(step, metrics),
                            aliases, slot)

    def _save_preempt(self, step: int, model: Any, optimizer: Any, scheduler: Any, scaler: Any,
                      extra: dict[str, Any] | None, metrics: dict[str, Any] | None,
                      aliases: list[str] | tuple[str, ...]) -> SaveResult:
        """The preemption safe point: save ``step`` as ``preempt``, wait, end the run, exit."""
        from wandbkit import preempt as preemption

        self._in_preempt = True
        try:
            result = self.save(step, model, optimizer, scheduler, scaler, extra=extra,
                               metrics=metrics, aliases=(*aliases, preemption.PREEMPT_ALIAS),
                               force=True)
            self.wait()  # whole on disk and listed before the run ends
        finally:
            self._in_preempt = False
        preemption.act(saved_by=self)  # finishes the run (and this manager); exits by default
        return result

    def _snapshot(self, slot: int, model: Any, optimizer: Any, scheduler: Any, scaler: Any,
                  extra: dict[str, Any] | None) -> Snapshot:
        snapper = Snapshotter(self._pool, slot)
        snap = Snapshot(rng=rng.capture())
        if model is not None:
            state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
            unique, snap.tied = dedupe_tied(state)
            snap.model = {k: snapper.tensor(f"model/{k}", t) for k, t in unique.items()}
        for key, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
            if obj is not None:
                snap.states[key] = snapper.tree(key, obj.state_dict())
        if extra is not None:
            snap.states["extra"] = snapper.tree("extra", extra)
        snap.event = snapper.finish()
        return snap

    def _info(self, step: int, metrics: dict[str, Any]) -> dict[str, Any]:
        run = self.run
        config = getattr(run, "config", None) if run is not None else None
        try:
            config = dict(config) if config is not None else None
        except (TypeError, ValueError):
            config = None
        return {"name": self.name, "step": int(step), "metrics": metrics,
                "run_id": getattr(run, "id", None), "project": getattr(run, "project", None),
                "config": config}

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._worker, daemon=True,
                                            name=f"wandbkit-ckpt-{self.name}")
            self._thread.start()

    def _worker(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run_job(job)

    def _run_job(self, job: tuple) -> None:
        snap, info, aliases, slot, future = job
        try:
            version = self._write(snap, info, aliases)
        except BaseException as exc:
            self._errors.append(exc)
            self._last_failure = exc
            future.set_exception(exc)
        else:
            self._last_failure = None
            future.set_result(version)
        finally:
            if self.async_save:
                self._free_slots.put(slot)

    def _write(self, snap: Snapshot | LinkedFiles, info: dict[str, Any],
               aliases: list[str]) -> Version:
        linked = isinstance(snap, LinkedFiles)
        tmp = snap.tmp if linked else tmp_dir_for(self.parent)
        try:
            if isinstance(snap, LinkedFiles):
                manifest = register_version(tmp, info, self.digest, snap.copied)
            else:
                manifest = write_version(tmp, snap, info, self.digest)
            best = (self.metric, self.mode) if self.metric else None
            version = self.index.commit(self.name, tmp, self.parent, manifest, aliases, best,
                                        self.wandb_mode)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # The version is saved and listed from here on: W&B or retention trouble is reported,
        # never turned into a failed save (a failing sink must not stop training).
        if self.wandb_mode:
            wandb_aliases = [a for a in version.aliases if a != "latest"] + ["latest"]
            try:
                log_version(self.run, version, manifest, wandb_aliases)
            except Exception as exc:
                _warn(f"logging {version.ref} to W&B failed: {type(exc).__name__}: {first_line(exc)}")
        try:
            self.apply_retention()
        except Exception as exc:
            _warn(f"retention for {self.name!r} failed (run `wandbkit ckpt gc`): "
                  f"{type(exc).__name__}: {first_line(exc)}")
        return version

    def apply_retention(self) -> list[Version]:
        """Delete versions the policies no longer keep; returns them.

        A version never logged to W&B is removed at once. One logged to W&B is unlisted at once
        (it no longer loads or counts) but its folder stays where it is, because wandb reads the
        files in place (``policy="immutable"``) when it uploads, which for an offline run is at
        ``wandbkit sync``; the folder goes when the remembered W&B deletion is applied (after
        sync, or at the end of an online run), or with ``gc --purge-unsynced``.
        """
        doomed = self.index.retention(self.name, self.keep_last_k, self.keep_best_k,
                                      self.metric, self.mode, run=self.scope)
        for v in doomed:
            remember = v.wandb_mode is not None
            self.index.unlist(v, remember, v.path if remember else None)
            if not remember and v.path.exists():
                trash = v.path.parent / ".trash" / f"v{v.version}-{uuid.uuid4().hex[:6]}"
                trash.parent.mkdir(exist_ok=True)
                v.path.rename(trash)  # one rename, then the slow delete of an unlisted folder
                shutil.rmtree(trash, ignore_errors=True)
        return doomed

    # --- finishing --------------------------------------------------------------------------

    def wait(self) -> None:
        """Block until every queued save is written; raise the first background failure.

        Ctrl-C while waiting is let through: the save in flight goes on on the writer thread
        and is finished (written and listed, or left as an unlisted temporary folder) before
        the interpreter exits, so it never leaves a listed version that fails to load.
        """
        for future in list(self._pending):
            try:
                future.result()
            except BaseException as exc:
                if not (future.done() and future.exception() is exc):
                    raise  # raised here (KeyboardInterrupt), not the save's own failure
        self._pending = [f for f in self._pending if not f.done()]
        self._raise_deferred()

    def finish(self) -> Version | None:
        """Save the last state if the policy skipped it (``save_on_finish``), wait, stop the writer.

        Returns the version saved at finish, if any.
        :raises CheckpointError: when a background save failed, or when the newest save failed
            (even if that was raised and caught before) and no save after it was written: the
            run's last checkpoint is not on disk.
        """
        if self._finished:
            return None
        saved = None
        try:
            self.wait()
            last = self._last
            if (self.save_on_finish and last is not None
                    and last["step"] != self._last_saved_step):
                result = self.save(**last, force=True)
                try:
                    saved = result.wait()
                except Exception:
                    pass  # the writer's failure is raised just below, as a CheckpointError
            self.wait()
            if self._last_failure is not None:  # raised to the caller before, and caught there
                exc = self._last_failure
                raise CheckpointError(f"the last save of {self.name!r} failed and none after it "
                                      f"was written: {type(exc).__name__}: {first_line(exc)}")
            if self.wandb_cache_cap is not None:
                try:
                    trim_caches(self.index.root, self.wandb_cache_cap, False, GcReport(),
                                self.trim_cache_dir)
                except CheckpointError as exc:  # housekeeping: the checkpoints are saved
                    _warn(str(exc))
        finally:
            self._finished = True
            if self._thread is not None:
                self._jobs.put(None)
                self._thread.join()
            self._pool = None  # free the snapshot buffers (as large as the model + optimizer)
            atexit.unregister(self._atexit)
            if self.preempt:
                from wandbkit import preempt as preemption

                preemption.release_safe_point(self)
            with _LOCK:
                _MANAGERS.pop((_run_id(self.run), self.name), None)
        return saved

    def _raise_deferred(self) -> None:
        if self._errors:
            exc = self._errors.pop(0)
            self._errors.clear()
            raise CheckpointError(f"a background save of {self.name!r} failed: "
                                  f"{type(exc).__name__}: {first_line(exc)}") from exc

    def _atexit(self) -> None:
        if not self._finished and self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=600)

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.save_on_finish = False
            try:
                self.finish()
            except CheckpointError:
                pass


_SAFE_LEAVES = (int, float, str, bool, bytes, type(None))


def check_safe_extra(obj: Any, where: str = "extra") -> None:
    """Refuse ``extra`` values that ``torch.load(weights_only=True)`` could not load back.

    :raises CheckpointError: naming the offending key and its type.
    """
    import torch

    if isinstance(obj, (torch.Tensor, *_SAFE_LEAVES)):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_safe_extra(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_safe_extra(v, f"{where}[{i}]")
        return
    raise CheckpointError(f"{where} is a {type(obj).__name__}: extra may hold only tensors, "
                          "numbers, strings, bytes, None, lists, tuples and dicts (what "
                          "torch.load(weights_only=True) loads back)")


def manager_for(run: Any, name: str) -> CheckpointManager:
    """The manager registered for ``(run, name)``, or a new one with the default policy."""
    with _LOCK:
        found = _MANAGERS.get((_run_id(run), name))
    return found if found is not None else CheckpointManager(run, name)


def managers_of(run: Any) -> list[CheckpointManager]:
    """Managers open for ``run``."""
    rid = _run_id(run)
    with _LOCK:
        return [m for (r, _), m in _MANAGERS.items() if r == rid]


def _preempt_pending() -> bool:
    """A preemption signal waits for this main thread's next safe point."""
    preemption = sys.modules.get("wandbkit.preempt")
    return bool(preemption is not None and preemption.pending
                and threading.current_thread() is threading.main_thread())


def _warn(message: str) -> None:
    print(f"wandbkit-artifacts: {message}", file=sys.stderr, flush=True)


def _rank() -> int:
    """This process's rank under torch.distributed (0 when not distributed)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _run_id(run: Any) -> str | None:
    return getattr(run, "id", None) if run is not None else None


def _scalar(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _as_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if out != out else out


