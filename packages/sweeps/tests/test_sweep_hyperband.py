"""W&B's hyperband rule (``runs_to_stop``, ``hyperband_bands``) on cases worked out by hand.

Each case's comment shows the arithmetic: the bands, each band's values sorted (negated for
maximize), the threshold at index ``int(len / eta)``, and the value each running run compares.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import wandbkit_sweeps
from wandbkit_sweeps import SweepConfigError, hyperband_bands, runs_to_stop


def _cfg(goal: str = "minimize", metric: str = "loss", **et: object) -> dict:
    return {"method": "random", "metric": {"name": metric, "goal": goal},
            "early_terminate": {"type": "hyperband", **et},
            "parameters": {"x": {"min": 0.0, "max": 1.0}}}


def _run(name: str, state: str, values: list, metric: str = "loss") -> dict:
    return {"name": name, "state": state, "history": [{metric: v, "_step": i} for i, v in enumerate(values)]}


def test_bands_from_max_iter_and_s() -> None:
    # 27 / 3 = 9, / 3 = 3 (s = 2): ascending
    assert hyperband_bands(_cfg(max_iter=27, s=2)) == [3, 9]
    # 81 -> 27 -> 9 -> 3
    assert hyperband_bands(_cfg(max_iter=81, s=3, eta=3)) == [3, 9, 27]
    # 10 / 3 = 3.33 -> 3, / 3 = 1.11 -> 1, / 3 = 0.37 < 1: stop before s = 5 is used up
    assert hyperband_bands(_cfg(max_iter=10, s=5, eta=3)) == [1, 3]
    # 5 / 2 = 2.5 -> 2, / 2 = 1.25 -> 1
    assert hyperband_bands(_cfg(max_iter=5, s=2, eta=2)) == [1, 2]


def test_bands_from_min_iter() -> None:
    bands = hyperband_bands(_cfg(min_iter=3))  # eta defaults to 3
    assert bands[:4] == [3, 9, 27, 81] and len(bands) == 100 and bands[-1] == 3 * 3 ** 99
    # a float eta: the running product 2, 3.0, 4.5, 6.75, 10.125, truncated
    assert hyperband_bands(_cfg(min_iter=2, eta=1.5))[:5] == [2, 3, 4, 6, 10]


def test_bands_from_a_yaml_path(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: grid\nmetric: {name: acc, goal: maximize}\n"
                    "early_terminate: {type: hyperband, min_iter: 1, eta: 2}\n"
                    "parameters: {x: {values: [1, 2]}}\n")
    assert hyperband_bands(path)[:4] == [1, 2, 4, 8]
    # negated -0.9 -0.8 -0.1, index int(3/2) = 1 -> -0.8: a (-0.1) is worse
    assert runs_to_stop(str(path), [_run("a", "running", [0.1], "acc"),
                                    _run("b", "running", [0.9], "acc"),
                                    _run("c", "running", [0.8], "acc")]) == ["a"]


def test_max_iter_case_minimise_strict_default() -> None:
    # bands [1, 2]. band 1: h[0] = 10 10 10 10 10, index int(5/2) = 2 -> 10.
    # band 2: h[1] sorted 6 7 8 9 10 -> index 2 -> 8. b: h[1] = 10 > 8 stops; c: 8 is not > 8.
    runs = [_run("a", "finished", [10, 9]), _run("b", "running", [10, 10]),
            _run("c", "running", [10, 8, 8]), _run("d", "running", [10, 7, 7]),
            _run("e", "finished", [10, 6, 6])]
    assert runs_to_stop(_cfg(max_iter=5, eta=2, s=2), runs) == ["b"]


def test_strict_compares_the_value_at_the_band_otherwise_the_best_so_far() -> None:
    # min_iter 2, eta 2: bands 2, 4, 8, ...
    # band 2: h[1] = A 3, B 2, C 5, D 4, E 9 -> sorted 2 3 4 5 9, index int(5/2) = 2 -> 4
    # band 4: h[3] = A 1, B 2, E 9 -> sorted 1 2 9, index int(3/2) = 1 -> 2
    # C (band 2): strict 5 > 4 stops; best so far 1 is not > 4.
    # D (band 2): 4 is not > 4 either way.  E (band 4): 9 > 2, and its best 9 > 2: stops.
    runs = [_run("A", "finished", [4, 3, 2, 1]), _run("B", "finished", [4, 2, 2, 2]),
            _run("C", "running", [1, 5]), _run("D", "running", [5, 4]),
            _run("E", "running", [9, 9, 9, 9, 9])]
    assert runs_to_stop(_cfg(min_iter=2, eta=2), runs) == ["C", "E"]
    assert runs_to_stop(_cfg(min_iter=2, eta=2, strict=True), runs) == ["C", "E"]
    assert runs_to_stop(_cfg(min_iter=2, eta=2, strict=False), runs) == ["E"]


def test_maximise_negates_and_finished_runs_count() -> None:
    # min_iter 1, eta 3: bands 1, 3, 9, ...
    # maximize: band 1 values -0.5 (F) -0.2 (G) -0.3 (H) -0.9 (I), sorted -0.9 -0.5 -0.3 -0.2,
    # index int(4/3) = 1 -> -0.5. H: -0.3 > -0.5 stops; I: -0.9 does not.
    # Band 3 only F reached (-0.7): nobody running is there yet.
    runs = [_run("F", "finished", [0.5, 0.6, 0.7], "acc"), _run("G", "failed", [0.2], "acc"),
            _run("H", "running", [0.3], "acc"), _run("I", "running", [0.9], "acc")]
    assert runs_to_stop(_cfg("maximize", "acc", min_iter=1), runs) == ["H"]
    # the same numbers to minimise: 0.2 0.3 0.5 0.9 -> index 1 -> 0.3; I: 0.9 > 0.3 stops,
    # H: 0.3 is not > 0.3
    assert runs_to_stop(_cfg("minimize", "acc", min_iter=1), runs) == ["I"]
    # without the finished run F: -0.9 -0.3 -0.2 -> index int(3/3) = 1 -> -0.3: H survives
    assert runs_to_stop(_cfg("maximize", "acc", min_iter=1), runs[1:]) == []


def test_only_running_runs_stop_in_input_order() -> None:
    # band 1 of 7 5 1 6 2 3 4 (eta 2): sorted 1..7, index int(7/2) = 3 -> 4.
    # r7 and r6 run and are worse; r5 (crashed) is worse too but is not running.
    runs = [_run("r7", "running", [7]), _run("r5", "crashed", [5]), _run("r1", "running", [1]),
            _run("r6", "running", [6]), _run("r2", "finished", [2]), _run("r3", "failed", [3]),
            _run("r4", "killed", [4])]
    assert runs_to_stop(_cfg(min_iter=1, eta=2), runs) == ["r7", "r6"]


def test_nan_missing_and_non_numbers_are_skipped() -> None:
    # J's valid values are 3.0 and 2.0 (NaN, a row without loss, True and "x" skipped, numpy
    # float kept), so J is at iteration 2, band 2 (min_iter 2, eta 2).
    # band 2: J 2.0, K 1, L 1 -> sorted 1 1 2, index int(3/2) = 1 -> 1; J: 2.0 > 1 stops.
    # M logged only NaN and inf: no history, no band, never stopped and never counted.
    j = {"name": "J", "state": "running", "history": [
        {"loss": math.nan}, {"other": 1.0}, {"loss": 3.0}, {"loss": True}, {"loss": "x"},
        {"loss": np.float32(2.0)}]}
    m = _run("M", "running", [math.nan, math.inf, -math.inf, math.nan])
    runs = [j, _run("K", "finished", [1, 1]), _run("L", "finished", [1, 1]), m]
    assert runs_to_stop(_cfg(min_iter=2, eta=2), runs) == ["J"]
    # with NaN counted as a value J would be at iteration 3 with h[1] = 3.0: the rule must skip it
    assert runs_to_stop(_cfg(min_iter=2, eta=2, strict=True), runs) == ["J"]


def test_no_band_reached_and_no_threshold_never_stop() -> None:
    runs = [_run("a", "running", [100.0]), _run("b", "running", [1.0])]
    assert runs_to_stop(_cfg(min_iter=2), runs) == []  # nobody at iteration 2 yet
    assert runs_to_stop(_cfg(min_iter=1), []) == []


def test_a_config_without_hyperband_says_what_is_missing() -> None:
    with pytest.raises(SweepConfigError, match="early_terminate: is required"):
        runs_to_stop({"metric": {"name": "loss"}}, [])
    with pytest.raises(SweepConfigError, match="metric: is required"):
        hyperband_bands({"early_terminate": {"type": "hyperband", "min_iter": 1}})
    with pytest.raises(SweepConfigError, match="eta: must be greater than 1"):
        hyperband_bands(_cfg(min_iter=1, eta=1))


def test_exported_from_the_package() -> None:
    assert wandbkit_sweeps.runs_to_stop is runs_to_stop
    assert "hyperband_bands" in wandbkit_sweeps.__all__ and "runs_to_stop" in wandbkit_sweeps.__all__
