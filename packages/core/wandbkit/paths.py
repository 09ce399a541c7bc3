"""Turning user-given names (artifact entries, media keys, checkpoint names) into paths.

One rule, one place: every caller that makes a file or folder from a name a user chose goes
through :func:`safe_relative_path` or :func:`safe_filename`, so nothing lands outside the folder
it was meant for, and two different names never share one file.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath

from wandbkit.errors import UserError

# Most filesystems cap one path component at 255 bytes; keep room for a suffix and a counter.
MAX_COMPONENT_BYTES = 200


def safe_relative_path(name: object, *, what: str = "name") -> PurePosixPath:
    """``name`` as a relative POSIX path that stays inside whatever folder it is joined to.

    Accepts ``a/b/c.txt`` (sub-folders are fine); refuses what could escape or is not a name:
    non-strings, the empty string, absolute paths, ``..`` components, NUL bytes, backslashes
    (a Windows separator) and components longer than the filesystem takes.

    :param name: the user's name.
    :param what: what the name is, for the error (``"artifact entry"``, ``"media key"``).
    :raises UserError: naming the value and the rule it broke.
    """
    if not isinstance(name, str):
        raise UserError(f"{what} must be a string, got {type(name).__name__} {name!r}")
    if not name or name.strip() == "":
        raise UserError(f"{what} must not be empty")
    if "\x00" in name or "\\" in name:
        raise UserError(f"{what} {name!r} holds a NUL byte or a backslash")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise UserError(f"{what} {name!r} is an absolute path; give a path relative to its folder")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise UserError(f"{what} {name!r} names no file")
    if ".." in parts:
        raise UserError(f"{what} {name!r} climbs out of its folder ('..')")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise UserError(f"{what} {name[:40]!r}… has a path component of "
                            f"{len(part.encode('utf-8'))} bytes (at most {MAX_COMPONENT_BYTES})")
    return PurePosixPath(*parts)


def join_inside(root: Path, name: object, *, what: str = "name") -> Path:
    """``root / name`` for a user-given ``name``, checked to stay under ``root``, also through
    symbolic links that already exist below it."""
    rel = safe_relative_path(name, what=what)
    target = root / Path(*rel.parts)
    real_root = os.path.realpath(root)
    real = os.path.realpath(target)
    if os.path.commonpath([real_root, real]) != real_root:
        raise UserError(f"{what} {name!r} resolves outside {root} (through a symbolic link)")
    return target


_KEEP = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def safe_filename(name: str) -> str:
    """One file-name component for any string, reversible, so two names never share a file.

    Letters, digits, ``-``, ``_`` and ``.`` stay as they are; every other character (``/``,
    ``%``, spaces, unicode) becomes ``%XX`` per UTF-8 byte, as in a URL. A leading dot is
    escaped too, so no name becomes hidden or ``..``. Names past the length limit are cut
    and end in a digest of the whole name.
    """
    name = unicodedata.normalize("NFC", name)
    out = []
    for i, ch in enumerate(name):
        if ch in _KEEP and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    text = "".join(out) or "%00"
    if len(text) > MAX_COMPONENT_BYTES:
        import hashlib

        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        text = text[:MAX_COMPONENT_BYTES - 17] + "-" + digest
    return text
