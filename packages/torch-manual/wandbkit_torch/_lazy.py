"""Lazy module attributes: import a name's module on first use (keeps ``import`` cheap)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(module: str, exports: dict[str, str],
                 names: Callable[[], list[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``module``, resolving ``exports[name]`` on first use.

    :param names: the module's own names (pass ``lambda: list(globals())``).
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*names(), *exports])

    return __getattr__, __dir__
