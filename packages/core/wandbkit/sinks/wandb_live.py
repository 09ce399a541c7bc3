"""Live upload of a run the W&B writer is writing: ``python -m wandbkit.sinks.wandb_live RUN_DIR PID``.

Runs ``wandb beta sync --live RUN_DIR`` — wandb's own uploader following the ``.wandb`` file
as it grows — and watches the training process ``PID``. wandb warns that ``--live`` may hang
when the writer dies uncleanly: it waits for records that never come. So when the training
process is gone (this process is re-parented) and the file does not end with an ``exit``
record, this one cuts a torn last record and appends ``exit`` (code 1, as wandb's own service
does for a vanished SDK process); the follower then uploads it and ends. Started in a session
of its own, it outlives a SIGKILL of the training process.

Exit status: the follower's (0: uploaded), or 124 when it did not end within
``WANDBKIT_WANDB_LIVE_GRACE_S`` (300) of the run's end; its output is in
``RUN_DIR/logs/wandbkit-live-sync.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wandbkit.settings import env_seconds
from wandbkit.sinks import wandb_proto as proto
from wandbkit.sinks.wandb_logfile import seal

POLL_S = 0.5
GRACE_S = env_seconds("WANDBKIT_WANDB_LIVE_GRACE_S", 300.0)


def seal_run_file(run_file: Path) -> bool:
    """Close the log of a writer that died: a torn tail cut, an ``exit`` record (code 1)."""
    return seal(run_file,
                closing=lambda num: proto.record(num, proto.REC_EXIT, proto.exit_record(1, 0)),
                is_closed=lambda data: proto.REC_EXIT in proto.record_fields(data)[1],
                number=lambda data: proto.record_fields(data)[0])


def main(run_dir: Path, parent_pid: int) -> int:
    """Follow and upload until the run's file ends (sealing it if its writer died)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    run_file = next(run_dir.glob("run-*.wandb"))
    (run_dir / "logs").mkdir(exist_ok=True)
    with open(run_dir / "logs" / "wandbkit-live-sync.log", "ab") as log:
        follower = subprocess.Popen([sys.executable, "-m", "wandb", "beta", "sync", "--live",
                                     str(run_dir)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        deadline: float | None = None
        while True:
            code = follower.poll()
            if code is not None:
                return code
            if deadline is None and os.getppid() != parent_pid:  # the training process is gone
                if seal_run_file(run_file):
                    log.write(b"wandbkit: the writer died; its run file was closed with exit 1\n")
                    log.flush()
                deadline = time.monotonic() + GRACE_S
            if deadline is not None and time.monotonic() > deadline:
                follower.kill()
                follower.wait()
                return 124
            time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
