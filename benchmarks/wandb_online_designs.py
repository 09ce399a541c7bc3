"""Online W&B runs: (a) the SDK worker vs (b) the transaction-log writer + ``wandb beta sync --live``.

Run it: ``python benchmarks/wandb_online_designs.py`` (about 2 minutes on 2 cores), ``--quick``
for a smoke run, ``--json`` for the figures on stdout.

No W&B server is reachable here, so both designs upload to a local stand-in: a small HTTP server
answering the GraphQL calls and the file stream wandb-core uses (``UpsertBucket``,
``CreateRunFiles``, ``file_stream``, uploads), which counts the history rows it receives. The
designs, each logging the same rows back to back through ``wandbkit`` with only the W&B sink:

* (a) ``wandbkit.init(mode="online")``: the SDK worker process, ``wandb.log`` per row, wandb-core
  uploading;
* (b) ``WANDBKIT_WANDB_ONLINE=live wandbkit.init(mode="online")``: the writer appends to
  ``run-<id>.wandb`` while ``wandb beta sync --live RUN_DIR`` follows the file and uploads it,
  under wandbkit's watchdog (:mod:`wandbkit.sinks.wandb_live`).

Measured, per design and size: CPU per row of every process the design runs on the training
machine (training process, W&B worker, wandb-core, the watchdog, the ``beta sync`` follower and
its wandb-core — all descendants of the training process; sampled with psutil every 20 ms from
the first ``log`` to ``finish()`` returning, which waits for the upload; start-up, measured
apart, is not per row; the stand-in server excluded), the time from the first ``log`` until the
last row reached the server, and the rows the server received. Then a crash: the training
process is SIGKILLed mid-run, and it is recorded what each design uploaded and whether its
uploader ends by itself — also for (b) without the watchdog, a bare ``beta sync --live``
started beside an offline run (wandb warns that ``--live`` may hang when the writer dies), with
what a plain ``beta sync`` of the same file uploads afterwards.

Not measured, because it needs W&B itself: W&B's real latency, rate limits and retries, and
whether W&B's server treats a run uploaded by ``beta sync --live`` exactly like one from the SDK
(the stand-in accepts anything). The stand-in's replies are minimal; a wandb upgrade that needs
more of the API shows up here as rows not delivered.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from results import record  # benchmarks/ is on sys.path: run by path
from wandb_stand_in import serve  # noqa: E402

SIZES = (10, 100)
DESIGNS = {"a": "(a) SDK worker, online",
           "b": "(b) writer + wandb beta sync --live (WANDBKIT_WANDB_ONLINE=live, with watchdog)",
           "b0": "(b) without the watchdog: writer + a bare wandb beta sync --live"}
TIMED = ("a", "b")
FAKE_KEY = "x" * 40


# --- the training process (--train DESIGN SIZE ROWS RATE) ------------------------------------


def train(design: str, size: int, rows: int, rate: float) -> None:
    """Log ``rows`` rows through wandbkit's W&B sink alone; ``rate`` rows/s (0: back to back)."""
    import wandbkit

    run = wandbkit.init(project="online-designs", mode="offline" if design == "b0" else "online",
                        sinks=["wandb"])
    deadline = time.monotonic() + 120
    while not run.wandb and time.monotonic() < deadline:
        time.sleep(0.01)
    print("DIR", run.wandb.get("dir"), run.wandb.get("mode"), flush=True)
    sys.stdin.readline()  # GO: the uploader has started and gone idle (its start-up is not per row)
    metrics = {f"train/m{i:03d}": 0.5 + i * 1e-3 for i in range(size)}
    print("START", time.time(), flush=True)
    for i in range(rows):
        run.log(metrics)
        if rate:
            time.sleep(1 / rate)
        if i % 500 == 0:
            print("LOGGED", i, flush=True)
    run.finish(quiet=True)
    print("FINISHED", time.time(), flush=True)


# --- measuring ---------------------------------------------------------------------------------


class TreeCpu:
    """CPU seconds of process trees, sampled (last value seen per pid, so exited ones count)."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.roots: list[int] = []
        self.last: dict[int, float] = {}
        self.owner: dict[int, int] = {}  # pid -> the root whose tree it was seen in
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            self.sample()

    def sample(self) -> None:
        """Read every live process of every root's tree."""
        for root in list(self.roots):
            try:
                proc = self.psutil.Process(root)
                procs = [proc, *proc.children(recursive=True)]
            except self.psutil.NoSuchProcess:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    self.last[p.pid] = t.user + t.system
                    self.owner.setdefault(p.pid, root)
                except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                    continue

    def total(self, root: int | None = None) -> float:
        """CPU seconds of everything seen so far (of one root's tree)."""
        self.sample()
        return sum(v for pid, v in self.last.items() if root is None or self.owner[pid] == root)

    def wait_idle(self, max_s: float) -> None:
        """Until the trees use < 10% of a core over 0.2 s (or ``max_s``)."""
        deadline = time.monotonic() + max_s
        before = self.total()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.total()
            if now - before < 0.02:
                return
            before = now

    def close(self) -> float:
        """Stop sampling; the total."""
        total = self.total()
        self.stop.set()
        return total


def _counts(port: int) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_counts", timeout=5) as response:
        return json.loads(response.read())


def _env(root: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "WANDBKIT_"))}
    env.update(WANDBKIT_DIR=str(root / "store"), WANDB_CONFIG_DIR=str(root / "config"),
               WANDB_CACHE_DIR=str(root / "cache"), WANDB_DATA_DIR=str(root / "data"),
               WANDB_API_KEY=FAKE_KEY, WANDB_BASE_URL=f"http://127.0.0.1:{port}",
               WANDB_SILENT="true", WANDBKIT_QUIET="1", NETRC=str(root / "no-netrc"))
    return env


def trial(design: str, size: int, rows: int, kill_after_s: float | None,
          hang_wait_s: float) -> dict[str, Any]:
    """One run of ``design``: the figures, or what happened after a SIGKILL."""
    root = Path(tempfile.mkdtemp(prefix="wandbkit-online-"))
    port = random.randrange(20_000, 40_000)
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)],
                              stderr=subprocess.DEVNULL)
    follower: subprocess.Popen[bytes] | None = None
    cpu = TreeCpu()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                _counts(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        env = _env(root, port)
        if design == "b":
            env["WANDBKIT_WANDB_ONLINE"] = "live"
        rate = 2_000.0 if kill_after_s else 0.0
        proc = subprocess.Popen([sys.executable, __file__, "--train", design, str(size),
                                 str(rows), str(rate)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)
        cpu.roots.append(proc.pid)
        assert proc.stdout is not None and proc.stdin is not None
        out: dict[str, Any] = {"design": design, "size": size, "rows": rows}
        start = None
        cpu0 = {"train": 0.0, "uploader": 0.0}
        train_end: float | None = None
        for line in proc.stdout:
            if line.startswith("DIR"):
                _, run_dir, mode = line.split()
                out["mode"] = mode
                if design == "b0":
                    wandb_cli = str(Path(sys.executable).with_name("wandb"))
                    follower = subprocess.Popen([wandb_cli, "beta", "sync", "--live", run_dir],
                                                env=env, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
                    cpu.roots.append(follower.pid)
                cpu.wait_idle(30)
                cpu0 = {"train": cpu.total(proc.pid),
                        "uploader": cpu.total(follower.pid) if follower else 0.0}
                proc.stdin.write("GO\n")
                proc.stdin.flush()
            elif line.startswith("START"):
                start = time.monotonic()
                if kill_after_s:
                    threading.Timer(kill_after_s, proc.send_signal, (signal.SIGKILL,)).start()
            elif line.startswith("FINISHED"):  # finish() returned: not the interpreter's exit
                train_end = cpu.total(proc.pid)
                break
        proc.wait(timeout=600)
        out["killed"] = proc.returncode == -signal.SIGKILL
        uploader_ended = True
        if follower is not None:
            try:
                follower.wait(timeout=hang_wait_s if kill_after_s else 300)
            except subprocess.TimeoutExpired:
                uploader_ended = False
        elif kill_after_s:  # (a): the worker outlives the training process and finishes the run
            time.sleep(hang_wait_s)
        end = time.monotonic()
        if kill_after_s and design == "b0":
            out.update(_recover(run_dir, env, port, follower, uploader_ended))
        counts = _counts(port)
        if follower is None and kill_after_s:  # its uploader is the design's own: did it end the run?
            uploader_ended = counts["complete"] > 0
        train_cpu = (train_end if train_end is not None else cpu.total(proc.pid)) - cpu0["train"]
        uploader_cpu = (cpu.total(follower.pid) - cpu0["uploader"]) if follower else 0.0
        cpu.close()
        per_row = 1e6 / max(1, counts["history_rows"])
        out.update(delivered=counts["history_rows"], completed=counts["complete"] > 0,
                   uploader_ended=uploader_ended, seconds=end - (start or end),
                   cpu_s=train_cpu + uploader_cpu,
                   train_cpu_per_row_us=train_cpu * per_row,
                   uploader_cpu_per_row_us=uploader_cpu * per_row,
                   cpu_per_row_us=(train_cpu + uploader_cpu) * per_row)
        return out
    finally:
        cpu.close()
        for p in (follower, server):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(root, ignore_errors=True)


def _recover(run_dir: str, env: dict[str, str], port: int,
             follower: subprocess.Popen[bytes] | None, ended: bool) -> dict[str, Any]:
    """After the writer died: the rows its file holds, and what a plain (not --live) ``wandb
    beta sync`` of it uploads once the hanging follower is stopped."""
    wandb_cli = str(Path(sys.executable).with_name("wandb"))
    listed = subprocess.run([wandb_cli, "leet", "inspect", "--json", run_dir],
                            capture_output=True, text=True, timeout=300)
    in_file = sum(1 for line in listed.stdout.splitlines() if '"type":"history"' in line)
    before = _counts(port)
    live = {"live_delivered": before["history_rows"], "live_completed": before["complete"] > 0}
    if follower is not None and not ended:
        follower.kill()
        follower.wait()
    subprocess.run([wandb_cli, "beta", "sync", run_dir], env=env, capture_output=True,
                   timeout=300)
    return {"rows_in_file": in_file, **live,
            "resync_delivered": _counts(port)["history_rows"] - live["live_delivered"]}


def main(argv: list[str] | None = None) -> int:
    """Measure both designs at both sizes, then the crash; print a table (and JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rows: checks that it runs")
    parser.add_argument("--json", action="store_true", help="the figures as JSON on stdout")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--train", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.train:
        design, size, rows, rate = args.train
        train(design, int(size), int(rows), float(rate))
        return 0
    from rich.console import Console
    from rich.table import Table

    rows = {10: 1_000, 100: 300} if args.quick else {10: 5_000, 100: 2_000}
    console = Console(stderr=args.json, width=160)
    load_before = os.getloadavg()
    results: dict[str, Any] = {"trials": [], "crash": []}
    order = [(d, s) for s in SIZES for d in TIMED]
    random.shuffle(order)
    for design, size in order:
        console.log(f"{DESIGNS[design]}, {size} scalars, {rows[size]:,} rows")
        results["trials"].append(trial(design, size, rows[size], None, 0))
    for design in DESIGNS:
        console.log(f"{DESIGNS[design]}: SIGKILL of the training process after 2 s")
        results["crash"].append(trial(design, 10, 100_000, 2.0, 10.0 if args.quick else 30.0))
    results["load"] = [load_before, os.getloadavg()]
    table = Table(title="online W&B designs (uploading to a local stand-in of W&B's API)")
    for col in ("design", "scalars", "rows logged", "rows received", "s to last row",
                "CPU µs/row: training process + descendants", "bare follower", "all processes",
                "ratio b/a"):
        table.add_column(col, justify="left" if col == "design" else "right")
    by = {(t["design"], t["size"]): t for t in results["trials"]}
    for size in SIZES:
        for design in TIMED:
            t = by[(design, size)]
            r = (by[("b", size)]["cpu_per_row_us"] / by[("a", size)]["cpu_per_row_us"]
                 if design == "b" else None)
            table.add_row(DESIGNS[design], str(size), f"{t['rows']:,}", f"{t['delivered']:,}",
                          f"{t['seconds']:.1f}", f"{t['train_cpu_per_row_us']:,.0f}",
                          f"{t['uploader_cpu_per_row_us']:,.0f}", f"{t['cpu_per_row_us']:,.0f}",
                          f"{r:.3f}" if r else "")
    console.print(table)
    crash = Table(title="the training process SIGKILLed after 2 s (~2,000 rows/s logged)")
    for col in ("design", "rows received", "run completed on the server",
                "uploader ended by itself", "rows in the .wandb file",
                "received by a plain beta sync afterwards"):
        crash.add_column(col)
    for c in results["crash"]:
        crash.add_row(DESIGNS[c["design"]], f"{c.get('live_delivered', c['delivered']):,}",
                      str(c.get("live_completed", c["completed"])),
                      "yes" if c["uploader_ended"] else "no: still running (hangs)",
                      f"{c['rows_in_file']:,}" if "rows_in_file" in c else "",
                      f"{c['resync_delivered']:,}" if "resync_delivered" in c else "")
    console.print(crash)
    console.print(f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs (other work on the machine inflates every figure)")
    note = "quick" if args.quick else ""
    for size in SIZES:
        a, b = by[("a", size)], by[("b", size)]
        record("wandb_online_designs", f"online CPU per row, all processes, (b) live writer, "
               f"{size} scalars", b["cpu_per_row_us"], "µs/row",
               baseline=f"(a) SDK worker: {a['cpu_per_row_us']:,.0f} µs/row",
               ratio=b["cpu_per_row_us"] / a["cpu_per_row_us"], note=note)
        record("wandb_online_designs", f"rows received by the stand-in, (b) live writer, "
               f"{size} scalars", b["delivered"], "rows",
               baseline=f"{b['rows']:,} logged; (a) SDK worker received {a['delivered']:,}",
               ratio=b["delivered"] / b["rows"], note=note)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
