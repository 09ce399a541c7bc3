"""The sweep file: W&B's verdict on real files, each rule with its key path, and no crash on
any input (hypothesis)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wandbkit.cli import main
from wandbkit_sweeps.config import METHODS, SweepConfigError, check, load_sweep, parse_text, validate
from wandbkit_sweeps.samplers import make_pruner, make_sampler
from wandbkit_sweeps.space import grid_points, search_space, suggest

CORPUS = Path(__file__).parent / "corpus"

# Files SOURCES.md marks suspect, with a phrase the rejection must contain.
REJECTED = {
    "wandb__examples__examples__keras__keras-cnn-fashion__sweep-tune-hyperopt.yaml": "tune",
    "wandb__examples__examples__launch__launch-sweeps__optuna-scheduler__optuna_config_advanced.yaml":
        "scheduler",
    "wandb__examples__examples__launch__launch-sweeps__optuna-scheduler__optuna_config_basic.yaml":
        "scheduler",
    "wandb__examples__examples__launch__launch-sweeps__optuna-scheduler__optuna-config-advanced.yaml":
        "metric.name",
    "wandb__examples__examples__launch__launch-sweeps__optuna-scheduler__optuna-config-basic.yaml":
        "scheduler",
    "wandb__examples__examples__launch__launch-sweeps__quickstart__launch_sweep_config.yaml":
        "scheduler",
    "wandb__examples__examples__launch__launch-sweeps__custom-scheduler__custom_job_sweep_config.yaml":
        "method",
    "karapostK__hassaku__conf__sweeps__protomf__uiprotomf_ml1m_sweep_conf.yml": "write 5.0e-5",
    "wandb__sweeps__examples__sweep-ax-moo.yaml": "metrics",
    "spokenlanguage__platalea__wandb_sweep.yaml": "metric.goal",
}
# SOURCES.md judged these valid against an older W&B schema; W&B's current validator rejects
# the deprecated log_uniform (exponent bounds) and so do we, naming the _values form and the
# limits to write.
DEPRECATED = {
    "wandb__examples__fastai1-simpsons__sweep.yaml",
    "colehurwitz__llm_bci__sweep_bayes.yaml",
    "dhruvdcoder__wandb-allennlp__examples__configs__wandb_sweep_nli_lstm.yaml",
}
FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml"))


def test_corpus_is_complete() -> None:
    assert len(FILES) == 30
    assert set(REJECTED) | DEPRECATED <= set(FILES)


def _convert(spec: object) -> None:
    """The spec becomes an Optuna study: sampler, pruner, and one suggested config."""
    study = optuna.create_study(sampler=make_sampler(spec), pruner=make_pruner(spec))
    if spec.method == "grid":
        first = grid_points(spec)[0]
        study.enqueue_trial(first)
    trial = study.ask()
    config = suggest(trial, spec)
    assert set(search_space(spec)) == set(trial.params)
    top = {p.path[0] for p in spec.params}
    assert set(config) == top


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_verdict(name: str) -> None:
    path = CORPUS / name
    if name in REJECTED:
        with pytest.raises(SweepConfigError) as info:
            load_sweep(path)
        assert REJECTED[name] in str(info.value)
        return
    if name in DEPRECATED:
        with pytest.raises(SweepConfigError) as info:
            load_sweep(path)
        assert "log_uniform_values" in str(info.value) and "min: " in str(info.value)
        return
    spec = load_sweep(path)
    _convert(spec)


def test_yaml11_exponent_in_values_is_a_warning_naming_the_fix() -> None:
    spec = load_sweep(CORPUS / "wandb__examples__keras-cnn-fashion__sweep-grid-hyperband.yaml")
    messages = [str(w) for w in spec.warnings]
    assert any("parameters.decay.values[0]" in m and "1.0e-5" in m for m in messages)
    assert all(w.line == 18 for w in spec.warnings)


def test_crlf_file_reports_lines() -> None:
    assert b"\r\n" in (CORPUS / "spokenlanguage__platalea__wandb_sweep.yaml").read_bytes()
    with pytest.raises(SweepConfigError) as info:
        load_sweep(CORPUS / "spokenlanguage__platalea__wandb_sweep.yaml")
    goal = [p for p in info.value.problems if p.path == "metric.goal"]
    assert goal and goal[0].line == 4


def _problems(doc: dict) -> list[str]:
    errors, _, _ = validate(doc)
    return [str(p) for p in errors]


BASE = {"method": "random", "metric": {"name": "loss"}, "parameters": {"lr": {"min": 0.1, "max": 1.0}}}


@pytest.mark.parametrize("change, expected", [
    ({"method": "evolution"}, "method: must be one of grid, random, bayes, custom"),
    ({"extra": 1}, "extra: unknown key"),
    ({"metric": {"name": "loss", "mode": "min"}}, "metric.mode: unknown key"),
    ({"metric": {"goal": "minimize"}}, "metric.name: is required"),
    ({"parameters": {"lr": {"min": 1.0, "max": 0.5}}},
     "parameters.lr.min: min 1.0 must be less than max 0.5"),
    ({"parameters": {"lr": {"distribution": "log_uniform", "min": -5, "max": 0}}},
     "use `distribution: log_uniform_values`"),
    ({"parameters": {"lr": {"distribution": "q_log_uniform", "min": 0, "max": 2}}}, "q_log_uniform_values"),
    ({"parameters": {"lr": {"distribution": "inv_log_uniform", "min": 0, "max": 2}}},
     "inv_log_uniform_values"),
    ({"parameters": {"o": {"parameters": {"b": {"min": 3, "max": 2}}}}},
     "parameters.o.parameters.b.min: min 3 must be less than max 2"),
    ({"parameters": {"o": {"parameters": {"b": {"values": [1, 2], "probabilities": [0.5, 0.6]}}}}},
     "parameters.o.parameters.b.probabilities: must sum to 1"),
    ({"parameters": {"a": {"values": [1, 2], "probabilities": [1.0]}}}, "has 1 entries for 2 values"),
    ({"method": "grid", "parameters": {"lr": {"min": 0.1, "max": 1.0}}},
     "parameters.lr: grid search cannot enumerate uniform"),
    ({"early_terminate": {"type": "hyperband", "eta": 3}}, "needs `max_iter` with `s`, or `min_iter`"),
    ({"early_terminate": {"type": "hyperband", "max_iter": 27, "s": 1.5}},
     "early_terminate.s: must be an integer"),
    ({"early_terminate": {"type": "hyperband", "max_iter": 2, "s": 2, "eta": 3}}, "no hyperband band"),
    ({"parameters": {"lr": {"min": "1e-5", "max": 0.1}}}, "write 1.0e-5"),
    ({"parameters": {"9lr": {"value": 1}}}, "W&B's pattern"),
    ({"parameters": {}}, "parameters: must name at least one parameter"),
    ({"run_cap": 0}, "run_cap: must be greater than 0"),
    ({"parameters": {"lr": {"distribution": "normal", "sigma": -1}}},
     "parameters.lr.sigma: must be at least 0"),
    ({"parameters": {"lr": {"distribution": "categorical", "values": [1], "probabilities": [1.0]}}},
     "categorical_w_probabilities"),
    ({"parameters": {"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}},
     "parameters.lr.min: must be greater than 0"),
    ({"command": "python train.py"}, "command: must be a list"),
])
def test_rule(change: dict, expected: str) -> None:
    doc = {**BASE, **change}
    assert any(expected in p for p in _problems(doc)), _problems(doc)


def test_bayes_needs_metric_and_hyperband_needs_metric() -> None:
    assert any("bayes search needs a metric" in p for p in
               _problems({"method": "bayes", "parameters": {"a": {"values": [1, 2]}}}))
    assert any("hyperband needs a `metric`" in p for p in _problems(
        {"method": "random", "parameters": {"a": {"values": [1, 2]}},
         "early_terminate": {"type": "hyperband", "min_iter": 1}}))


def test_every_distribution_is_accepted_and_converts() -> None:
    doc = {"method": "random", "metric": {"name": "loss", "goal": "maximize", "target": 0.9},
           "run_cap": 5, "name": "n", "description": "d", "project": "p", "entity": "e",
           "program": "train.py", "command": ["${env}", "${interpreter}", "${program}", "${args}"],
           "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": True},
           "parameters": {
               "c": {"value": 1}, "cat": {"values": ["a", "b"]},
               "p": {"values": [1, 2], "probabilities": [0.25, 0.75]},
               "i": {"min": 1, "max": 4}, "u": {"min": 0, "max": 1.5},
               "qu": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
               "lu": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
               "ilu": {"distribution": "inv_log_uniform_values", "min": 1e-3, "max": 1.0},
               "qlu": {"distribution": "q_log_uniform_values", "min": 1, "max": 256, "q": 1},
               "n": {"distribution": "normal", "mu": 1, "sigma": 2},
               "qn": {"distribution": "q_normal", "q": 0.5},
               "ln": {"distribution": "log_normal"}, "qln": {"distribution": "q_log_normal", "q": 2},
               "b": {"distribution": "beta", "a": 2, "b": 5}, "qb": {"distribution": "q_beta", "q": 0.1},
               "nest": {"parameters": {"deep": {"parameters": {"x": {"values": [[1, 2], [3]]}}}}}}}
    spec = check(doc)
    assert {p.name: p.kind for p in spec.params}["i"] == "int_uniform"
    assert {p.name: p.kind for p in spec.params}["u"] == "uniform"
    for _ in range(5):
        study = optuna.create_study(sampler=make_sampler(spec))
        config = suggest(study.ask(), spec)
        assert config["c"] == 1 and config["p"] in (1, 2) and 1 <= config["i"] <= 4
        assert config["qu"] % 2 == 0 and isinstance(config["qu"], int)
        assert 1e-5 <= config["lu"] <= 1e-1 and 1e-3 <= config["ilu"] <= 1.0
        assert config["ln"] > 0 and 0 <= config["b"] <= 1
        assert config["nest"]["deep"]["x"] in ([1, 2], [3])


def test_grid_points_follow_wandb() -> None:
    spec = check({"method": "grid", "parameters": {
        "a": {"values": [True, False]}, "i": {"min": 1, "max": 3},
        "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}, "k": {"value": 7}}})
    points = grid_points(spec)
    assert len(points) == 2 * 3 * 4  # q_uniform is numpy.arange(min, max, q): max excluded
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)


@pytest.mark.parametrize("text, phrase", [
    ("method: [grid", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    ("", "got empty"),
    ("method: grid\nparameters: {a: {values: [1]}}\n", None),
])
def test_parse_text(text: str, phrase: str | None) -> None:
    try:
        data, _ = parse_text(text)
        check(data)
        assert phrase is None
    except SweepConfigError as exc:
        assert phrase is not None and phrase in str(exc)


# --- the CLI -------------------------------------------------------------------------------


def test_cli_validate_valid_and_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = CORPUS / "wandb__sweeps__examples__nested-params__using-cli__sweep-nested.yaml"
    assert main(["sweep", "validate", str(good)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "valid: grid over 3 parameter(s) (8 points)" in out[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: grid\nmetric: {name: loss, goal: best}\nparameters:\n"
                   "  lr: {min: 0.1, max: 1.0}\n  opt:\n    parameters:\n      b: {min: 5, max: 1}\n")
    assert main(["sweep", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert any(":2: metric.goal:" in line for line in err)
    assert any("parameters.lr: grid search cannot enumerate uniform" in line for line in err)
    assert any(":7: parameters.opt.parameters.b.min" in line for line in err)
    assert main(["sweep", "validate", str(tmp_path / "missing.yaml")]) == 2
    capsys.readouterr()
    assert main(["sweep", "validate", str(bad), "--json"]) == 2
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] is False
    assert any(p["path"] == "metric.goal" and p["line"] == 2 for p in verdict["problems"])
    keras = CORPUS / "wandb__examples__keras-cnn-fashion__sweep-random-hyperband.yaml"
    assert main(["sweep", "validate", str(keras), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] and len(verdict["warnings"]) == 4
    # its `program` is not in the folder validate runs in: the fourth warning says so
    assert [w["path"] for w in verdict["warnings"]].count("program") == 1
    assert verdict["summary"].startswith("random over 7 parameter(s)")


# --- never a crash ---------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.sampled_from(["1e-5", "grid", "bayes", "hyperband", "uniform", "normal",
                                     "log_uniform", "categorical_w_probabilities", "minimize"]))
keys = st.sampled_from(["method", "metric", "parameters", "name", "goal", "target", "values",
                        "value", "min", "max", "distribution", "probabilities", "q", "mu", "sigma",
                        "a", "b", "early_terminate", "type", "min_iter", "max_iter", "s", "eta",
                        "command", "program", "run_cap", "lr", "x.y", "9bad"])
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_validate_never_crashes(doc: object) -> None:
    errors, warnings, spec = validate(doc)
    assert (spec is None) == bool(errors)
    if spec is not None:
        for p in errors + warnings:
            assert isinstance(str(p), str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_cli_validate_never_tracebacks(tmp_path_factory: pytest.TempPathFactory, doc: object) -> None:
    path = tmp_path_factory.mktemp("h") / "s.yaml"
    try:
        path.write_text(yaml.safe_dump(doc))
    except (yaml.YAMLError, ValueError):
        return
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["sweep", "validate", str(path)])
    assert code in (0, 2)
    assert "Traceback" not in err.getvalue()


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_verdict(text: str) -> None:
    """Any text is a spec or a list of one-line problems (a line number where there is one,
    kept as ``line``, never inside the message), never another exception."""
    try:
        data, lines = parse_text(text, "t.yaml")
        spec = check(data, "t.yaml", lines)
    except SweepConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message and "\n" not in str(problem)
            assert not re.search(r"YAML:\d", problem.message), problem.message
            assert problem.line is None or 1 <= problem.line <= text.count("\n") + 2
    else:
        assert spec.method in METHODS and isinstance(spec.params, list)


param_bodies = st.dictionaries(keys, documents, max_size=4)
sweeps = st.fixed_dictionaries(
    {"method": st.sampled_from(["grid", "random", "bayes", "custom", "ax"]),
     "parameters": st.dictionaries(st.sampled_from(["lr", "x.y", "opt", "9bad"]),
                                   st.one_of(param_bodies, st.fixed_dictionaries(
                                       {"parameters": st.dictionaries(keys, param_bodies, max_size=3)})),
                                   max_size=3)},
    optional={"metric": st.dictionaries(keys, scalars, max_size=3),
              "early_terminate": st.dictionaries(keys, scalars, max_size=4),
              "command": st.lists(scalars, max_size=4), "run_cap": scalars})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sweeps)
def test_structured_sweeps_never_crash_and_valid_ones_convert(doc: dict) -> None:
    errors, _, spec = validate(doc)
    if spec is not None and spec.method != "custom":
        _convert(spec)
    for p in errors:
        assert p.path == "" or p.path.split(".")[0].split("[")[0] in doc or p.path in (
            "method", "parameters", "metric")


def test_wandb_engine_offline_fails_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    good = CORPUS / "wandb__sweeps__examples__nested-params__using-cli__sweep-nested.yaml"
    assert main(["sweep", "run", str(good), "--engine", "wandb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs W&B online" in err[0] and "--engine local" in err[0]
    assert main(["sweep", "run", str(good), "--engine", "cloud"]) == 2
    assert "--engine must be one of auto, local, wandb" in capsys.readouterr().err


def test_auto_engine_is_local_when_not_logged_in() -> None:
    from wandbkit_sweeps.wandb_engine import choose_engine

    assert choose_engine("auto") == "local"


def test_run_refuses_a_command_it_cannot_build(tmp_path: Path, offline_env: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("method: grid\nparameters: {x: {values: [1]}}\n"
                    "command: [python, '--k=${envvar:WANDBKIT_TEST_UNSET}']\n")
    assert main(["sweep", "run", str(path), "--engine", "local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the command uses ${envvar:WANDBKIT_TEST_UNSET} but "
                   "WANDBKIT_TEST_UNSET is not set"]
    assert not (offline_env / "sweeps.db").exists()  # refused before any sweep was created
    path.write_text("method: grid\nparameters: {x: {values: [1]}}\n")
    assert main(["sweep", "run", str(path), "--engine", "local"]) == 2
    assert "neither `program` nor `command`" in capsys.readouterr().err
