"""Run settings, and where W&B may write (everything under the store root by default)."""

from __future__ import annotations

import math
import netrc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from wandbkit.errors import UserError

MODES = ("auto", "online", "offline", "disabled")

# wandb's own folders and where wandbkit puts them, relative to the store root, unless the
# user set the variable (wandb otherwise writes to ~/.cache/wandb and ~/.local/share/wandb).
WANDB_DIRS = {
    "WANDB_DIR": "",
    "WANDB_CACHE_DIR": ".wandb-cache",
    "WANDB_DATA_DIR": ".wandb-data",
    "WANDB_ARTIFACT_DIR": ".wandb-artifacts",
}


@dataclass
class RunSettings:
    """What ``wandbkit.init`` was asked for, resolved."""

    project: str
    name: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()
    mode: str = "auto"
    wandb_mode: str = "offline"  # what the W&B sink will try: online, offline or disabled
    store_dir: Path = field(default_factory=Path.cwd)
    sinks: tuple[str, ...] | None = None
    queue_size: int = 100_000
    flush_interval: float = 0.1
    # Resuming (see wandbkit.resume): the resume mode asked for, where the id came from
    # (new, argument, WANDBKIT_RUN_ID, slurm, file), which process of the run this is (0 for
    # the first; each resume adds one, and the W&B sink writes it as a separate offline
    # fragment of the same W&B run) and the first step after those already stored.
    resume: str | None = None
    id_source: str = "new"
    fragment: int = 0
    start_step: int = 0
    # Further wandb.init arguments wandbkit itself does not use (entity, notes, job_type,
    # save_code): W&B sinks pass them on to wandb.init.
    wandb_init: dict[str, Any] = field(default_factory=dict)


def env_seconds(name: str, default: float, *, zero_means_off: bool = False) -> float:
    """A duration in seconds from the environment variable ``name``, or ``default`` when it is
    unset or empty. A value that is not a positive number (``30s``, ``0``, ``nan``) prints one
    warning naming the variable and the value, and ``default`` is used: a typo in the
    environment must not make ``import wandbkit`` fail. With ``zero_means_off``, 0 is taken
    as given (the variable's documented "off")."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if zero_means_off and value == 0:
        return 0.0
    if not (math.isfinite(value) and value > 0):
        from wandbkit.console import warn_once

        allowed = "a positive number of seconds or 0 (off)" if zero_means_off else \
            "a positive number of seconds"
        warn_once(f"env:{name}={raw}", f"{name}={raw!r} is not {allowed}; using {default:g}",
                  scope="process")
        return default
    return value


def check_mode(mode: str) -> str:
    """Validate ``mode``.

    :raises UserError: for anything but auto, online, offline, disabled.
    """
    if mode not in MODES:
        raise UserError(f"mode={mode!r} is not one of {', '.join(MODES)}")
    return mode


def wandb_api_host() -> str:
    """The W&B API host (``WANDB_BASE_URL`` or api.wandb.ai)."""
    base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    return urlparse(base).hostname or "api.wandb.ai"


def is_logged_in() -> bool:
    """True when an API key is available: ``WANDB_API_KEY`` or a netrc entry for the host.

    Only checks presence; it never prints or sends the key.
    """
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        auth = netrc.netrc(path).authenticators(wandb_api_host())
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(auth and auth[2])


def resolve_wandb_mode(mode: str) -> str:
    """Turn the user's mode into what the W&B sink runs.

    ``auto`` honours ``WANDB_MODE`` when set, else goes online when logged in, else offline.
    """
    if mode != "auto":
        return mode
    env = os.environ.get("WANDB_MODE", "").strip().lower()
    if env in ("offline", "dryrun"):
        return "offline"
    if env == "disabled":
        return "disabled"
    if env == "online":
        return "online"
    return "online" if is_logged_in() else "offline"


def wandb_environment(store_root: Path) -> dict[str, str]:
    """Environment for the W&B worker: wandb's folders under the store root unless set."""
    env = dict(os.environ)
    for var, sub in WANDB_DIRS.items():
        if not env.get(var):
            env[var] = str(store_root / sub) if sub else str(store_root)
    env.setdefault("WANDB_SILENT", "true")
    env.pop("WANDB_MODE", None)  # the worker is told its mode explicitly
    return env
