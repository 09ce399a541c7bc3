"""The W&B sink: hands rows to a worker process that owns the real ``wandb`` run.

See :mod:`wandbkit.sinks.wandb_worker` for why wandb lives in its own process. This side only
pickles batches onto a pipe (microseconds per row) and listens for the worker's replies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit.console import warn
from wandbkit.lifecycle import block_signals_in_this_thread
from wandbkit.settings import env_seconds, wandb_environment
from wandbkit.sinks.base import AlertRecord, ArtifactRecord, MetricDefinition, Sink

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from wandbkit.rows import Row
    from wandbkit.run import Run
    from wandbkit.saved_files import SavedFiles

FINISH_TIMEOUT_S = env_seconds("WANDBKIT_WANDB_FINISH_TIMEOUT", 600.0)
INIT_TIMEOUT_S = env_seconds("WANDBKIT_WANDB_INIT_TIMEOUT", 30.0)


class WandbSink(Sink):
    """Sends a run to W&B (online, or offline for ``wandbkit sync`` later)."""

    name = "wandb"

    def __init__(self, mode: str, store_root: Path) -> None:
        self.mode = mode
        self.store_root = store_root
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.replies: Connection | None = None
        self.info: dict[str, Any] = {}
        self.final: dict[str, Any] | None = None
        self.failure: str | None = None
        self._finished = threading.Event()
        self._run: Run | None = None

    def start(self, run: Run) -> None:
        """Start the worker and send it ``wandb.init``'s arguments."""
        # Imported here: multiprocessing costs ~15 ms to import, off the caller's thread here.
        from multiprocessing.connection import Connection

        self._run = run
        self.store_root.mkdir(parents=True, exist_ok=True)
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            # A new session: Ctrl-C and group signals reach the training process, which then
            # finishes the run through this worker; the worker must still be alive for that.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "wandbkit.sinks.wandb_worker",
                 str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), env=wandb_environment(self.store_root),
                cwd=str(self.store_root), start_new_session=True, stdin=subprocess.DEVNULL)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.conn = Connection(to_child_w, readable=False)
        self.replies = Connection(from_child_r, writable=False)
        threading.Thread(target=self._listen, name="wandbkit-wandb-replies", daemon=True).start()
        s = run.settings
        self.conn.send(("init", {
            "project": s.project, "name": s.name, "group": s.group, "tags": list(s.tags),
            "config": dict(run.config), "id": run.id,
            # wandb's folder: $WANDB_DIR when the user set it (as the W&B writer), else the store
            "dir": os.environ.get("WANDB_DIR") or str(self.store_root),
            "mode": self.mode, "parent_pid": os.getpid(), "program": sys.argv[0] or None,
            "init_timeout": INIT_TIMEOUT_S, "extra": dict(s.wandb_init),
            # resuming: W&B's resume mode online; the steps W&B already has end before start_step
            "resume": s.resume, "fragment": s.fragment, "start_step": s.start_step,
        }))

    def _listen(self) -> None:
        assert self.replies is not None
        block_signals_in_this_thread()
        while True:
            try:
                kind, payload = self.replies.recv()
            except (EOFError, OSError):
                break
            if kind == "started":
                self.info = payload
                if self._run is not None:
                    self._run._link("wandb", payload)
            elif kind == "note":
                warn(payload)
            elif kind == "failed":
                self.failure = payload
                warn(payload)
            elif kind == "finished":
                self.final = payload
                break
        self._finished.set()

    def _send(self, message: tuple[str, Any]) -> None:
        if self.conn is None:
            raise RuntimeError("the W&B worker was not started")
        if self.failure:
            raise RuntimeError(self.failure)
        try:
            self.conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            code = self.proc.poll() if self.proc else None
            raise RuntimeError(f"the W&B worker exited (code {code}): {exc}") from exc

    def write(self, rows: list[Row]) -> None:
        """Pickle the batch onto the worker's pipe."""
        self._send(("rows", [(r.step, r.time, r.values) for r in rows]))

    def update_summary(self, summary: dict[str, Any]) -> None:
        """Forward ``run.summary`` updates."""
        self._send(("summary", summary))

    def update_config(self, config: dict[str, Any]) -> None:
        """Forward ``run.config`` updates."""
        self._send(("config", config))

    def alert(self, alert: AlertRecord) -> None:
        """Forward alerts (the worker calls ``wandb.alert`` when online)."""
        self._send(("alert", asdict(alert)))

    def log_artifact(self, artifact: ArtifactRecord) -> None:
        """Forward an artifact to log."""
        self._send(("artifact", asdict(artifact)))

    def define_metric(self, definition: MetricDefinition) -> None:
        """Forward a metric definition (the worker calls ``wandb.define_metric``)."""
        self._send(("define_metric", {"name": definition.name, **definition.wandb_kwargs()}))

    def update_run(self, info: dict[str, Any]) -> None:
        """Forward a rename / new tags / notes (the worker sets them on wandb's run)."""
        self._send(("run_info", info))

    def save_files(self, saved: SavedFiles) -> None:
        """Forward saved files (the worker calls ``run.save`` for each, folders kept)."""
        self._send(("save", {"files": saved.files, "policy": saved.policy}))

    def mark_preempting(self, _: None = None) -> None:
        """Forward the preemption notice (the worker calls ``run.mark_preempting()``)."""
        self._send(("preempting", None))

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Ask the worker to finish wandb's run and wait for its figures."""
        if self.conn is not None and self.proc is not None and self.proc.poll() is None:
            try:
                self.conn.send(("finish", exit_code))
            except OSError:
                pass
        self._finished.wait(FINISH_TIMEOUT_S)
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        result: dict[str, Any] = {"mode": self.info.get("mode", self.mode),
                                  "where": self.info.get("dir"), "url": self.info.get("url")}
        if self.final is None:
            code = self.proc.returncode if self.proc else None
            result["delivered"] = 0
            result["error"] = self.failure or f"the W&B worker ended without finishing (code {code})"
            return result
        result["delivered"] = self.final["rows"]
        if self.final["dropped"]:
            result["error"] = (f"W&B ignored {self.final['dropped']} rows whose step went "
                               f"backwards (first at step {self.final['first_dropped']})")
        if self.final["errors"]:
            result["error"] = "; ".join(self.final["errors"][:3])
        return result
