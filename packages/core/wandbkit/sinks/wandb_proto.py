"""wandb's ``Record`` messages, encoded by hand in protobuf's wire format.

Why not ``wandb.proto.wandb_internal_pb2``: importing it imports all of ``wandb`` (~0.9 s and
several threads' worth of modules in the training process), and building a history record
through the protobuf classes costs 2-3x what this does. The bytes are the ones protobuf itself
produces for the same message (fields in number order, defaults omitted); the tests parse them
back with wandb's own classes and compare. Field numbers are those of ``wandb_internal.proto``
in the wandb versions in :data:`wandbkit.sinks.wandb_writer.TESTED_WANDB`.

The hot path is :meth:`ItemEncoder.record`: one history (or summary) record from a row. It
builds a ``str`` whose characters are the bytes (latin-1), because str concatenation and
f-strings are the fastest way to join small pieces in CPython; keys are UTF-8 encoded once and
cached, values are ASCII JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Record fields (wandb_internal.proto, message Record)
REC_HISTORY, REC_SUMMARY, REC_CONFIG, REC_FILES, REC_STATS, REC_ARTIFACT = 2, 3, 5, 6, 7, 8
REC_ALERT, REC_METRIC, REC_RUN, REC_EXIT, REC_HEADER, REC_ENVIRONMENT = 10, 12, 17, 18, 21, 26


def varint(n: int) -> bytes:
    """Protobuf base-128 varint (negative numbers as 64-bit two's complement)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def f_bytes(field: int, data: bytes) -> bytes:
    """A length-delimited field (bytes, or a sub-message's encoding); always emitted."""
    return _tag(field, 2) + varint(len(data)) + data


def f_str(field: int, text: str | None) -> bytes:
    """A string field; empty or None is protobuf's default and is omitted."""
    return f_bytes(field, text.encode()) if text else b""


def f_int(field: int, n: int | None) -> bytes:
    """A varint field (int32/int64/uint32/enum); 0 and None are omitted."""
    return _tag(field, 0) + varint(n) if n else b""


def f_bool(field: int, value: bool) -> bytes:
    """A bool field; False is omitted."""
    return _tag(field, 0) + b"\x01" if value else b""


def f_repeated_str(field: int, items: list[str]) -> bytes:
    """A repeated string field."""
    return b"".join(f_bytes(field, s.encode()) for s in items)


def timestamp(seconds: float) -> bytes:
    """``google.protobuf.Timestamp`` body."""
    whole = math.floor(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return f_int(1, whole) + f_int(2, nanos)


def record(num: int, field: int, body: bytes) -> bytes:
    """A ``Record`` with ``num`` and one of its record_type fields set to ``body``."""
    return f_int(1, num) + f_bytes(field, body)


# --- values ---------------------------------------------------------------------------------


class RawJson(str):
    """Text that is already the value's JSON: written as one item, not split per key (how
    wandb-core writes define_metric's aggregates, ``{"min": 1.0}``)."""


def value_json(value: Any) -> str:
    """JSON for one value, as wandb's SDK sends it (NaN and infinities as JSON5 words)."""
    cls = value.__class__
    if cls is RawJson:
        return str(value)
    if cls is float:
        return repr(value) if value - value == 0.0 else _NONFINITE[repr(value)]
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    return json.dumps(value, allow_nan=True, separators=(",", ":"), default=str)


_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


_FAST_TYPES = frozenset((float, int))
_FAST_MAX_LEN = 64


def _short_len(n: int) -> str:
    return chr(n) if n < 128 else varint(n).decode("latin-1")


class ItemEncoder:
    """Encodes ``{key: value}`` as the items of a HistoryRecord or a SummaryRecord.

    HistoryItem and SummaryItem share their field numbers (key 1, nested_key 2, value_json 16),
    and both records keep their items in field 1, so one encoder serves both. Like wandb-core,
    every key is written as ``nested_key`` and a dict value (a media object's description) is
    split into one item per leaf, ``nested_key = [key, field]``.
    """

    def __init__(self) -> None:
        self._prefixes: dict[Any, str] = {}
        self._layouts: dict[tuple[str, ...], list[list[str]]] = {}

    def _layout(self, keys: tuple[str, ...]) -> list[list[str]]:
        """For each key, the item's bytes before its value, by the value's length (< 64)."""
        layout = []
        for key in keys:
            prefix = self._prefixes.get(key) or self._prefix(key)
            layout.append([f"\n{_short_len(len(prefix) + 1 + n)}{prefix}{chr(n)}"
                           for n in range(_FAST_MAX_LEN)])
        if len(self._layouts) < 1_000:  # rows usually share a few key sets; bound the cache
            self._layouts[keys] = layout
        return layout

    def fast_items(self, values: dict[str, Any]) -> str:
        """:meth:`items`, for the common row of ints and finite floats without a Python-level
        loop: ``repr`` of the value list formats every number at C speed (float repr is valid
        JSON for finite floats, int repr is JSON), and each item's head comes from a per-key
        table indexed by the value's length."""
        vals = list(values.values())
        if _FAST_TYPES.issuperset(map(type, vals)):
            text = repr(vals)
            if "n" not in text:  # nan / inf need JSON5 words
                texts = text[1:-1].split(", ")
                keys = tuple(values)
                layout = self._layouts.get(keys) or self._layout(keys)
                try:
                    heads = list(map(list.__getitem__, layout, map(len, texts)))
                except IndexError:  # a value of 64+ characters
                    return self.items(values)
                parts: list[str] = [""] * (2 * len(texts))  # head, value, head, value, ...
                parts[0::2] = heads
                parts[1::2] = texts
                return "".join(parts)
        return self.items(values)

    def _prefix(self, path: Any) -> str:
        parts = (path,) if isinstance(path, str) else path
        prefix = ""
        for part in parts:
            raw = part.encode()
            prefix += "\x12" + _short_len(len(raw)) + raw.decode("latin-1")
        prefix += "\x82\x01"
        self._prefixes[path] = prefix
        return prefix

    def items(self, values: dict[str, Any]) -> str:
        """The encoded items, as a latin-1 str (one char per byte)."""
        prefixes = self._prefixes
        out = []
        for key, value in values.items():
            cls = value.__class__
            if cls is float and value - value == 0.0:
                text = repr(value)
            elif cls is dict:
                out.append(self._nested((key,), value))
                continue
            else:
                text = value_json(value)
            prefix = prefixes.get(key) or self._prefix(key)
            size = len(prefix) + len(text) + 1
            if size < 128 and len(text) < 128:
                out.append(f"\n{chr(size)}{prefix}{chr(len(text))}{text}")
            else:
                item = f"{prefix}{_short_len(len(text))}{text}"
                out.append(f"\n{_short_len(len(item))}{item}")
        return "".join(out)

    def _nested(self, path: tuple[str, ...], value: dict[str, Any]) -> str:
        out = []
        for key, sub in value.items():
            sub_path = (*path, key)
            if isinstance(sub, dict) and sub:
                out.append(self._nested(sub_path, sub))
                continue
            text = value_json(sub)
            prefix = self._prefixes.get(sub_path) or self._prefix(sub_path)
            item = f"{prefix}{_short_len(len(text))}{text}"
            out.append(f"\n{_short_len(len(item))}{item}")
        return "".join(out)

    def history(self, num: int, step: int, values: dict[str, Any]) -> bytes:
        """A history Record: ``values`` (with ``_step``, ``_runtime``, ``_timestamp``) at ``step``."""
        body = self.fast_items(values)
        step_body = "\x08" + varint(step).decode("latin-1") if step else ""
        body = f"{body}\x12{chr(len(step_body))}{step_body}"
        return f"\x08{varint(num).decode('latin-1')}\x12{_short_len(len(body))}{body}".encode(
            "latin-1")

    def summary(self, num: int, values: dict[str, Any]) -> bytes:
        """A summary Record whose updates are ``values``."""
        body = self.fast_items(values)
        return f"\x08{varint(num).decode('latin-1')}\x1a{_short_len(len(body))}{body}".encode(
            "latin-1")


# --- the other records (rare: built plainly) ------------------------------------------------


def config_items(config: dict[str, Any]) -> bytes:
    """ConfigRecord ``update`` items (field 1): ``key`` and ``value_json``."""
    return b"".join(f_bytes(1, f_str(1, str(k)) + f_str(16, value_json(v)))
                    for k, v in config.items())


def config_nested(path: list[str], value: Any) -> bytes:
    """A ConfigRecord ``update`` item under a nested key (``_wandb.visualize.<key>``: field 2)."""
    return f_bytes(1, f_repeated_str(2, path) + f_str(16, value_json(value)))


def header(producer: str, min_consumer: str) -> bytes:
    """HeaderRecord body: the writer's version and the oldest reader that may read the file."""
    return f_bytes(1, f_str(1, producer) + f_str(2, min_consumer))


def run_record(*, run_id: str, project: str, entity: str | None, config: dict[str, Any],
               group: str | None, job_type: str | None, name: str | None, notes: str | None,
               tags: list[str], host: str, start_time: float, resume: bool,
               resumed: bool = False) -> bytes:
    """RunRecord body."""
    return (f_str(1, run_id) + f_str(2, entity) + f_str(3, project)
            + f_bytes(4, config_items(config)) + f_str(6, group) + f_str(7, job_type)
            + f_str(8, name) + f_str(9, notes) + f_repeated_str(10, tags) + f_str(13, host)
            + f_bytes(17, timestamp(start_time)) + f_bool(18, resumed) + f_bool(24, resume))


def environment(*, os_name: str, python: str, started_at: float, args: list[str],
                program: str | None, root: str, host: str, executable: str,
                cpu_count: int | None) -> bytes:
    """EnvironmentRecord body (what W&B shows on a run's overview)."""
    return (f_str(1, os_name) + f_str(2, python) + f_bytes(3, timestamp(started_at))
            + f_repeated_str(5, args) + f_str(6, program) + f_str(11, root) + f_str(12, host)
            + f_str(14, executable) + f_int(16, cpu_count) + f_int(17, cpu_count))


FILE_POLICIES = {"now": 0, "end": 1, "live": 2}  # FilesItem.PolicyType


def files(paths: list[str], policy: str = "now") -> bytes:
    """FilesRecord body: files under the run's ``files/`` to upload, with ``wandb.save``'s
    policy (NOW, the default, is left out as protobuf leaves out zero values)."""
    code = FILE_POLICIES[policy]
    return b"".join(f_bytes(1, f_str(1, p) + f_int(2, code)) for p in paths)


def stats(time_s: float, values: dict[str, float]) -> bytes:
    """StatsRecord body: a system-metrics sample (stats_type SYSTEM, the default)."""
    return f_bytes(2, timestamp(time_s)) + b"".join(
        f_bytes(3, f_str(1, k) + f_str(16, value_json(v))) for k, v in values.items())


def alert(title: str, text: str, level: str, wait_duration_ms: int) -> bytes:
    """AlertRecord body; ``level`` is INFO, WARN or ERROR."""
    return f_str(1, title) + f_str(2, text) + f_str(3, level) + f_int(4, wait_duration_ms)


def metric(*, name: str, step_metric: str | None, step_sync: bool, hidden: bool,
           summary: list[str], goal: str | None) -> bytes:
    """MetricRecord body (``define_metric``): a name, or a glob ending in ``*``."""
    kinds = ("min", "max", "mean", "best", "last", "none", "copy", "first")
    summary_body = b"".join(f_bool(kinds.index(k) + 1, True) for k in kinds if k in summary)
    return ((f_str(2, name) if name.endswith("*") else f_str(1, name)) + f_str(4, step_metric)
            + f_bytes(6, f_bool(1, step_sync) + f_bool(2, hidden) + f_bool(3, True))
            + (f_bytes(7, summary_body) if summary_body else b"")
            + f_int(8, {"minimize": 1, "maximize": 2}.get(goal or "", 0)))


def exit_record(exit_code: int, runtime_s: int) -> bytes:
    """RunExitRecord body."""
    return f_int(1, exit_code) + f_int(2, runtime_s)


def artifact(*, run_id: str, project: str, entity: str | None, type: str, name: str,
             digest: str, metadata: dict[str, Any] | None, aliases: list[str],
             entries: list[tuple[str, str, int, str]], client_id: str,
             sequence_client_id: str) -> bytes:
    """ArtifactRecord body; ``entries`` are (path, base64 md5, size, local path)."""
    contents = b"".join(
        f_bytes(4, f_str(1, path) + f_str(2, md5) + f_int(4, size) + f_str(6, local))
        for path, md5, size, local in entries)
    manifest = (f_int(1, 1) + f_str(2, "wandb-storage-policy-v1")
                + f_bytes(3, f_str(1, "storageLayout") + f_str(2, '"V2"')) + contents)
    return (f_str(1, run_id) + f_str(2, project) + f_str(3, entity) + f_str(4, type)
            + f_str(5, name) + f_str(6, digest)
            + f_str(8, json.dumps(metadata, separators=(",", ":"), default=str) if metadata else "")
            + f_repeated_str(11, aliases) + f_bytes(12, manifest) + f_bool(14, True)
            + f_str(15, client_id) + f_str(16, sequence_client_id) + f_str(20, "MANIFEST_MD5"))


def record_fields(data: bytes) -> tuple[int, set[int]]:
    """A serialized Record's ``num`` and the numbers of its top-level fields."""
    pos, num, fields = 0, 0, set()
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        fields.add(field)
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if field == 1:
                num = value
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return num, fields


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
