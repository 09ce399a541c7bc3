"""The process that hosts ``wandb`` for one run (``python -m wandbkit.sinks.wandb_worker``).

Why a separate process: ``wandb.log`` costs 90-400 µs of Python per call, and on a background
thread of the training process that time is taken from the training thread through the GIL
(measured: ~150 µs added to a 0.3 ms step). Here it costs the training process nothing but
pickling a batch onto a pipe. The worker is started with ``subprocess`` rather than
``multiprocessing`` so it never re-imports the user's ``__main__`` (an unguarded training
script would otherwise run twice).

Protocol (pickled messages over two inherited pipe fds): the parent sends ``("init", params)``
then ``("rows", [...])``, ``("summary", d)``, ``("config", d)``, ``("alert", d)``,
``("artifact", d)``, ``("define_metric", kwargs)`` and finally ``("finish", exit_code)``; the
worker answers ``("started", info)``, ``("note", text)`` for one-line messages and
``("finished", report)``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from wandbkit.media import MEDIA_TYPES, Audio, CustomChart, Histogram, Html, Image, Plotly, Table, Video


def _reader(conn: Connection, inbox: queue.Queue[Any]) -> None:
    """Drain the pipe as fast as it fills, so the parent's send never waits on wandb.init."""
    while True:
        try:
            inbox.put(conn.recv())
        except (EOFError, OSError):
            inbox.put(("eof", None))
            return


class WandbHost:
    """Owns the ``wandb`` run and turns wandbkit messages into wandb calls."""

    def __init__(self, out: Connection) -> None:
        self.out = out
        self.run: Any = None
        self.wandb: Any = None
        self.rows = 0
        self.dropped = 0
        self.first_dropped: int | None = None
        self.last_step = -1
        self.errors: list[str] = []
        self.mode = "offline"
        self._media_tmp: str | None = None  # encoded audio/video handed to wandb as files
        self._media_files = 0

    def note(self, text: str) -> None:
        """Send a one-line message for the parent to print."""
        self.out.send(("note", text))

    def start(self, params: dict[str, Any]) -> None:
        """``wandb.init``; online when asked and reachable, else offline with the same id."""
        import wandb

        self.wandb = wandb
        self.mode = params["mode"]
        kwargs = dict(project=params["project"], name=params.get("name"),
                      config=params.get("config") or {}, tags=params.get("tags") or None,
                      group=params.get("group"), id=params["id"], dir=params["dir"],
                      resume=_wandb_resume(params.get("resume")), reinit="create_new")
        kwargs.update(params.get("extra") or {})  # entity, notes, job_type, save_code
        # A resumed run's steps continue after the stored ones: W&B's rule drops earlier ones.
        # Offline, wandb does not know them (each process writes its own fragment), so apply
        # the rule here and count what it drops, online and offline alike.
        self.last_step = max(self.last_step, int(params.get("start_step") or 0))
        settings: dict[str, Any] = dict(console="off", x_stats_pid=params["parent_pid"],
                                        init_timeout=params.get("init_timeout", 30.0),
                                        program=params.get("program"))
        try:
            self.run = wandb.init(mode=self.mode, settings=wandb.Settings(**settings), **kwargs)
        except Exception as exc:
            if self.mode != "online":
                raise
            from wandbkit.formatting import first_line

            self.note(f"W&B unreachable ({first_line(exc)[:200]}); logging offline instead — "
                      f"`wandbkit sync {params['id']}` uploads it later")
            self.mode = "offline"
            wandb.teardown()  # the failed online attempt still holds the run id in wandb-core
            self.run = wandb.init(mode="offline", settings=wandb.Settings(**settings), **kwargs)
        self.out.send(("started", {
            "mode": self.mode, "id": self.run.id, "path": getattr(self.run, "path", None),
            "url": self.run.url, "dir": os.path.dirname(self.run.dir.rstrip("/")),
        }))

    def rows_(self, rows: list[tuple[int, float, dict[str, Any]]]) -> None:
        """``wandb.log`` each row at its step; rows whose step went backwards are counted."""
        for step, _time, values in rows:
            if step < self.last_step:
                # wandb ignores (with a warning) rows whose step decreases: count, don't send.
                self.dropped += 1
                if self.first_dropped is None:
                    self.first_dropped = step
                continue
            self.last_step = step
            if any(isinstance(v, MEDIA_TYPES) for v in values.values()):
                values = {k: self._to_wandb(v) for k, v in values.items()}
            self.run.log(values, step=step)
            self.rows += 1

    def _to_wandb(self, value: Any) -> Any:
        wandb = self.wandb
        if isinstance(value, Image):
            return wandb.Image(value.pixels, caption=value.caption)
        if isinstance(value, Histogram):
            return wandb.Histogram(np_histogram=(value.counts.tolist(), value.edges.tolist()))
        if isinstance(value, Table):
            return wandb.Table(columns=value.columns,
                               data=[[self._to_wandb(c) if isinstance(c, MEDIA_TYPES) else c
                                      for c in row] for row in value.data])
        if isinstance(value, Html):
            return wandb.Html(value.html, inject=value.inject, data_is_not_path=True)
        if isinstance(value, Plotly):
            import plotly.io

            return wandb.Plotly(plotly.io.from_json(json.dumps(value.spec), skip_invalid=True))
        if isinstance(value, CustomChart):
            return wandb.plot_table(value.spec_name, self._to_wandb(value.table), value.fields,
                                    value.string_fields, split_table=value.split_table)
        if isinstance(value, (Audio, Video)):
            # wandb encodes arrays with soundfile/moviepy; a file of the encoded bytes needs
            # neither. wandb copies it into the run folder when logged.
            if self._media_tmp is None:
                self._media_tmp = tempfile.mkdtemp(prefix="wandbkit-media-")
            self._media_files += 1
            path = os.path.join(self._media_tmp, f"{self._media_files}.{value.format}")
            with open(path, "wb") as f:
                f.write(value.encoded)
            if isinstance(value, Audio):
                return wandb.Audio(path, caption=value.caption)
            return wandb.Video(path, caption=value.caption, format=value.format)
        return value

    def artifact(self, record: dict[str, Any]) -> None:
        """Log a file or folder as a W&B Artifact without a staging copy."""
        wandb = self.wandb
        art = wandb.Artifact(record["name"], type=record["type"], metadata=record["metadata"])
        path = record["path"]
        if os.path.isdir(path):
            art.add_dir(path, policy="immutable")
        else:
            art.add_file(path, policy="immutable")
        self.run.log_artifact(art, aliases=record["aliases"] or None)

    def alert(self, record: dict[str, Any]) -> None:
        """``wandb.alert`` when online (offline runs keep alerts in the local store only)."""
        if self.mode != "online":
            return
        level = {"info": "INFO", "warn": "WARN", "error": "ERROR"}.get(record["level"], "WARN")
        self.run.alert(title=record["title"], text=record["text"],
                       level=getattr(self.wandb.AlertLevel, level))

    def save(self, payload: dict[str, Any]) -> None:
        """``run.save`` each file with the base path that keeps its name in the run."""
        for source, name in payload["files"]:
            base = source[: len(source) - len(name)].rstrip("/") or "/"
            self.run.save(source, base_path=base, policy=payload["policy"], glob=False)

    def handle(self, kind: str, payload: Any) -> None:
        """Dispatch one message."""
        if kind == "rows":
            self.rows_(payload)
        elif kind == "summary":
            self.run.summary.update(payload)
        elif kind == "config":
            self.run.config.update(payload, allow_val_change=True)
        elif kind == "alert":
            self.alert(payload)
        elif kind == "artifact":
            self.artifact(payload)
        elif kind == "define_metric":
            self.run.define_metric(**payload)
        elif kind == "run_info":
            for field, value in payload.items():
                setattr(self.run, field, tuple(value) if field == "tags" else value)
        elif kind == "save":
            self.save(payload)
        elif kind == "preempting":
            # Online: W&B shows the run as preempted rather than crashed. Offline: wandb writes
            # a `preempting` record into the run's file; `wandbkit sync` uploads it.
            self.run.mark_preempting()

    def finish(self, exit_code: int) -> dict[str, Any]:
        """``wandb.finish`` and the delivery figures."""
        if self.run is not None:
            self.run.finish(exit_code=exit_code)
        if self._media_tmp is not None:
            shutil.rmtree(self._media_tmp, ignore_errors=True)
        return {"rows": self.rows, "dropped": self.dropped, "first_dropped": self.first_dropped,
                "errors": self.errors, "mode": self.mode}


def _wandb_resume(mode: str | None) -> str:
    """wandb's ``resume=``: wandbkit checked the id against its store already, so ``auto``
    (whose id came from the environment) and no mode are ``allow``; must/never go through."""
    return mode if mode in ("must", "never") else "allow"


def main(read_fd: int, write_fd: int) -> int:
    """Serve one run until ``finish`` or until the parent goes away."""
    # Started from the flusher thread, which blocks SIGTERM/SIGINT: the mask is inherited.
    # Unblock before wandb starts its own service process, which inherits it in turn.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    inbox: queue.Queue[Any] = queue.Queue()
    conn_in = Connection(read_fd, writable=False)
    out = Connection(write_fd, readable=False)
    threading.Thread(target=_reader, args=(conn_in, inbox), daemon=True).start()
    host = WandbHost(out)
    kind, params = inbox.get()
    try:
        host.start(params)
    except Exception as exc:
        out.send(("failed", f"wandb.init failed: {type(exc).__name__}: {exc}"))
        return 1
    exit_code = 1  # parent vanished without finishing: mark the run failed
    while True:
        kind, payload = inbox.get()
        if kind == "finish":
            exit_code = payload
            break
        if kind == "eof":
            break
        try:
            host.handle(kind, payload)
        except Exception as exc:
            text = f"{kind}: {type(exc).__name__}: {exc}"
            if len(host.errors) < 20:
                host.errors.append(text)
            if len(host.errors) == 1:
                host.note("W&B sink error (further ones are counted; WANDBKIT_DEBUG=1 shows the "
                          "traceback): " + (text.splitlines() or [""])[0][:500])
                if os.environ.get("WANDBKIT_DEBUG"):
                    traceback.print_exc(file=sys.stderr)
    report = host.finish(exit_code)
    try:
        out.send(("finished", report))
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
