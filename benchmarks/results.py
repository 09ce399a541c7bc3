"""One line per headline figure, for ``run_all.py``'s table (``benchmarks/RESULTS.md``).

A benchmark calls :func:`record` for each figure it prints next to a target. When the variable
``WANDBKIT_BENCH_RESULTS`` names a file (``run_all.py`` sets it), the figure is appended there as
one JSON line; otherwise ``record`` does nothing, so every script still runs on its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "WANDBKIT_BENCH_RESULTS"


def record(benchmark: str, figure: str, value: float, unit: str, *, baseline: str = "",
           ratio: float | None = None, target: str = "", passed: bool | None = None,
           note: str = "") -> None:
    """Keep one figure: what was measured, against what, and whether it met its target.

    :param benchmark: the script's name (``log_overhead``).
    :param figure: what the number is (``loop slowdown, 10 scalars``).
    :param value: the measured number, in ``unit``.
    :param baseline: what it is compared with, measured in the same run (``raw wandb.log``).
    :param ratio: value / baseline (or whatever ratio the target is stated in).
    :param target: the target as text (``<= 0.1``); empty when the figure has none.
    :param passed: whether the target was met; None when there is no target or no measurement.
    :param note: anything a reader needs (``quick run``, ``no GPU``).
    """
    path = os.environ.get(ENV)
    if not path:
        return
    line = {"benchmark": benchmark, "figure": figure, "value": value, "unit": unit,
            "baseline": baseline, "ratio": ratio, "target": target, "passed": passed,
            "note": note}
    with Path(path).open("a") as fh:
        fh.write(json.dumps(line) + "\n")
