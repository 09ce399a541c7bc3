"""``wandbkit sync``: upload offline runs with ``wandb sync``, honestly.

``wandb sync`` prints "No API key configured" and still exits 0 when nobody is logged in, so
the login is checked first. A run counts as uploaded only when ``wandb sync`` exited 0 *and*
wandb marked every one of its ``.wandb`` files synced (the ``<file>.wandb.synced`` marker wandb
writes once the server has it); wandb's words are shown, never parsed for "error".

wandb's output streams as it comes, under a progress line per run. With no network wandb
retries for a long time: each run has a time limit (``--timeout``), after which its upload is
stopped and the run stays offline, said in one line.

A run still being written (its last process alive, by :func:`wandbkit.store.process_gone`) is
skipped with one line: uploading it now would mark it synced and leave the rest of it behind.

A resumed run has one offline folder per process that ran it (its fragments). They go up in
the order they ran, to one W&B run (``wandb sync --id``); a later sync uploads only the
fragments started since the last one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from wandbkit.errors import UserError
from wandbkit.plugins import call_each
from wandbkit.settings import is_logged_in, wandb_api_host, wandb_environment
from wandbkit.store import RunRecord, Store, now

DEFAULT_TIMEOUT_S = 600.0


@dataclass
class Outcome:
    """How one ``wandb sync`` ended: uploaded or not, and why in one line."""

    ok: bool
    reason: str


def runs_to_sync(store: Store, refs: list[str]) -> list[RunRecord]:
    """The named runs, or every offline run with fragments not yet synced.

    :raises UserError: when a named run has no W&B files to upload.
    """
    if refs:
        records = [store.get_run(ref) for ref in refs]
        for r in records:
            if not r.wandb_dir:
                raise UserError(f"run {r.id} has no W&B files to sync "
                                f"(its W&B mode was {r.wandb_mode or 'unknown'})")
        return records
    return [r for r in store.runs() if r.wandb_mode == "offline" and r.wandb_dir
            and fragments_to_sync(store, r)]


def fragments_to_sync(store: Store, record: RunRecord) -> list[str]:
    """The run's offline folders not uploaded yet, in the order they ran."""
    synced = store.synced_at(record.id)
    fragments = [f for f in store.fragments(record.id)
                 if f["wandb_mode"] == "offline" and f["wandb_dir"]]
    if not fragments:  # a run written before fragments were kept
        return [record.wandb_dir] if record.wandb_dir and synced is None else []
    return list(dict.fromkeys(f["wandb_dir"] for f in fragments
                              if synced is None or f["started_at"] > synced))


def still_running(store: Store, record: RunRecord) -> str | None:
    """Why ``record`` must not be uploaded yet (its last process is alive), or None.

    The store already decides liveness with :func:`wandbkit.store.process_gone` when it reads
    a run and its fragments: a ``running`` state there means the process still exists (on
    this host) or its heartbeat is fresh (on another)."""
    fragments = store.fragments(record.id)
    last = fragments[-1] if fragments else None
    if (last["state"] if last else record.state) != "running":
        return None
    host = (last or {}).get("host") or record.host or "?"
    pid = (last or {}).get("pid") or record.pid or "?"
    return f"still running (pid {pid} on {host})"


def wandb_sync_command(store: Store, record: RunRecord, dirs: list[str]) -> list[str]:
    """The ``wandb sync`` command line for ``dirs`` of one run: several fragments go to one
    W&B run (``--id``; wandb uploads them in start-time order), as does a fragment added
    after an earlier sync."""
    command = [sys.executable, "-m", "wandb", "sync"]
    if len(dirs) > 1 or len(store.fragments(record.id)) > 1:
        command += ["--id", record.wandb_id or record.id, "--project", record.project]
    return command + dirs


def wandb_files(dirs: list[str]) -> list[Path]:
    """The ``.wandb`` transaction logs in the run folders ``dirs``."""
    return sorted(f for d in dirs for f in Path(d).glob("*.wandb"))


def synced_marker(wandb_file: Path) -> Path:
    """The marker wandb writes beside a ``.wandb`` file once it is uploaded."""
    return wandb_file.with_name(wandb_file.name + ".synced")


def sync_outcome(returncode: int | None, files: list[Path], last_line: str,
                 timeout_s: float) -> Outcome:
    """Decide from ``wandb sync``'s exit status and wandb's synced markers whether the run is
    up; ``returncode`` None means it was stopped at the time limit."""
    if returncode is None:
        return Outcome(False, f"wandb sync did not finish within {timeout_s:g} s (no network?); "
                       "stopped" + (f" after: {last_line}" if last_line else ""))
    if returncode != 0:
        return Outcome(False, f"wandb sync exited {returncode}"
                       + (f": {last_line}" if last_line else ""))
    if not files:
        return Outcome(False, "no .wandb file to upload in its W&B folder")
    missing = [f for f in files if not synced_marker(f).exists()]
    if missing:
        return Outcome(False, f"wandb did not mark {missing[0].name} synced"
                       + (f" (it said: {last_line})" if last_line else ""))
    return Outcome(True, last_line)


def wandb_line(raw: str) -> str:
    """One line of wandb's output as shown under a run: its ``wandb:`` prefix dropped."""
    line = raw.strip()
    return line.removeprefix("wandb:").strip()


def run_wandb_sync(command: list[str], env: dict[str, str], timeout_s: float,
                   on_line: Callable[[str], None]) -> int | None:
    """Run ``command``, passing each line of its output to ``on_line`` as it comes; its exit
    status, or None when it ran past ``timeout_s`` and was stopped (with wandb's service,
    which runs in the same process group)."""
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    assert proc.stdout is not None
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, on_line), daemon=True)
    reader.start()
    try:
        code: int | None = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    except KeyboardInterrupt:
        _stop(proc)
        raise
    if code is None:
        _stop(proc)
    reader.join(timeout=5)
    return code


def _read_lines(stream: object, on_line: Callable[[str], None]) -> None:
    buffer = b""
    while chunk := stream.read1(4096):  # type: ignore[attr-defined]
        buffer += chunk.replace(b"\r", b"\n")  # progress updates rewrite one line with \r
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            text = wandb_line(line.decode(errors="replace"))
            if text:
                on_line(text)
    if buffer.strip():
        on_line(wandb_line(buffer.decode(errors="replace")))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def print_plan(out: Console, store: Store, records: list[RunRecord]) -> None:
    """``--dry-run``: each run that would go up, with its folders, and each one skipped."""
    for record in records:
        busy = still_running(store, record)
        if busy:
            out.print(Text(f"would skip {record.id} ({record.project}): {busy}"))
            continue
        dirs = fragments_to_sync(store, record) or [record.wandb_dir or ""]
        out.print(Text(f"would sync {record.id} {record.name or ''} ({record.project}): "
                       f"{len(dirs)} folder(s)"))
        for d in dirs:
            out.print(Text(f"  {d}"))


def sync_runs(store: Store, refs: list[str], timeout_s: float = DEFAULT_TIMEOUT_S,
              dry_run: bool = False) -> int:
    """Upload runs; returns the exit code (0 all synced or nothing to do, 1 not logged in, a
    run left offline or still running)."""
    out = Console(stderr=True, soft_wrap=True)  # a run's line stays one line in any width
    records = runs_to_sync(store, refs)
    if not records:
        out.print("nothing to sync: no offline runs waiting")
        return 0
    if dry_run:
        print_plan(Console(soft_wrap=True), store, records)
        return 0
    if not is_logged_in():
        out.print(f"error: not logged in to W&B ({wandb_api_host()}): run `wandb login` or set "
                  f"WANDB_API_KEY; {len(records)} run(s) stay offline, nothing was uploaded")
        return 1
    left = 0
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=out, transient=True) as progress:
        for record in records:
            busy = still_running(store, record)
            if busy:
                left += 1
                out.print(Text(f"skipped {record.id} ({record.project}): {busy}; "
                               "sync it once it has ended"))
                continue
            began = now()  # a fragment that starts during the upload goes up next time
            outcome = _sync_one(store, record, timeout_s, progress)
            if outcome.ok:
                store.mark_synced(record.id, began)
                call_each("wandbkit_run_synced", record=record, store_dir=store.root)
                out.print(Text(f"synced {record.id} ({record.project})"))
            else:
                left += 1
                out.print(Text(f"left offline: {record.id} ({record.project}): {outcome.reason}"))
    return 1 if left else 0


def _sync_one(store: Store, record: RunRecord, timeout_s: float, progress: Progress) -> Outcome:
    assert record.wandb_dir is not None
    dirs = fragments_to_sync(store, record) or [record.wandb_dir]
    missing = [d for d in dirs if not Path(d).exists()]
    if missing:
        return Outcome(False, f"{missing[0]} no longer exists")
    label = f"{record.id} ({record.project})"
    task = progress.add_task(escape(f"{label}: starting wandb sync"), total=None)
    last = ""

    def on_line(line: str) -> None:
        nonlocal last
        last = line
        progress.console.print(Text(f"  {record.id}: {line}", style="dim"))
        progress.update(task, description=escape(f"{label}: {line}"))

    started = time.monotonic()
    env = {**wandb_environment(store.root), "WANDB_SILENT": "false"}  # its progress is shown
    code = run_wandb_sync(wandb_sync_command(store, record, dirs), env, timeout_s, on_line)
    progress.remove_task(task)
    outcome = sync_outcome(code, wandb_files(dirs), last, timeout_s)
    if outcome.ok:
        outcome.reason = f"{time.monotonic() - started:.1f} s"
    return outcome
