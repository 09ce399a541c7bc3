"""Dashboard panels contributed by plugins through ``wandbkit_dashboard_panels``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    """One tab of ``wandbkit dashboard``.

    :param title: the tab's label.
    :param build: ``build(ctx)`` creates the tab's components inside the open layout; ``ctx``
        gives the local store and the selected run.
    :param order: tabs are sorted by it (core tabs use 0-50).
    """

    title: str
    build: Callable[[Any], None]
    order: int = 100


def collect_panels() -> list[Panel]:
    """Every panel registered by installed plugins, sorted by ``order``."""
    from wandbkit.plugins import collect

    return sorted(collect("wandbkit_dashboard_panels"), key=lambda p: (p.order, p.title))
