"""Ctrl-C while ``CheckpointManager.wait()`` waits for a save in flight.

The save's commit is held back by another connection holding the store's write lock; once the
version's files are written (its manifest is in the temporary folder), SIGINT arrives. Prints
what ``wait()`` did and, after the lock is released and ``finish()`` ran, the listed steps.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time

import torch

from wandbkit_artifacts import CheckpointManager, list_versions

ckpt = CheckpointManager(None, "cc", async_save=True)
blocker = sqlite3.connect(ckpt.index.store.db_path, isolation_level=None, timeout=60)
blocker.execute("BEGIN IMMEDIATE")  # the save's commit waits for this lock
ckpt.save(1, torch.nn.Linear(4, 4))


def interrupt_once_written() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any((p / "manifest.json").exists() for p in ckpt.parent.glob(".tmp-*")):
            os.kill(os.getpid(), signal.SIGINT)
            return
        time.sleep(0.01)


threading.Thread(target=interrupt_once_written, daemon=True).start()
try:
    ckpt.wait()
    outcome = "returned"
except KeyboardInterrupt:
    outcome = "KeyboardInterrupt"
blocker.execute("ROLLBACK")  # the save in flight now commits
ckpt.finish()
print(json.dumps({"outcome": outcome, "steps": [v.step for v in list_versions("cc")]}))
