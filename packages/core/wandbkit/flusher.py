"""The background thread between ``run.log`` and the sinks.

The training thread appends to a deque (a lock-free append under the GIL) and returns. This
thread wakes every ``flush_interval`` seconds — or early when the queue passes a high-water
mark — converts the batch (one device read per batch, see :mod:`wandbkit.convert`) and hands
it to every sink in order. Each sink is isolated: one that raises is reported once and the
others still receive every row; what each one missed is counted for the run's report.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from wandbkit.console import set_thread_scope
from wandbkit.convert import PLAIN, Converter
from wandbkit.lifecycle import block_signals_in_this_thread
from wandbkit.media import MEDIA_TYPES
from wandbkit.plugins import call_each, get_plugin_manager, report_failure
from wandbkit.report import SinkReport
from wandbkit.rows import Row
from wandbkit.sinks.base import AlertRecord, Sink
from wandbkit.store import HEARTBEAT_S

if TYPE_CHECKING:
    from wandbkit.run import Run

ROW, SUMMARY, CONFIG, ALERT, ARTIFACT = "row", "summary", "config", "alert", "artifact"
METRIC = "metric"  # a MetricDefinition from run.define_metric
RUN_INFO = "run_info"  # run.name / tags / notes set after init
SAVE = "save"  # a SavedFiles from run.save
PREEMPTING = "preempting"  # the run is being preempted (wandbkit.preempt)
MAX_BATCH = 5_000


class Flusher(threading.Thread):
    """Drains a run's queue into its sinks until the run finishes."""

    def __init__(self, run: Run, sinks: list[Sink], queue_size: int, interval: float) -> None:
        super().__init__(name=f"wandbkit-flusher-{run.id}", daemon=True)
        self.run_ref = run
        self.sinks = sinks
        self.queue: deque[tuple[Any, ...]] = deque()
        self.queue_size = queue_size
        self.high_water = max(1, min(queue_size // 4, 2_000))
        self.interval = interval
        self.wake = threading.Event()
        self.room = threading.Condition()
        self.links: deque[tuple[str, dict[str, Any]]] = deque()
        self.converter = Converter()
        self.reports = {s.name: SinkReport(s.name) for s in sinks}
        self.live = list(sinks)
        self.rows_processed = 0
        self.first_step: int | None = None
        self.exit_code = 0
        self.stopping = False
        self.done = threading.Event()
        self._rows_hook = get_plugin_manager().hook.wandbkit_rows_logged

    # --- producer side (training thread) ---------------------------------------------------

    def wait_for_room(self) -> None:
        """Block the producer until the queue is at most half full (never drop a row)."""
        self.wake.set()
        with self.room:
            while len(self.queue) >= self.queue_size // 2 and self.is_alive():
                self.room.wait(0.05)

    def stop(self, exit_code: int) -> None:
        """Ask the thread to drain everything, finish the sinks and exit."""
        self.exit_code = exit_code
        self.stopping = True
        self.wake.set()

    # --- consumer side (this thread) ---------------------------------------------------------

    def run(self) -> None:
        """Start the sinks, then deliver batches until stopped."""
        block_signals_in_this_thread()
        set_thread_scope(self.run_ref.id)  # warnings from here are once per run, not per process
        for sink in list(self.live):
            self._guard(sink, "start", sink.start, self.run_ref)
        next_beat = time.monotonic() + HEARTBEAT_S
        while True:
            self.wake.wait(self.interval)
            self.wake.clear()
            stopping = self.stopping  # read before draining: nothing is appended after stop()
            self._apply_links()
            self._drain()
            if stopping:
                break
            if time.monotonic() >= next_beat:  # the run is alive even when nothing is logged
                next_beat = time.monotonic() + HEARTBEAT_S
                for sink in list(self.live):
                    self._guard(sink, "heartbeat", sink.heartbeat)
        for sink in self.sinks:
            self._apply_links()  # the W&B sink reports where it wrote just before finishing
            report = self.reports[sink.name]
            if sink not in self.live and report.error and "start" in report.error:
                continue
            info = self._guard(sink, "finish", sink.finish, self.exit_code)
            if isinstance(info, dict):
                self._merge_finish_info(report, info)
        self.done.set()

    def _merge_finish_info(self, report: SinkReport, info: dict[str, Any]) -> None:
        delivered = info.pop("delivered", None)
        error = info.pop("error", None)
        if delivered is not None and delivered < report.rows_delivered:
            report.rows_missed += report.rows_delivered - delivered
            report.rows_delivered = delivered
            if report.first_missed_step is None:
                report.first_missed_step = self.first_step
        if error and not report.error:
            report.error = error
        report.info.update({k: v for k, v in info.items() if v is not None})

    def _apply_links(self) -> None:
        while self.links:
            source, info = self.links.popleft()
            for sink in self.live:
                self._guard(sink, "on_link", sink.on_link, source, info)

    def _drain(self) -> None:
        while self.queue:
            batch = []
            while self.queue and len(batch) < MAX_BATCH:
                batch.append(self.queue.popleft())
            with self.room:
                self.room.notify_all()
            self._process(batch)

    def _process(self, batch: list[tuple[Any, ...]]) -> None:
        rows: list[tuple[int, float, dict[str, Any]]] = []
        for item in batch:
            kind = item[0]
            if kind == ROW:
                rows.append((item[1], item[2], item[3]))
                continue
            if rows:
                self._deliver_rows(rows)
                rows = []
            self._deliver_other(kind, item[1])
        if rows:
            self._deliver_rows(rows)

    def _deliver_rows(self, raw: list[tuple[int, float, dict[str, Any]]]) -> None:
        try:
            rows = self.converter.convert(raw)
        except Exception as exc:  # the converter isolates values; this is its last resort
            report_failure("converting logged values", exc)
            rows = [Row(step, t, {k: v for k, v in values.items()
                                  if v.__class__ in PLAIN or isinstance(v, MEDIA_TYPES)})
                    for step, t, values in raw]
        first_step = rows[0].step if rows else None
        if self.first_step is None:
            self.first_step = first_step
        try:
            for sink in self.sinks:
                report = self.reports[sink.name]
                if sink not in self.live:
                    report.rows_missed += len(rows)
                    if report.first_missed_step is None:
                        report.first_missed_step = first_step
                    continue
                if self._guard(sink, "write", sink.write, rows, rows=len(rows),
                               first_step=first_step) is not _FAILED:
                    report.rows_delivered += len(rows)
            if self._rows_hook.get_hookimpls():  # checked per batch: plugins may register late
                call_each("wandbkit_rows_logged", run=self.run_ref, rows=rows)
        finally:
            # Counted once the sinks and observers have the batch: run.flush() waits for this.
            self.rows_processed += len(rows)

    def _deliver_other(self, kind: str, payload: Any) -> None:
        method = _METHODS.get(kind)
        if method is None:
            return
        for sink in self.live:
            self._guard(sink, kind, getattr(sink, method), payload)

    def _guard(self, sink: Sink, what: str, call: Any, *args: Any, rows: int = 0,
               first_step: int | None = None) -> Any:
        """Run one sink call; on failure report once, count the missed rows, keep going."""
        try:
            return call(*args)
        except Exception as exc:
            report = self.reports[sink.name]
            report.rows_missed += rows
            if rows and report.first_missed_step is None:
                report.first_missed_step = first_step
            if report.error is None:
                report.error = f"{what}: {type(exc).__name__}: {exc}"
            if what == "start" and sink in self.live:
                self.live.remove(sink)  # a sink that never started cannot take rows
            try:
                report_failure(f"sink {sink.name}", exc)
            except Exception as strict_error:  # WANDBKIT_STRICT: surface on the next log()
                self.run_ref._pending_error = strict_error
            return _FAILED


_FAILED = object()
_METHODS = {SUMMARY: "update_summary", CONFIG: "update_config", ALERT: "alert",
            ARTIFACT: "log_artifact", METRIC: "define_metric",
            PREEMPTING: "mark_preempting", RUN_INFO: "update_run", SAVE: "save_files"}


def alert_record(title: str, text: str, level: str, step: int | None) -> AlertRecord:
    """An alert stamped with the current time."""
    return AlertRecord(title=title, text=text, level=level, step=step, time=time.time())


__all__ = ["ALERT", "ARTIFACT", "CONFIG", "METRIC", "PREEMPTING", "ROW", "RUN_INFO", "SAVE",
           "SUMMARY", "Flusher",
           "alert_record"]
