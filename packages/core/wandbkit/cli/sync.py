"""``wandbkit sync``: upload offline runs with ``wandb sync``, honestly.

``wandb sync`` prints "No API key configured" and still exits 0 when nobody is logged in, so
the login is checked first, and wandb's output is read for errors afterwards.

A resumed run has one offline folder per process that ran it (its fragments). They go up in
the order they ran, to one W&B run (``wandb sync --id``); a later sync uploads only the
fragments started since the last one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rich.console import Console

from wandbkit.errors import UserError
from wandbkit.plugins import call_each
from wandbkit.settings import is_logged_in, wandb_api_host, wandb_environment
from wandbkit.store import RunRecord, Store, now

FAILURE_MARKERS = ("no api key", "error", "failed", "traceback")


def runs_to_sync(store: Store, refs: list[str]) -> list[RunRecord]:
    """The named runs, or every offline run not yet synced.

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


def wandb_sync_command(store: Store, record: RunRecord, dirs: list[str]) -> list[str]:
    """The ``wandb sync`` command line for ``dirs`` of one run: several fragments go to one
    W&B run (``--id``; wandb uploads them in start-time order), as does a fragment added
    after an earlier sync."""
    command = [sys.executable, "-m", "wandb", "sync"]
    if len(dirs) > 1 or len(store.fragments(record.id)) > 1:
        command += ["--id", record.wandb_id or record.id, "--project", record.project]
    return command + dirs


def sync_runs(store: Store, refs: list[str]) -> int:
    """Upload runs; returns the exit code (0 all synced, 1 not logged in or a failure)."""
    out = Console(stderr=True)
    records = runs_to_sync(store, refs)
    if not records:
        out.print("nothing to sync: no offline runs waiting")
        return 0
    if not is_logged_in():
        out.print(f"error: not logged in to W&B ({wandb_api_host()}): run `wandb login` or set "
                  f"WANDB_API_KEY; {len(records)} run(s) stay offline, nothing was uploaded")
        return 1
    failures = 0
    for record in records:
        ok, message = _wandb_sync(store, record)
        if ok:
            store.mark_synced(record.id, now())
            call_each("wandbkit_run_synced", record=record, store_dir=store.root)
            out.print(f"synced {record.id} ({record.project})")
        else:
            failures += 1
            out.print(f"error: syncing {record.id} failed: {message}")
    return 1 if failures else 0


def _wandb_sync(store: Store, record: RunRecord) -> tuple[bool, str]:
    assert record.wandb_dir is not None
    dirs = fragments_to_sync(store, record) or [record.wandb_dir]
    missing = [d for d in dirs if not Path(d).exists()]
    if missing:
        return False, f"{missing[0]} no longer exists"
    proc = subprocess.run(wandb_sync_command(store, record, dirs),
                          env=wandb_environment(store.root), capture_output=True, text=True,
                          timeout=3600)
    text = (proc.stdout + proc.stderr).strip()
    bad = [line for line in text.splitlines() if any(m in line.lower() for m in FAILURE_MARKERS)]
    if proc.returncode != 0 or bad:
        return False, (bad[0] if bad else text.splitlines()[-1] if text else
                       f"wandb sync exited {proc.returncode}")
    return True, text
