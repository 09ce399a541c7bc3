"""``benchmarks/log_overhead.py --quick`` runs to the end and reports every figure and ratio;
``benchmarks/run_all.py`` turns recorded figures into the documented table (no benchmark run).

No timing thresholds: speed is judged by reading the benchmark's output, not by this test. What
is asserted is that each figure exists and is a real number, that the ratios and verdicts are
computed from those figures, and that every logged row reached both sinks.
"""

from __future__ import annotations

import json
import math
import os
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
    recorded = tmp_path / "recorded.jsonl"  # what run_all.py would collect for its table
    env = {**os.environ, "WANDBKIT_BENCH_RESULTS": str(recorded)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False, env=env)
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

    # The table's records carry the same figures and verdicts as the script's own checks.
    records = {r["figure"]: r for r in map(json.loads, recorded.read_text().splitlines())}
    assert all(r["benchmark"] == "log_overhead" and r["note"] == "quick" for r in records.values())
    for size in SIZES:
        r = results["sizes"][size]
        hot = records[f"hot path, run.log (c), {size} scalars"]
        assert hot["value"] == r["hot"]["c"]["mean_us"]
        assert hot["ratio"] == checks[f"hot path (c)/(b), {size} scalars"]["value"]
        assert hot["passed"] == (checks[f"hot path (c)/(b), {size} scalars"]["verdict"] == "PASS")
        delivery = records[f"delivery, both sinks, {size} scalars"]
        assert delivery["value"] == r["delivery"]["rows_per_s"]
        assert delivery["passed"] == (
            checks[f"delivery rows/s, {size} scalars, both sinks"]["verdict"] == "PASS")
    init = records["wandbkit.init() wall time, first in process"]
    assert init["passed"] == (
        checks["wandbkit.init() wall time, first in process (ms)"]["verdict"] == "PASS")

    # The first init is measured in fresh processes, beside wandb.init and import wandbkit.
    first = results["first_init"]
    for name in ("wandbkit", "wandb"):
        assert len(first[f"{name}_init_all_s"]) == first["samples"] >= 1
        assert _number(first[f"{name}_init_s"]) > 0 and _number(first[f"{name}_import_s"]) > 0
    assert sorted(first["order"]) == sorted("kn" * first["samples"])  # wandbki[t], wan[d]b
    assert init["value"] == first["wandbkit_init_s"] * 1e3
    assert first["ratio_to_wandb_init"] == first["wandbkit_init_s"] / first["wandb_init_s"]
    # The issue's five figures at 100 scalars, each with its baseline and verdict.
    issue = {row["figure"]: row for row in results["issue_table"]}
    assert list(issue) == ["delivery, store + W&B writer",
                           "time added to a training step, drain included",
                           "store alone, CPU per row", "W&B writer alone, CPU per row",
                           "first wandbkit.init() in a process"]
    sinks = results["sizes"]["100"]["delivery_sinks"]
    for label in ("store alone", "W&B writer alone"):
        check = checks[f"CPU per row (µs), all processes, {label}, 100 scalars"]
        assert check["value"] == sinks[label]["cpu_per_row_us"]
        assert issue[f"{label}, CPU per row"]["verdict"] == check["verdict"]
    for row in issue.values():
        _number(row["ratio"])
        line = next(ln for ln in table.splitlines() if row["figure"] in ln and row["target"] in ln)
        assert row["verdict"] in line


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


def test_run_all_table_has_the_documented_columns(tmp_path: Path, monkeypatch) -> None:
    """Figures recorded by ``results.record`` (as a benchmark script does under ``run_all.py``)
    come out of ``run_all.write_table`` as one Markdown row each, in the documented columns, with
    the scripts' statuses and the machine. No benchmark is run."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import results
    import run_all

    lines = tmp_path / "results.jsonl"
    monkeypatch.setenv(results.ENV, str(lines))
    results.record("log_overhead", "hot path | 10 scalars", 1.5, "µs/call",
                   baseline="raw wandb.log: 30.0 µs/call", ratio=0.05, target="ratio <= 0.1",
                   passed=True, note="quick")
    results.record("checkpoint_io", "async save stall", 0.25, "s", baseline="memcpy: 0.1 s",
                   ratio=2.5, target="ratio <= 1.5 (CPU)", passed=False)
    results.record("torch_tracking", "loop slowdown (b)", 12345.0, "µs/step", ratio=float("nan"))
    rows = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(rows) == 3

    out = tmp_path / "RESULTS.md"
    statuses = {"log_overhead": ("ok", 21.4), "checkpoint_io": ("failed (exit 1)", 3.0)}
    info = {"cores": "2", "cpu": "Test CPU", "cuda": "no", "python": "3.11.9"}
    run_all.write_table(out, rows, statuses, info, True, (1.0, 2.0))
    text = out.read_text()
    assert "- machine: 2 cores, Test CPU, CUDA: no, load average 1.0 before, 2.0 after" in text
    assert "quick mode" in text

    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    header = _cells(table[0])
    assert header == ["benchmark", "figure", "value", "baseline", "ratio", "target", "result",
                      "note"]
    figures = [dict(zip(header, _cells(ln), strict=True)) for ln in table[1:4]]
    assert figures[0] == {"benchmark": "log_overhead", "figure": "hot path \\| 10 scalars",
                          "value": "1.5 µs/call", "baseline": "raw wandb.log: 30.0 µs/call",
                          "ratio": "0.05", "target": "ratio <= 0.1", "result": "PASS",
                          "note": "quick"}
    assert figures[1]["result"] == "MISS" and figures[1]["ratio"] == "2.5"
    assert figures[2]["value"] == "12,345 µs/step"
    assert figures[2]["ratio"] == "n/a" and figures[2]["result"] == "" and figures[2]["target"] == ""

    status_header = _cells(table[4])
    assert status_header == ["script", "status", "seconds", "command"]
    scripts = {c[0]: c for c in map(_cells, table[5:])}
    assert set(scripts) == set(statuses)  # only the scripts of this call
    assert scripts["log_overhead"][1:] == ["ok", "21", "`python benchmarks/log_overhead.py --quick`"]
    assert scripts["checkpoint_io"][1] == "failed (exit 1)"


def test_run_all_names_every_benchmark_script(monkeypatch) -> None:
    """Every script in benchmarks/ that measures something is in run_all's list, and the list
    names no script that does not exist."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import run_all

    helpers = {"bench_env", "results", "run_all", "wandb_stand_in"}
    scripts = {p.stem for p in SCRIPT.parent.glob("*.py")} - helpers
    assert {b.name for b in run_all.BENCHMARKS} == scripts


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (``\\|`` stays inside its cell)."""
    parts, cell, i = [], "", 1
    while i < len(line) - 1:
        if line[i] == "\\" and line[i + 1] == "|":
            cell += "\\|"
            i += 2
            continue
        if line[i] == "|":
            parts.append(cell.strip())
            cell = ""
        else:
            cell += line[i]
        i += 1
    parts.append(cell.strip())
    return parts
