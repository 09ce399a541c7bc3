"""Errors of the checkpoint plugin; each is a ``wandbkit.errors.UserError`` (CLI exit 2)."""

from __future__ import annotations

import re

from wandbkit.errors import UserError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ALIAS_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class CheckpointError(UserError):
    """A checkpoint could not be saved or loaded (bad argument, failed background save)."""


class VerificationError(CheckpointError):
    """A file of a version does not match its manifest, or cannot be loaded safely."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnknownReference(CheckpointError):
    """A name or alias that is not in the index (the message lists what exists)."""


class AmbiguousReference(UnknownReference):
    """A bare name that several runs saved: the reference must say which (``NAME@RUN``)."""


def check_name(name: object) -> str:
    """Validate a checkpoint name: a path-safe single component (:func:`wandbkit.paths.
    safe_relative_path`) of letters, digits, ``_ . -`` (what W&B accepts too).

    :raises CheckpointError: one line naming the value and the rule it broke.
    """
    from wandbkit.paths import safe_relative_path

    try:
        safe_relative_path(name, what="checkpoint name")
    except UserError as exc:
        raise CheckpointError(str(exc)) from None
    assert isinstance(name, str)
    if not NAME_RE.match(name):
        raise CheckpointError(f"checkpoint name {name!r}: use letters, digits, '_', '.' or '-' "
                              "(starting with a letter or digit)")
    return name


def check_alias(alias: object) -> str:
    """Validate a user alias (what ``NAME:ALIAS`` references can name).

    :raises CheckpointError: for a non-string, an empty alias, other characters, or ``vN``.
    """
    if not isinstance(alias, str) or not ALIAS_RE.match(alias):
        raise CheckpointError(f"alias {alias!r}: use letters, digits, '_', '.' or '-'")
    if re.fullmatch(r"v\d+", alias):
        raise CheckpointError(f"alias {alias!r} is reserved: vN names a version")
    return alias
