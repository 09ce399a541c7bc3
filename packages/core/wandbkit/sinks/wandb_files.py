"""Media files and artifact manifests for a ``.wandb`` run folder, laid out as wandb does.

Images go to ``files/media/images/<key>_<step>_<sha256[:20]>.png``, tables to
``files/media/table/<key>_<step>_<sha256[:20]>.table.json`` (a key's ``/`` makes subfolders
and ``..`` becomes ``__``, as in wandb: see :func:`media_stem`); each is described in the
history row by the same JSON wandb's data types produce (``_type: image-file``, ``table-file``,
``histogram``). A table is also logged, as wandb does, as a ``run_table`` artifact
``run-<id>-<key>`` whose file is the table with its column types. Artifacts carry wandb's MD5
manifest: each file's base64 MD5 and the manifest digest over ``path:digest`` lines.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import secrets
import string
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandbkit.media import Audio, Histogram, Html, Image, Plotly, Table, Video
from wandbkit.paths import join_inside

_CLIENT_ID_ALPHABET = string.ascii_lowercase + string.digits
MANIFEST_HEADER = b"wandb-artifact-manifest-v1\n"


def client_id() -> str:
    """A 128-character id in wandb's alphabet (artifact client ids)."""
    return "".join(secrets.choice(_CLIENT_ID_ALPHABET) for _ in range(128))


def file_md5(path: Path) -> tuple[str, int]:
    """Base64 MD5 (wandb's entry digest) and size of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return base64.b64encode(digest.digest()).decode(), size


@dataclass
class Manifest:
    """An artifact's files: (path in the artifact, base64 md5, size, local path)."""

    entries: list[tuple[str, str, int, str]] = field(default_factory=list)

    @classmethod
    def of(cls, path: Path) -> Manifest:
        """The manifest of a file, or of every file under a folder (paths relative to it)."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            names = [p.relative_to(path).as_posix() for p in files]
        else:
            files, names = [path], [path.name]
        manifest = cls()
        for name, file in zip(names, files, strict=True):
            md5, size = file_md5(file)
            manifest.entries.append((name, md5, size, str(file.resolve())))
        return manifest

    def digest(self) -> str:
        """wandb's MANIFEST_MD5 digest: md5 of the header and sorted ``path:digest`` lines."""
        digest = hashlib.md5(MANIFEST_HEADER, usedforsecurity=False)
        for path, md5, _size, _local in sorted(self.entries):
            digest.update(f"{path}:{md5}\n".encode())
        return digest.hexdigest()


@dataclass
class TableArtifact:
    """The ``run_table`` artifact wandb logs with each table."""

    name: str
    manifest: Manifest
    client_id: str
    sequence_client_id: str


class MediaWriter:
    """Writes a row's media under a run's ``files/`` and returns what the row records."""

    def __init__(self, files_dir: Path, run_id: str) -> None:
        self.files_dir = files_dir
        self.run_id = run_id
        self.staging = files_dir.parent / "tmp" / "wandbkit-tables"

    def convert(self, key: str, step: int, value: Any
                ) -> tuple[dict[str, Any], list[str], TableArtifact | None]:
        """(the JSON wandb stores for ``value``, new files relative to ``files/``, artifact)."""
        if isinstance(value, Histogram):
            return {"_type": "histogram", "values": value.counts.tolist(),
                    "bins": value.edges.tolist()}, [], None
        if isinstance(value, Table):
            return self._table(key, step, value)
        if isinstance(value, _CELL_MEDIA):
            data, subdir, ext, described = media_file(value)
            rel, sha = self._save(subdir, key, step, data, ext)
            return {**described, "path": rel, "sha256": sha, "size": len(data)}, [rel], None
        raise TypeError(f"{key}: not a media value: {type(value).__name__}")

    def _save(self, subdir: str, key: str, step: int, data: bytes, ext: str) -> tuple[str, str]:
        sha = hashlib.sha256(data).hexdigest()
        rel = f"media/{subdir}/{media_stem(key)}_{step}_{sha[:20]}{ext}"
        path = join_inside(self.files_dir, rel, what="media key")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return rel, sha

    def _table(self, key: str, step: int, table: Table
               ) -> tuple[dict[str, Any], list[str], TableArtifact]:
        # wandb's run-folder copy names a media cell by its class; the artifact holds the media
        plain = [[type(c).__name__ if isinstance(c, _CELL_MEDIA) else c for c in row]
                 for row in table.data]
        data = json.dumps({"columns": table.columns, "data": plain},
                          separators=(",", ":"), default=str).encode()
        rel, sha = self._save("table", key, step, data, ".table.json")
        art = self._table_artifact(key, sha, table)
        entry = f"{key}.table.json"
        out = {"_type": "table-file", "sha256": sha, "size": len(data), "path": rel,
               "ncols": len(table.columns), "nrows": len(table.data), "log_mode": "IMMUTABLE",
               "artifact_path": f"wandb-client-artifact://{art.client_id}/{entry}",
               "_latest_artifact_path":
                   f"wandb-client-artifact://{art.sequence_client_id}:latest/{entry}"}
        return out, [rel], art

    def _table_artifact(self, key: str, sha: str, table: Table) -> TableArtifact:
        self.staging.mkdir(parents=True, exist_ok=True)
        entries: dict[str, tuple[str, int, str]] = {}
        cells = [[self._cell(c, entries) for c in row] for row in table.data]
        doc = {"_type": "table", "column_types": _column_types(table), "columns": table.columns,
               "data": cells, "log_mode": "IMMUTABLE", "ncols": len(table.columns),
               "nrows": len(table.data)}
        staged = self.staging / f"{sha}.table.json"
        staged.write_text(json.dumps(doc, sort_keys=True, default=str))
        md5, size = file_md5(staged)
        manifest = Manifest([(f"{key}.table.json", md5, size, str(staged.resolve())),
                             *((path, m, n, local) for path, (m, n, local) in entries.items())])
        name = artifact_name(f"run-{self.run_id}-{key}")
        return TableArtifact(name, manifest, client_id(), client_id())


    def _cell(self, cell: Any, entries: dict[str, tuple[str, int, str]]) -> Any:
        """A table cell as the run_table artifact holds it: media become files of the artifact
        (``media/<kind>/<md5[:20]>.<ext>``, as wandb names them) described in the cell."""
        if not isinstance(cell, _CELL_MEDIA):
            return cell
        data, subdir, ext, described = media_file(cell)
        md5 = hashlib.md5(data, usedforsecurity=False)
        path = f"media/{subdir}/{md5.hexdigest()[:20]}{ext}"
        if path not in entries:
            staged = self.staging / f"{md5.hexdigest()}{ext}"
            staged.write_bytes(data)
            entries[path] = (base64.b64encode(md5.digest()).decode(), len(data), str(staged.resolve()))
        described.update(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        return described


def media_file(value: Image | Audio | Video | Html | Plotly) -> tuple[bytes, str, str, dict[str, Any]]:
    """A media value's file as wandb writes it: ``(bytes, media subfolder, extension, the
    description wandb records beside its path, sha256 and size)``."""
    if isinstance(value, Image):
        buf = io.BytesIO()
        value.to_pil().save(buf, format="png", transparency=None)  # as wandb.Image saves
        height, width = value.pixels.shape[:2]
        described: dict[str, Any] = {"_type": "image-file", "format": "png", "width": width,
                                     "height": height}
        data, subdir, ext = buf.getvalue(), "images", ".png"
    elif isinstance(value, (Audio, Video)):
        audio = isinstance(value, Audio)
        described = {"_type": "audio-file" if audio else "video-file"}
        data, subdir, ext = value.encoded, "audio" if audio else "videos", f".{value.format}"
    elif isinstance(value, Html):
        described = {"_type": "html-file"}
        data, subdir, ext = value.for_wandb().encode("utf-8"), "html", ".html"
    else:
        described = {"_type": "plotly-file"}
        data = json.dumps(value.spec, separators=(",", ":"), default=str).encode()
        subdir, ext = "plotly", ".plotly.json"
    caption = getattr(value, "caption", None)
    if caption:
        described["caption"] = caption
    return data, subdir, ext, described


_CELL_MEDIA = (Image, Audio, Video, Html, Plotly)
# wandb's column type of an image cell (its box and mask settings, none set)
_IMAGE_TYPE = {"params": {
    "box_class_maps": {"params": {"is_set": False, "val": {}}, "wb_type": "const"},
    "box_layers": {"params": {"is_set": False, "val": {}}, "wb_type": "const"},
    "box_score_keys": {"params": {"is_set": True, "val": []}, "wb_type": "const"},
    "class_map": {"params": {"is_set": False, "val": {}}, "wb_type": "const"},
    "mask_class_maps": {"params": {"is_set": False, "val": {}}, "wb_type": "const"},
    "mask_layers": {"params": {"is_set": False, "val": {}}, "wb_type": "const"}},
    "wb_type": "image-file"}


# A media key's path components are cut to this many bytes (the rest replaced by a digest), so
# that with ``_<step>_<sha>.<ext>`` after it the file name stays within the filesystem's limit.
MEDIA_COMPONENT_BYTES = 150


def media_stem(key: str) -> str:
    """The path under ``files/media/<kind>/`` that a media key names, as wandb makes it
    (``util.make_file_path_upload_safe``): a key's ``/`` makes subfolders, leading ``/`` are
    stripped, and ``.`` or ``..`` components become ``_`` or ``__``, so no key climbs out of
    ``media/``. wandbkit also shortens a component too long for the filesystem (wandb raises
    ``File name too long`` there) and escapes NUL bytes."""
    parts = []
    for part in key.lstrip("/").split("/"):
        if part in (".", ".."):
            part = part.replace(".", "_")
        part = part.replace("\x00", "%00")
        if len(part.encode("utf-8")) > MEDIA_COMPONENT_BYTES:
            digest = hashlib.sha256(part.encode("utf-8")).hexdigest()[:16]
            head = part.encode("utf-8")[:MEDIA_COMPONENT_BYTES - 17].decode("utf-8", "ignore")
            part = f"{head}-{digest}"
        parts.append(part)
    return "/".join(parts)


def artifact_name(name: str) -> str:
    """wandb's sanitised artifact name: other characters than ``[A-Za-z0-9_.-]`` dropped, and
    then, to stay unique, ``-`` and the URL-safe base64 of the name's CRC-32."""
    sanitized = re.sub(r"[^a-zA-Z0-9_\-.]+", "", name)
    if sanitized == name:
        return name
    crc = zlib.crc32(name.encode()) & 0xFFFFFFFF
    return f"{sanitized}-{base64.urlsafe_b64encode(crc.to_bytes(4, 'big')).rstrip(b'=').decode()}"


def _column_types(table: Table) -> dict[str, Any]:
    """wandb's typedDict of a table's columns: each the union of none and what it holds."""
    type_map: dict[str, Any] = {}
    for i, column in enumerate(table.columns):
        kinds: list[str] = []
        for row in table.data:
            kind = _wb_type(row[i])
            if kind != "none" and kind not in kinds:
                kinds.append(kind)
        allowed = [{"wb_type": "none"}] + [_IMAGE_TYPE if k == "image-file" else {"wb_type": k}
                                           for k in kinds]
        if "image-file" in kinds:  # wandb lists a media type before none
            allowed = allowed[1:] + allowed[:1]
        type_map[column] = {"params": {"allowed_types": allowed}, "wb_type": "union"}
    return {"params": {"type_map": type_map}, "wb_type": "typedDict"}


def _wb_type(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, _CELL_MEDIA):
        return {Image: "image-file", Audio: "audio-file", Video: "video-file", Html: "html-file",
                Plotly: "plotly-file"}[type(value)]
    return "string"


def fsync_dir(path: Path) -> None:
    """fsync a folder so files just created in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
