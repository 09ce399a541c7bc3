"""``benchmarks/log_overhead.py --quick`` runs to the end and reports every figure and ratio.

No timing thresholds: speed is judged by reading the benchmark's output, not by this test. What
is asserted is that each figure exists and is a real number, that the ratios and verdicts are
computed from those figures, and that every logged row reached both sinks.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "log_overhead.py"
SIZES = ("10", "100")


def _number(value: object) -> float:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    assert math.isfinite(value), value
    return float(value)


def test_log_overhead_quick_reports_every_figure(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    table = done.stderr

    init = results["init"]
    for key in ("wandb_first_s", "wandb_later_s", "wandbkit_first_s", "wandbkit_later_s"):
        assert _number(init[key]) > 0

    for size in SIZES:
        r = results["sizes"][size]
        for variant in ("a", "b", "c"):
            hot = r["hot"][variant]
            assert _number(hot["mean_us"]) > 0
            for key in ("p50_us", "p99_us", "max_us"):
                _number(hot["calls"][key])
            assert hot["calls"]["p50_us"] <= hot["calls"]["p99_us"] <= hot["calls"]["max_us"]
            for key in ("added_us", "stderr_us", "own_cpu_us", "children_cpu_us", "added_cpu_us",
                        "steps_only_added_us", "added_cpu_per_row_us"):
                _number(r["loop"][variant][key])
        assert _number(r["loop"]["base_step_ms"]) > 0
        d = r["delivery"]
        assert _number(d["rows_per_s"]) > 0
        # Correctness, not speed: every row logged is in W&B's records and in the store.
        assert d["wandb_history_records"] == d["rows"]
        assert d["store_rows"] == d["rows"]
        assert d["report_complete"] is True
        assert r["loop"]["c_rows_delivered_complete"] is True
        for key in ("store_only_rows_per_s", "wandb_only_rows_per_s"):
            assert _number(r["diagnosis"][key]) > 0
        for per_sink in r["delivery_sinks"].values():
            assert _number(per_sink["cpu_per_row_us"]) > 0
        # The block order is random per round and each round has every variant once.
        assert all(sorted(order) == sorted("-abc") for order in r["loop"]["orders"])

    checks = {c["name"]: c for c in results["checks"]}
    for size in SIZES:
        r = results["sizes"][size]
        hot = checks[f"hot path (c)/(b), {size} scalars"]
        assert hot["value"] == r["hot"]["c"]["mean_us"] / r["hot"]["b"]["mean_us"]
        loop = checks[f"loop slowdown (c)/(b), {size} scalars"]
        if r["loop"]["b"]["added_us"] > 0:
            assert loop["value"] == r["loop"]["c"]["added_us"] / r["loop"]["b"]["added_us"]
    assert "delivery rows/s, 10 scalars, both sinks" in checks
    assert "wandbkit.init() wall time, first in process (ms)" in checks
    assert "wandbkit.init() wall time, later in process (ms)" in checks
    for check in checks.values():
        assert check["verdict"] == ("PASS" if _passes(check) else "MISS"), check
        # The human table shows the same check with its verdict on one line.
        line = next(ln for ln in table.splitlines() if check["name"] in ln)
        assert check["verdict"] in line
    assert table.count("ratio (c)/(b)") == 2 * len(SIZES)  # hot path and loop tables


def _passes(check: dict[str, object]) -> bool:
    """Re-derive a verdict from the value and the printed target."""
    value = float(check["value"])  # type: ignore[arg-type]
    op, _, bound = str(check["target"]).partition(" ")
    limit = float(bound.replace(",", ""))
    if op == "<=":
        return value <= limit
    if op == ">=":
        return value >= limit
    assert op == "=", check
    return value == limit
