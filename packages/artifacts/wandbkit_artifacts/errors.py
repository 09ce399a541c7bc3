"""Errors of the checkpoint plugin; each is a ``wandbkit.errors.UserError`` (CLI exit 2)."""

from __future__ import annotations

import re

from wandbkit.errors import UserError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CheckpointError(UserError):
    """A checkpoint could not be saved or loaded (bad argument, failed background save)."""


class VerificationError(CheckpointError):
    """A file of a version does not match its manifest, or cannot be loaded safely."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnknownReference(CheckpointError):
    """A name or alias that is not in the index (the message lists what exists)."""


def check_name(name: str) -> str:
    """Validate a checkpoint name (letters, digits, ``_ . -``; what W&B accepts too)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CheckpointError(f"checkpoint name {name!r}: use letters, digits, '_', '.' or '-'")
    return name
