"""The W&B writer sink: writes an offline W&B run's ``.wandb`` transaction log directly.

The SDK path costs ~600 µs of CPU per row across the training process, wandb's SDK and
wandb-core; a W&B run folder is in the end a log of protobuf records that ``wandb sync``
uploads. This sink writes that log itself, on the flusher thread: one record per row, encoded
by :mod:`wandbkit.sinks.wandb_proto` (no ``wandb`` import in the training process) and framed
by :mod:`wandbkit.sinks.wandb_logfile`. The folder is the one wandb would make
(``<store>/wandb/offline-run-<YYYYMMDD_HHMMSS>-<id>/`` with ``run-<id>.wandb``, ``files/media/``
and a ``latest-run`` link), so ``wandbkit sync`` / ``wandb sync`` upload it unchanged.

It writes the records wandb 0.31 writes for the same calls: header, run (config, tags, group,
...), environment, one history record per step (rows logged at the same step are merged, as
``wandb.log`` does; rows whose step goes backwards are counted and skipped, as wandb ignores
them), summary, config, files (media), artifact (MD5 manifests; one ``run_table`` artifact per
table), alert and exit. Where wandb writes two summary records per row, this writes one per
batch with the last value of each key. System metrics (``stats``) are sampled every 15 s with psutil
(:mod:`wandbkit.sinks.wandb_stats`: CPU, memory, disk, network, NVIDIA GPUs). It writes no telemetry
or console-output records.

Flush/fsync: see :mod:`wandbkit.sinks.wandb_logfile` — every batch is written to the OS
(``flush_interval``, 0.1 s by default), fsync every ``WANDBKIT_WANDB_FSYNC_S`` seconds (10) and
at finish. The last step's row is held until a later step arrives or the run finishes (it may
still receive values), as in wandb.

Used for offline runs when the installed wandb is a version this was tested with
(:data:`TESTED_WANDB`); otherwise, online, or with ``WANDBKIT_WANDB_WRITER=worker``, runs go
through the SDK worker (:mod:`wandbkit.sinks.wandb_sink`).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit import flusher
from wandbkit.log_checks import report_dropped
from wandbkit.media import MEDIA_TYPES, CustomChart
from wandbkit.metric_summary import MetricSummaries
from wandbkit.settings import env_seconds
from wandbkit.sinks import wandb_proto as proto
from wandbkit.sinks.base import AlertRecord, ArtifactRecord, MetricDefinition, Sink
from wandbkit.sinks.wandb_files import Manifest, MediaWriter, client_id, fsync_dir
from wandbkit.sinks.wandb_logfile import LogWriter
from wandbkit.sinks.wandb_stats import SystemStats

if TYPE_CHECKING:
    from wandbkit.rows import Row
    from wandbkit.run import Run
    from wandbkit.saved_files import SavedFiles

TESTED_WANDB = ((0, 31), (0, 32))  # [from, to): the wandb versions whose records this writes
MIN_CONSUMER = "0.70.0"  # the header wandb 0.31 writes: the oldest reader of this format
WRITER_ENV = "WANDBKIT_WANDB_WRITER"  # "worker" forces the SDK worker for offline runs too
ONLINE_ENV = "WANDBKIT_WANDB_ONLINE"  # "live": online runs through this writer + beta sync --live
LIVE_FINISH_TIMEOUT_S = env_seconds("WANDBKIT_WANDB_LIVE_TIMEOUT", 300.0)
ALERT_WAIT_MS = 60_000  # wandb.alert's default wait_duration (1 minute)
MEDIA = MEDIA_TYPES
_MEDIA_SET = frozenset(MEDIA)
_NUMBERS = proto.NUMBER_TYPES


def wandb_version() -> str | None:
    """The installed wandb's version, without importing wandb (None when not installed).

    Read from the name of the ``wandb-<version>.dist-info`` folder beside the ``wandb`` package
    that would be imported: ``importlib.metadata.version`` parses the package's metadata file
    (with the email parser), a few milliseconds of every first ``wandbkit.init``.
    """
    try:
        spec = importlib.util.find_spec("wandb")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return None
    site = Path(spec.origin).parent.parent
    try:
        for name in os.listdir(site):
            if name.startswith("wandb-") and name.endswith(".dist-info"):
                return name[len("wandb-"):-len(".dist-info")]
    except OSError:
        pass
    from importlib import metadata  # another layout (an egg, a source tree): ask the metadata

    try:
        return metadata.version("wandb")
    except metadata.PackageNotFoundError:
        return None


def writer_unavailable() -> str | None:
    """Why offline runs cannot use this writer (a one-line notice), or None when they can.

    ``WANDBKIT_WANDB_WRITER=worker`` (or ``sdk``, ``0``, ``off``) chooses the SDK worker
    without a notice.
    """
    choice = os.environ.get(WRITER_ENV, "").strip().lower()
    if choice in ("worker", "sdk", "0", "off", "false", "no"):
        return ""
    version = wandb_version()
    if version is None:
        return "wandb is not installed"
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    low, high = TESTED_WANDB
    if len(parts) != 2 or not low <= parts < high:
        return (f"wandb {version} is outside the versions wandbkit's W&B writer was tested with "
                f"(>={low[0]}.{low[1]},<{high[0]}.{high[1]}); offline runs go through the "
                "wandb SDK (slower per row)")
    return None


def _env_list(name: str) -> list[str]:
    return [t.strip() for t in os.environ.get(name, "").split(",") if t.strip()]


class WandbWriterSink(Sink):
    """Writes the run's W&B transaction log (offline), ready for ``wandbkit sync``."""

    name = "wandb"

    def __init__(self, store_root: Path, live: bool = False) -> None:
        self.store_root = store_root
        self.live = live  # online: wandb's own uploader follows the file (wandb_live)
        self.uploader: subprocess.Popen[bytes] | None = None
        self.run_id = ""
        self.project = ""
        self.entity: str | None = None
        self.run_dir: Path | None = None
        self.log: LogWriter | None = None
        self.media: MediaWriter | None = None
        self.items = proto.ItemEncoder()
        self.num = 0
        self.start_time = 0.0
        self.last_step = -1
        # the last step's row: step, time, values, whether they are all ints/floats/bools
        self.held: tuple[int, float, dict[str, Any], bool] | None = None
        self.changed: dict[str, Any] = {}  # summary values not yet written
        # the last row of numbers written, kept out of ``changed`` until a row with other keys
        # (or the batch's summary) needs it: a next row with the same keys replaces all of it
        self.last_numbers: tuple[object, dict[str, Any], int, float, float] | None = None
        self.media_summary: dict[str, Any] = {}
        self.pre_records: list[bytes] = []  # media files/artifact records for the next row
        self.rows = 0
        self.dropped = 0
        self.first_dropped: int | None = None
        self.stats: SystemStats | None = None  # the System charts' samples (stats records)
        self.metric_summaries = MetricSummaries()  # define_metric's aggregates, as wandb-core keeps
        self.run_fields: dict[str, Any] = {}  # the run record's fields (written again on a rename)
        self.fragment = 0  # > 0: a resumed run (define_metric's aggregates continue)
        self.saved_later: list[SavedFiles] = []  # run.save with policy live/end

    # --- records ---------------------------------------------------------------------------

    def _next(self) -> int:
        self.num += 1
        return self.num

    def _append(self, field: int, body: bytes) -> None:
        assert self.log is not None
        self.log.append(proto.record(self._next(), field, body))

    def start(self, run: Run) -> None:
        """Create the run folder and write the header, run and environment records."""
        s = run.settings
        self.run_id = run.id
        self.project = s.project
        extra = dict(getattr(s, "wandb_init", None) or {})  # entity, notes, job_type
        self.entity = extra.get("entity") or os.environ.get("WANDB_ENTITY") or None
        self.start_time = run.started_at
        self.fragment = int(getattr(s, "fragment", 0) or 0)
        # A resumed run (another fragment of the same W&B run) keeps W&B's rule: steps before
        # those already stored are dropped, and counted.
        self.last_step = max(-1, int(getattr(s, "start_step", 0) or 0))
        # wandb's folder: under $WANDB_DIR when the user set it, else under the store root
        wandb_dir = Path(os.environ.get("WANDB_DIR") or self.store_root) / "wandb"
        fsync_s = env_seconds("WANDBKIT_WANDB_FSYNC_S", 10.0)
        started = run.started_at
        while True:  # two fragments of one run started in the same second get distinct folders
            stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(started))
            run_dir = wandb_dir / f"offline-run-{stamp}-{run.id}"
            (run_dir / "files").mkdir(parents=True, exist_ok=True)
            try:
                self.log = LogWriter(run_dir / f"run-{run.id}.wandb", fsync_interval=fsync_s)
                break
            except FileExistsError:
                started += 1
        (run_dir / "logs").mkdir(exist_ok=True)
        self.run_dir = run_dir
        self.media = MediaWriter(run_dir / "files", run.id)
        self.log.append(proto.record(self._next(), proto.REC_HEADER,
                                     proto.header(wandb_version() or "", MIN_CONSUMER)))
        resume = getattr(s, "resume", None)  # wandbkit.init(resume=...) where supported
        self.run_fields = dict(
            run_id=run.id, project=s.project, entity=self.entity,
            config={"_wandb": {}, **dict(run.config)},
            group=s.group or os.environ.get("WANDB_RUN_GROUP"),
            job_type=extra.get("job_type") or os.environ.get("WANDB_JOB_TYPE"),
            name=s.name or os.environ.get("WANDB_NAME"),
            notes=extra.get("notes") or os.environ.get("WANDB_NOTES"),
            tags=list(s.tags) or _env_list("WANDB_TAGS"), host=socket.gethostname(),
            start_time=run.started_at, resume=resume not in ("never",))
        self._append(proto.REC_RUN, proto.run_record(**self.run_fields))
        self._append(proto.REC_ENVIRONMENT, proto.environment(
            os_name=platform.platform(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            started_at=run.started_at, args=sys.argv[1:],
            program=os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else None,
            root=os.getcwd(), host=socket.gethostname(), executable=sys.executable,
            cpu_count=os.cpu_count()))
        self.log.flush()
        proto.load_encoder()  # its one-time import belongs to the start, not to the first rows
        self.stats = SystemStats(env_seconds("WANDBKIT_WANDB_STATS_S", 15.0, zero_means_off=True))
        _point_latest(wandb_dir, run_dir)
        path = f"{self.entity}/{s.project}/{run.id}" if self.entity else f"{s.project}/{run.id}"
        url = None
        if self.live:
            self._start_uploader(run_dir)
            url = _run_url(self.entity, s.project, run.id)
        run._link("wandb", {"mode": "online" if self.live else "offline", "id": run.id,
                            "path": path, "url": url, "dir": str(run_dir)})

    def _start_uploader(self, run_dir: Path) -> None:
        """``wandb beta sync --live`` under a watchdog that outlives this process (own session)
        and closes the file if this process dies; see :mod:`wandbkit.sinks.wandb_live`."""
        from wandbkit.settings import wandb_environment

        self.uploader = subprocess.Popen(
            [sys.executable, "-m", "wandbkit.sinks.wandb_live", str(run_dir), str(os.getpid())],
            env=wandb_environment(self.store_root), cwd=str(self.store_root),
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def write(self, rows: list[Row]) -> None:
        """One history record per step, then one summary record for the batch."""
        assert self.log is not None
        held = self.held
        clock = time.perf_counter
        yield_at = clock() + flusher.GIL_YIELD_S
        for row in rows:
            if clock() >= yield_at:  # a long batch: let the training thread in now and then
                flusher.yield_gil()
                yield_at = clock() + flusher.GIL_YIELD_S
            step = row.step
            if step < (held[0] if held is not None else self.last_step):
                self._drop(step)  # wandb ignores a step that goes backwards
                continue
            values = row.values
            numbers = _NUMBERS.issuperset(map(type, values.values()))  # the common row
            if not numbers and not _MEDIA_SET.isdisjoint(map(type, values.values())):
                # media files and their records are written when logged, as wandb does
                values = self._media(step, values)
            if held is not None:
                if step == held[0]:  # same step: wandb merges the values into one row
                    merged = dict(held[2])
                    merged.update(values)
                    held = (step, row.time, merged, numbers and held[3])
                    self.rows += 1
                    continue
                self._write_row(held)
            held = (step, row.time, values, numbers)
            self.rows += 1
        self.held = held
        self._write_summary()
        self._maybe_sample_stats()
        self.log.flush()

    def _maybe_sample_stats(self) -> None:
        if self.stats is not None and self.stats.due():
            values = self.stats.sample()
            if values:
                self._append(proto.REC_STATS, proto.stats(time.time(), values))

    def heartbeat(self) -> None:
        """Between rows too, the System charts get their samples."""
        if self.log is not None:
            self._maybe_sample_stats()
            self.log.flush()

    def _drop(self, step: int) -> None:
        self.dropped += 1
        if self.first_dropped is None:
            self.first_dropped = step

    def _write_row(self, row: tuple[int, float, dict[str, Any], bool]) -> None:
        step, t, values, numbers = row
        self.last_step = step
        runtime = t - self.start_time
        if self.metric_summaries.definitions:
            for key, value in values.items():
                self.metric_summaries.observe(key, value)
        num = self._next()
        record = self.items.number_history(num, step, values, runtime, t) if numbers else None
        if record is None:
            full = {**values, "_step": step, "_runtime": runtime, "_timestamp": t}
            record = self.items.history(num, step, full)
            self._apply_last_numbers()
            self.changed.update(full)
        else:
            layout = self.items.last_layout  # the same object for the same keys, in order
            if self.last_numbers is not None and self.last_numbers[0] is not layout:
                self._apply_last_numbers()
            self.last_numbers = (layout, values, step, runtime, t)
        self.log.append(record)  # type: ignore[union-attr]

    def _apply_last_numbers(self) -> None:
        """Put the held-back row of numbers into the summary values (see ``last_numbers``)."""
        if self.last_numbers is not None:
            _, values, step, runtime, t = self.last_numbers
            changed = self.changed
            changed.update(values)
            changed["_step"], changed["_runtime"], changed["_timestamp"] = step, runtime, t
            self.last_numbers = None

    def _media(self, step: int, values: dict[str, Any]) -> dict[str, Any]:
        """Write the row's media files (and their records) and describe them as wandb does."""
        assert self.media is not None and self.log is not None
        out = dict(values)
        for key, value in values.items():
            if value.__class__ not in MEDIA:
                continue
            if isinstance(value, CustomChart):
                # as wandb: the chart's settings in the config, its table under <key>_table
                self._append(proto.REC_CONFIG, proto.config_nested(
                    ["_wandb", "visualize", key], value.config_value(key)))
                del out[key]
                key, value = value.table_key(key), value.table
            try:
                described, new_files, table_art = self.media.convert(key, step, value)
            except Exception as exc:  # this value alone: the row and batch go on
                out.pop(key, None)
                report_dropped(key, step, "sink wandb", exc)
                continue
            out[key] = described
            if new_files and table_art is None:
                self._append(proto.REC_FILES, proto.files(new_files))
            if table_art is not None:
                self._append(proto.REC_ARTIFACT, proto.artifact(
                    run_id=self.run_id, project=self.project, entity=self.entity,
                    type="run_table", name=table_art.name, digest=table_art.manifest.digest(),
                    metadata=None, aliases=["latest"], entries=table_art.manifest.entries,
                    client_id=table_art.client_id,
                    sequence_client_id=table_art.sequence_client_id))
                self._append(proto.REC_FILES, proto.files(new_files))
        return out

    def _write_summary(self) -> None:
        self._apply_last_numbers()
        if self.changed:
            changed = self.changed
            if self.metric_summaries.definitions:
                changed = self.metric_summaries.apply(changed)
                for key, value in changed.items():  # aggregates: one JSON value, as wandb-core
                    if value.__class__ is dict and "_type" not in value:
                        changed[key] = proto.RawJson(proto.value_json(value))
            self.log.append(self.items.summary(self._next(), changed))  # type: ignore[union-attr]
            self.changed = {}

    def update_summary(self, summary: dict[str, Any]) -> None:
        """``run.summary[...] = ...``: a summary record with those keys."""
        self.log.append(self.items.summary(self._next(), {  # type: ignore[union-attr]
            k: v for k, v in summary.items() if v.__class__ not in MEDIA}))
        self.log.flush()  # type: ignore[union-attr]

    def update_config(self, config: dict[str, Any]) -> None:
        """``run.config.update(...)``: a config record."""
        self._append(proto.REC_CONFIG, proto.config_items(config))
        self.log.flush()  # type: ignore[union-attr]

    def define_metric(self, definition: MetricDefinition) -> None:
        """``run.define_metric``: a metric record; the summary then keeps its aggregates (in a
        resumed run, continued from the values earlier processes logged, as the store keeps
        them: W&B keeps this fragment's summary, which then covers the whole run)."""
        self.metric_summaries.define(definition)
        if self.fragment:
            self._continue_aggregates()
        step_sync = bool(definition.step_sync or (definition.step_metric
                                                  and definition.step_sync is None))
        self._append(proto.REC_METRIC, proto.metric(  # hand-encoded: no wandb import here
            name=definition.name, step_metric=definition.step_metric, step_sync=step_sync,
            hidden=bool(definition.hidden), summary=list(definition.summary),
            goal=definition.goal))
        self.log.flush()  # type: ignore[union-attr]

    def _continue_aggregates(self) -> None:
        from wandbkit.store import DB_NAME, Store

        if not (self.store_root / DB_NAME).is_file():
            return  # no store sink: nothing earlier to continue from
        try:
            self.metric_summaries.continue_from(Store.open(self.store_root, readonly=True),
                                                self.run_id, self.start_time)
        except Exception as exc:  # the aggregates then cover this process only: say so once
            from wandbkit.console import warn_once

            warn_once(f"writer-seed:{self.run_id}", f"W&B summary aggregates of resumed run "
                      f"{self.run_id} start from this process ({type(exc).__name__}: {exc})")

    def alert(self, alert: AlertRecord) -> None:
        """An alert record (W&B sends it when the run is synced)."""
        level = {"info": "INFO", "warn": "WARN", "error": "ERROR"}.get(alert.level, "WARN")
        self._append(proto.REC_ALERT, proto.alert(alert.title, alert.text, level, ALERT_WAIT_MS))
        self.log.flush()  # type: ignore[union-attr]

    def log_artifact(self, artifact: ArtifactRecord) -> None:
        """An artifact record whose manifest points at the files in place (no copy)."""
        manifest = Manifest.of(Path(artifact.path))
        aliases = ["latest"] + [a for a in artifact.aliases if a != "latest"]
        self._append(proto.REC_ARTIFACT, proto.artifact(
            run_id=self.run_id, project=self.project, entity=self.entity, type=artifact.type,
            name=artifact.name, digest=manifest.digest(), metadata=artifact.metadata or None,
            aliases=aliases, entries=manifest.entries, client_id=client_id(),
            sequence_client_id=client_id()))
        self.log.flush()  # type: ignore[union-attr]

    def update_run(self, info: dict[str, Any]) -> None:
        """A rename (or new tags or notes): the whole run record again with the new fields,
        as wandb writes it for ``run.name = ...``; W&B's run page shows the latest."""
        self.run_fields.update({k: (list(v) if k == "tags" else v) for k, v in info.items()
                                if k in ("name", "tags", "notes")})
        self._append(proto.REC_RUN, proto.run_record(**self.run_fields))
        self.log.flush()  # type: ignore[union-attr]

    def save_files(self, saved: SavedFiles) -> None:
        """Copy saved files into the run's ``files/`` and list them in a files record with their
        policy, as ``wandb.save`` does (``wandb sync`` uploads them). wandb links the files;
        copies keep the offline folder whole when the originals move (``live`` and ``end`` files
        are copied again when the run ends)."""
        if saved.policy != "now":
            self.saved_later.append(saved)
        self._copy_saved(saved, record=True)

    def _copy_saved(self, saved: SavedFiles, record: bool) -> None:
        from wandbkit.saved_files import copy_saved

        assert self.run_dir is not None
        copy_saved(saved, self.run_dir / "files")
        if record:
            self._append(proto.REC_FILES, proto.files([name for _, name in saved.files],
                                                      policy=saved.policy))
            self.log.flush()  # type: ignore[union-attr]

    def mark_preempting(self, _: None = None) -> None:
        """The run is being preempted: W&B's ``preempting`` record (Record field 23, an empty
        RunPreemptingRecord), what ``wandb.Run.mark_preempting()`` writes."""
        if self.held is not None:  # the rows before the notice stay before it
            self._write_row(self.held)
            self.held = None
        self._append(23, b"")
        self.log.flush()  # type: ignore[union-attr]

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Write the held row, the runtime and the exit record; fsync and close."""
        result: dict[str, Any] = {"mode": "online" if self.live else "offline",
                                  "where": str(self.run_dir), "url": None}
        if self.log is None:
            return {**result, "delivered": 0, "error": "the W&B run file was never opened"}
        if self.held is not None:
            self._write_row(self.held)
            self.held = None
        for saved in self.saved_later:
            try:
                self._copy_saved(saved, record=False)
            except OSError as exc:  # the original is gone: the copy made at save() stays
                result["error"] = f"save: {saved.files[0][0]} could not be copied at the end: {exc}"
        self._write_summary()
        runtime = max(0, int(time.time() - self.start_time))
        self.log.append(self.items.summary(self._next(), {"_wandb": {"runtime": runtime}}))
        self._append(proto.REC_EXIT, proto.exit_record(exit_code, runtime))
        self.log.close()
        assert self.run_dir is not None
        fsync_dir(self.run_dir)
        result["delivered"] = self.rows
        if self.dropped:
            result["error"] = (f"W&B ignored {self.dropped} rows whose step went backwards "
                               f"(first at step {self.first_dropped})")
        if self.uploader is not None:
            problem = self._wait_for_upload()
            if problem:
                result["error"] = problem
        return result

    def _wait_for_upload(self) -> str | None:
        """Wait for the live upload to end; what went wrong, if anything (rows are safe on disk)."""
        assert self.uploader is not None
        later = f"`wandbkit sync {self.run_id}` uploads it from {self.run_dir}"
        try:
            code = self.uploader.wait(LIVE_FINISH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return (f"the W&B upload is still running in the background (pid "
                    f"{self.uploader.pid}) after {LIVE_FINISH_TIMEOUT_S:.0f} s; if it does not "
                    f"finish, {later}")
        if code != 0:
            return (f"the live W&B upload failed (code {code}, see "
                    f"logs/wandbkit-live-sync.log); {later}")
        return None


def _point_latest(wandb_dir: Path, run_dir: Path) -> None:
    """``wandb/latest-run`` -> this run, as wandb keeps it (replaced atomically)."""
    link = wandb_dir / "latest-run"
    tmp = wandb_dir / f".latest-run-{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, link)
    except OSError:
        pass  # a convenience link; never worth failing the run over


def _run_url(entity: str | None, project: str, run_id: str) -> str | None:
    """The run's page on W&B (needs the entity: ``WANDB_ENTITY`` or ``entity=``)."""
    if not entity:
        return None
    api = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").rstrip("/")
    app = "https://wandb.ai" if api == "https://api.wandb.ai" else api
    return f"{app}/{entity}/{project}/runs/{run_id}"


def choose_wandb_sink(mode: str, store_root: Path) -> Sink:
    """The W&B sink for ``mode``: this writer for offline runs where it applies, else the
    SDK worker (online runs, untested wandb versions — with one notice — or when forced).

    Online, ``WANDBKIT_WANDB_ONLINE=live`` chooses this writer with wandb's live uploader
    instead of the SDK worker (see the README for the measured trade-off).
    """
    live = mode == "online" and os.environ.get(ONLINE_ENV, "").strip().lower() == "live"
    if mode == "offline" or live:
        reason = writer_unavailable()
        if reason is None:
            return WandbWriterSink(store_root, live=live)
        if reason:
            from wandbkit.console import warn_once

            warn_once("wandb-writer-version", reason)
    from wandbkit.sinks.wandb_sink import WandbSink  # the SDK worker: imported only when chosen

    return WandbSink(mode, store_root)
