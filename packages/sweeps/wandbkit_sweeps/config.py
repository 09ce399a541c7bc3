"""Read and validate a W&B sweep file, with W&B's own verdict.

The reference is W&B's open-source validator (``wandb/sweeps``: ``config/schema.json`` plus the
Python checks in ``config/cfg.py``, ``config/schema.py`` and the engines). Every rule here names
where it comes from; a few go further than W&B where W&B accepts a file and then fails while
running it (grid over a continuous range, hyperband with no band, bayes with no metric, a
fractional ``s``), or forgets a check (min/max and probabilities of nested parameters).

W&B reads YAML with PyYAML (YAML 1.1), so does this module: ``1e-5`` (no dot) is the string
``"1e-5"`` there. Where that string lands in a number field it is an error, as in W&B; where a
string is allowed (``values``) it is a warning that names the fix (``1.0e-5``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wandbkit.errors import UserError
from wandbkit.formatting import first_line

METHODS = ("grid", "random", "bayes", "custom")
RUNNABLE_METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# A number to YAML 1.2 that YAML 1.1 (PyYAML, W&B) reads as a string: an exponent, no dot.
YAML12_FLOAT = re.compile(r"^[-+]?(?:\d+)[eE][-+]?\d+$")

TOP_LEVEL_KEYS = ("apiVersion", "kind", "controller", "description", "program", "job", "image_uri",
                  "entity", "project", "method", "command", "name", "run_cap", "metric",
                  "early_terminate", "parameters")
METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
HYPERBAND_KEYS = ("type", "max_iter", "min_iter", "s", "eta", "strict")

# distribution -> (required keys, optional keys with W&B's defaults)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("value",), {}),
    "categorical": (("values",), {}),
    "categorical_w_probabilities": (("values", "probabilities"), {}),
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform_values": (("min", "max"), {}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "beta": ((), {"a": 1.0, "b": 1.0}),
    "q_beta": ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
# W&B's PARAM_DEPRECATION_MAP: min/max are base-e exponents there; the _values forms take limits.
DEPRECATED = {"log_uniform": "log_uniform_values", "inv_log_uniform": "inv_log_uniform_values",
              "q_log_uniform": "q_log_uniform_values"}
GRID_KINDS = ("constant", "categorical", "int_uniform", "q_uniform")  # W&B's grid engine


@dataclass(frozen=True)
class Problem:
    """One finding: ``path`` is the key path (``parameters.lr.min``), ``line`` 1-based or None."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "(top level)"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ParamSpec:
    """One searchable (or constant) parameter: its path in the nested config and its law."""

    path: tuple[str, ...]
    kind: str
    args: dict[str, Any]

    @property
    def name(self) -> str:
        """The parameter's name in the Optuna study: nested keys joined by ``/`` (a character
        W&B's name pattern never allows, so it cannot collide)."""
        return "/".join(self.path)


@dataclass
class SweepSpec:
    """A validated sweep file, ready to translate."""

    raw: dict[str, Any]
    method: str
    params: list[ParamSpec]
    metric_name: str | None = None
    goal: str = "minimize"
    target: float | None = None
    hyperband: dict[str, Any] | None = None
    program: str | None = None
    command: list[str] | None = None
    run_cap: int | None = None
    name: str | None = None
    project: str | None = None
    entity: str | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def searchable(self) -> list[ParamSpec]:
        """Parameters that vary (constants excluded)."""
        return [p for p in self.params if p.kind != "constant"]


class SweepConfigError(UserError):
    """A sweep file that W&B (or the local engine) would not run; ``problems`` lists why."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s)"] + [_located(source, p) for p in problems]
        super().__init__("\n".join(lines))


def _located(source: str, problem: Problem) -> str:
    line = f":{problem.line}" if problem.line else ""
    return f"{source}{line}: {problem}"


# --- reading --------------------------------------------------------------------------------


def read_text(path: str | Path) -> str:
    """The file's text; :class:`UserError` when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read sweep file {path}: {exc}") from exc


def parse_text(text: str, source: str = "<sweep>") -> tuple[Any, dict[str, int]]:
    """Parse YAML (JSON is YAML) the way W&B does (PyYAML ``safe_load``, YAML 1.1).

    Returns the document and a map from key path to line number, for messages.
    """
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or first_line(exc)
        # the line goes where every other problem keeps it (``file:LINE: ...``, JSON ``line``)
        raise SweepConfigError(source, [Problem("", f"not valid YAML: {problem}",
                                                mark.line + 1 if mark is not None else None)]
                               ) from exc
    except (RecursionError, ValueError, TypeError) as exc:  # PyYAML edge cases (huge nesting)
        raise SweepConfigError(source, [Problem("", f"cannot read the file: {first_line(exc)}")]
                               ) from exc
    lines: dict[str, int] = {}
    if node is not None:
        _index_lines(node, "", lines)
    return data, lines


def _index_lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            path = f"{prefix}.{name}" if prefix else name
            out.setdefault(path, key.start_mark.line + 1)
            _index_lines(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, f"{prefix}[{i}]", out)


def load_sweep(source: str | Path | dict[str, Any], *, check_program: bool = False) -> SweepSpec:
    """Read a sweep file (YAML or JSON) or take a dict, validate it, return the spec.

    ``check_program``: also warn when ``program`` names no file in the current folder (where
    an agent started here runs it).

    :raises SweepConfigError: listing every problem with its key path (and line).
    """
    if isinstance(source, dict):
        return check(source, "<sweep>")
    text = read_text(source)
    data, lines = parse_text(text, str(source))
    spec = check(data, str(source), lines)
    missing = program_warning(spec, Path.cwd()) if check_program else None
    if missing is not None:
        spec.warnings.append(_with_line(missing, lines))
    return spec


def program_warning(spec: SweepSpec, cwd: Path) -> Problem | None:
    """A warning when ``program`` names no file where an agent started in ``cwd`` runs it (W&B's
    agents run it from the folder they start in); None when it exists or there is none."""
    if not isinstance(spec.program, str) or not spec.program.strip():
        return None
    if (cwd / Path(spec.program).expanduser()).is_file():
        return None
    return Problem("program", f"{spec.program!r} names no file in {cwd} (agents run it from the "
                              "folder they start in): every trial would fail")


def check(data: Any, source: str = "<sweep>", lines: dict[str, int] | None = None) -> SweepSpec:
    """Validate a parsed document; return the spec or raise :class:`SweepConfigError`."""
    errors, warnings, spec = validate(data)
    if lines:
        errors = [_with_line(p, lines) for p in errors]
        warnings = [_with_line(p, lines) for p in warnings]
    if errors or spec is None:
        raise SweepConfigError(source, errors or [Problem("", "not a sweep configuration")])
    spec.warnings = warnings
    return spec


def _with_line(problem: Problem, lines: dict[str, int]) -> Problem:
    path = problem.path
    while path:
        if path in lines:
            return Problem(problem.path, problem.message, lines[path])
        path = path.rsplit(".", 1)[0] if "." in path else ""
    return problem


# --- validating -----------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def number(self, path: str, value: Any, *, integer: bool = False) -> bool:
        if (_is_int(value) if integer else _is_number(value)) and not (
                isinstance(value, float) and not math.isfinite(value)):
            return True
        wanted = "an integer" if integer else "a number"
        if isinstance(value, str) and YAML12_FLOAT.match(value.strip()):
            mantissa, _, exponent = value.strip().lower().partition("e")
            self.error(path, f"must be {wanted}, got the string {value!r}: YAML 1.1 loaders "
                       f"(W&B's among them) read an exponent without a dot as a string; "
                       f"write {mantissa}.0e{exponent}")
        else:
            self.error(path, f"must be {wanted}, got {_show(value)}")
        return False

    def string(self, path: str, value: Any) -> bool:
        if isinstance(value, str):
            return True
        self.error(path, f"must be a string, got {_show(value)}")
        return False


def validate(data: Any) -> tuple[list[Problem], list[Problem], SweepSpec | None]:
    """Every problem and warning in ``data``, and the spec when there is no problem.

    Never raises for any input (property-tested): malformed input is a problem, not a crash.
    """
    c = _Checker()
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        c.error("", f"a sweep configuration must be a mapping of keys, got {kind}")
        return c.errors, c.warnings, None
    for key in data:
        if not isinstance(key, str) or key not in TOP_LEVEL_KEYS:
            c.error(str(key), _unknown_top_level(key))
    method = data.get("method")
    if "method" not in data:
        c.error("method", f"is required: one of {', '.join(METHODS)}")
    elif method not in METHODS:
        c.error("method", f"must be one of {', '.join(METHODS)}, got {_show(method)}")
    metric = _check_metric(c, data.get("metric")) if "metric" in data else None
    params: list[ParamSpec] = []
    if "parameters" not in data:
        c.error("parameters", "is required: a mapping of parameter names to their values or laws")
    else:
        _check_parameters(c, data["parameters"], "parameters", (), params)
    hyperband = None
    if "early_terminate" in data:
        hyperband = _check_early_terminate(c, data["early_terminate"])
        if hyperband is not None and metric is None:
            c.error("early_terminate", "hyperband needs a `metric` to compare runs by")
    for key in ("description", "program", "job", "image_uri", "entity", "project", "name",
                "apiVersion"):
        if key in data:
            c.string(key, data[key])
    if "kind" in data and data["kind"] != "sweep":
        c.error("kind", f"must be 'sweep', got {_show(data['kind'])}")
    if "controller" in data:
        _check_controller(c, data["controller"])
    command = _check_command(c, data["command"]) if "command" in data else None
    run_cap = data.get("run_cap")
    if "run_cap" in data and c.number("run_cap", run_cap, integer=True) and run_cap <= 0:
        c.error("run_cap", f"must be greater than 0, got {run_cap}")
    if method == "grid":
        for p in params:
            if p.kind not in GRID_KINDS:
                c.error("parameters." + ".parameters.".join(p.path),
                        f"grid search cannot enumerate {p.kind}: use values, value, int_uniform "
                        f"or q_uniform (W&B's grid engine refuses it at run time)")
    if method == "bayes" and metric is None and "metric" not in data:
        c.error("metric", "bayes search needs a metric to model (W&B's bayes engine refuses "
                "to run without one)")
    if c.errors:
        return c.errors, c.warnings, None
    spec = SweepSpec(
        raw=data, method=method, params=params,
        metric_name=metric["name"] if metric else None,
        goal=metric.get("goal", "minimize") if metric else "minimize",
        target=metric.get("target") if metric else None,
        hyperband=hyperband, program=data.get("program"), command=command,
        run_cap=run_cap, name=data.get("name"), project=data.get("project"),
        entity=data.get("entity"))
    return c.errors, c.warnings, spec


def _unknown_top_level(key: Any) -> str:
    hints = {
        "scheduler": "`scheduler` belongs to `wandb launch-sweep` (W&B Launch), not to sweep files "
                     "that `wandb sweep` or wandbkit run",
        "metrics": "multi-objective `metrics` needs a custom W&B Launch scheduler; use one `metric`",
        "metric_constraints": "`metric_constraints` is not a W&B sweep key",
        "tune": "`tune` is the retired Ray Tune format: write `method` and `parameters` instead",
    }
    allowed = ", ".join(TOP_LEVEL_KEYS)
    return f"unknown key: {hints.get(key, f'allowed keys are {allowed}')}" if isinstance(key, str) \
        else f"keys must be strings, got {_show(key)}"


def _check_metric(c: _Checker, metric: Any) -> dict[str, Any] | None:
    if not isinstance(metric, dict):
        c.error("metric", f"must be a mapping with `name` (and `goal`, `target`), got {_show(metric)}")
        return None
    ok = True
    for key in metric:
        if key not in METRIC_KEYS:
            c.error(f"metric.{key}", f"unknown key: allowed keys are {', '.join(METRIC_KEYS)}")
            ok = False
    if "name" not in metric:
        c.error("metric.name", "is required: the logged key to optimise")
        ok = False
    elif not c.string("metric.name", metric["name"]):
        ok = False
    if "goal" in metric and metric["goal"] not in GOALS:
        c.error("metric.goal", f"must be minimize or maximize, got {_show(metric['goal'])}")
        ok = False
    if "target" in metric and not c.number("metric.target", metric["target"]):
        ok = False
    for key, allowed in (("impute", ("latest", "best", "worst")),
                         ("impute_while_running", ("latest", "best", "worst", "false"))):
        if key in metric and metric[key] not in allowed:
            c.error(f"metric.{key}", f"must be one of {', '.join(allowed)}, got {_show(metric[key])}")
            ok = False
    return metric if ok else None


def _check_parameters(c: _Checker, params: Any, path: str, prefix: tuple[str, ...],
                      out: list[ParamSpec]) -> None:
    if not isinstance(params, dict):
        c.error(path, f"must be a mapping of parameter names to settings, got {_show(params)}")
        return
    if not params:
        c.error(path, "must name at least one parameter")
        return
    for name, body in params.items():
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            c.error(f"{path}.{name}", "parameter names must start with a letter or _ and hold only "
                    "letters, digits, _, . and - (W&B's pattern ^[A-Za-z_][A-Za-z0-9_.-]*$)")
            continue
        _check_parameter(c, body, f"{path}.{name}", prefix + (name,), out)


def _check_parameter(c: _Checker, body: Any, path: str, key: tuple[str, ...],
                     out: list[ParamSpec]) -> None:
    if not isinstance(body, dict):
        c.error(path, f"must be a mapping such as {{values: [...]}} or {{min: 0, max: 1}}, "
                f"got {_show(body)}")
        return
    if "parameters" in body:
        extra = sorted(str(k) for k in body if k != "parameters")
        if extra:
            c.error(path, f"a nested parameter holds only `parameters`, found also {', '.join(extra)}")
            return
        _check_parameters(c, body["parameters"], f"{path}.parameters", key, out)
        return
    kind = _distribution_of(c, body, path)
    if kind is None:
        return
    required, optional = DISTRIBUTIONS[kind]
    allowed = set(required) | set(optional) | {"distribution"}
    bad = False
    for k in body:
        if k not in allowed:
            c.error(f"{path}.{k}", f"not a setting of {kind}: allowed are "
                    f"{', '.join(sorted(allowed))}")
            bad = True
    for k in required:
        if k not in body:
            c.error(f"{path}.{k}", f"is required for {kind}")
            bad = True
    if bad:
        return
    args = {**optional, **{k: v for k, v in body.items() if k != "distribution"}}
    if _check_args(c, kind, args, path):
        out.append(ParamSpec(key, kind, args))


def _distribution_of(c: _Checker, body: dict[str, Any], path: str) -> str | None:
    """The distribution W&B would pick: explicit, else inferred as its schema's anyOf does."""
    if "distribution" in body:
        dist = body["distribution"]
        if not isinstance(dist, str):
            c.error(f"{path}.distribution", f"must be the name of a distribution, got {_show(dist)}")
            return None
        if dist in DEPRECATED:
            c.error(f"{path}.distribution", _deprecation(dist, body))
            return None
        if dist not in DISTRIBUTIONS:
            c.error(f"{path}.distribution", f"unknown distribution {_show(dist)}: one of "
                    f"{', '.join(DISTRIBUTIONS)}")
            return None
        if dist == "categorical" and "probabilities" in body:
            c.error(f"{path}.probabilities", "probabilities need `distribution: "
                    "categorical_w_probabilities` (or no distribution)")
            return None
        return dist
    if "value" in body:
        return "constant"
    if "values" in body:
        return "categorical_w_probabilities" if "probabilities" in body else "categorical"
    if "min" in body or "max" in body:
        lo, hi = body.get("min"), body.get("max")
        if _is_int(lo) and _is_int(hi):
            return "int_uniform"
        if _is_number(lo) and _is_number(hi):
            return "uniform"
        for k in ("min", "max"):
            if k not in body:
                c.error(f"{path}.{k}", "is required with a range (min and max)")
            else:
                c.number(f"{path}.{k}", body[k])
        return None
    c.error(path, "say what to sample: `value`, `values`, `min`/`max`, or a `distribution`")
    return None


def _deprecation(dist: str, body: dict[str, Any]) -> str:
    new = DEPRECATED[dist]
    message = (f"{dist} is deprecated and W&B rejects it (its min/max are base-e exponents): use "
               f"`distribution: {new}` with the limits themselves")
    lo, hi = body.get("min"), body.get("max")
    if _is_number(lo) and _is_number(hi) and abs(lo) < 700 and abs(hi) < 700:
        if dist == "inv_log_uniform":  # W&B: exp(-U(min, max)), i.e. limits e^-max .. e^-min
            lo, hi = -hi, -lo
        message += f", here min: {math.exp(lo):.6g} and max: {math.exp(hi):.6g}"
    return message


def _check_args(c: _Checker, kind: str, args: dict[str, Any], path: str) -> bool:
    before = len(c.errors)
    if kind == "categorical" or kind == "categorical_w_probabilities":
        values = args["values"]
        if not isinstance(values, list) or not values:
            c.error(f"{path}.values", f"must be a non-empty list, got {_show(values)}")
        else:
            for i, v in enumerate(values):
                if isinstance(v, str) and YAML12_FLOAT.match(v.strip()):
                    mantissa, _, exponent = v.strip().lower().partition("e")
                    c.warn(f"{path}.values[{i}]", f"{v!r} is a string to YAML 1.1 loaders "
                           f"(W&B's among them), so runs receive the text {v!r}; write "
                           f"{mantissa}.0e{exponent} for a number")
        if kind == "categorical_w_probabilities":
            probs = args["probabilities"]
            if not isinstance(probs, list) or not probs:
                c.error(f"{path}.probabilities", f"must be a non-empty list, got {_show(probs)}")
            else:
                good = True
                for i, p in enumerate(probs):
                    if not c.number(f"{path}.probabilities[{i}]", p):
                        good = False
                    elif p < 0:
                        c.error(f"{path}.probabilities[{i}]", f"must be at least 0, got {p}")
                        good = False
                if good and isinstance(values, list) and len(values) != len(probs):
                    c.error(f"{path}.probabilities", f"has {len(probs)} entries for "
                            f"{len(values)} values: give one probability per value")
                elif good and not math.isclose(sum(probs), 1.0, rel_tol=1e-5, abs_tol=1e-8):
                    c.error(f"{path}.probabilities", f"must sum to 1, they sum to {sum(probs):.6g}")
    elif kind in ("int_uniform", "uniform", "q_uniform", "log_uniform_values",
                  "inv_log_uniform_values", "q_log_uniform_values"):
        integer = kind == "int_uniform"
        ok_lo = c.number(f"{path}.min", args["min"], integer=integer)
        ok_hi = c.number(f"{path}.max", args["max"], integer=integer)
        if ok_lo and ok_hi and args["min"] >= args["max"]:
            c.error(f"{path}.min", f"min {args['min']} must be less than max {args['max']}")
        if kind.endswith("_values") and ok_lo and args["min"] <= 0:
            c.error(f"{path}.min", f"must be greater than 0 for {kind}, got {args['min']}")
    if kind in ("normal", "q_normal", "log_normal", "q_log_normal"):
        c.number(f"{path}.mu", args["mu"])
        if c.number(f"{path}.sigma", args["sigma"]) and args["sigma"] < 0:
            c.error(f"{path}.sigma", f"must be at least 0, got {args['sigma']}")
    if kind in ("beta", "q_beta"):
        for k in ("a", "b"):
            if c.number(f"{path}.{k}", args[k]) and args[k] < 0:
                c.error(f"{path}.{k}", f"must be at least 0, got {args[k]}")
    if "q" in args and c.number(f"{path}.q", args["q"]) and args["q"] <= 0:
        c.error(f"{path}.q", f"must be greater than 0, got {args['q']}")
    return len(c.errors) == before


def _check_early_terminate(c: _Checker, et: Any) -> dict[str, Any] | None:
    path = "early_terminate"
    if not isinstance(et, dict):
        c.error(path, f"must be a mapping with `type: hyperband`, got {_show(et)}")
        return None
    before = len(c.errors)
    for key in et:
        if key not in HYPERBAND_KEYS:
            c.error(f"{path}.{key}", f"unknown key: allowed keys are {', '.join(HYPERBAND_KEYS)}")
    if et.get("type") != "hyperband":
        c.error(f"{path}.type", f"must be hyperband, got {_show(et.get('type'))}")
    eta = et.get("eta", 3)
    if c.number(f"{path}.eta", eta) and eta <= 1:
        c.error(f"{path}.eta", f"must be greater than 1, got {eta}")
    if "strict" in et and not isinstance(et["strict"], bool):
        c.error(f"{path}.strict", f"must be true or false, got {_show(et['strict'])}")
    has_max = "max_iter" in et and "s" in et
    if not has_max and "min_iter" not in et:
        c.error(path, "hyperband needs `max_iter` with `s`, or `min_iter`")
    if "min_iter" in et and c.number(f"{path}.min_iter", et["min_iter"], integer=True) \
            and et["min_iter"] < 1:
        c.error(f"{path}.min_iter", f"must be at least 1, got {et['min_iter']}")
    if "max_iter" in et:
        c.number(f"{path}.max_iter", et["max_iter"], integer=True)
    if "s" in et:
        # W&B's schema says number, but its engine runs range(s): a fraction crashes it
        if c.number(f"{path}.s", et["s"], integer=True) and et["s"] < 1:
            c.error(f"{path}.s", f"must be at least 1, got {et['s']}")
    if len(c.errors) > before:
        return None
    out = {"eta": eta, "strict": et.get("strict", True)}
    if has_max:
        out.update(max_iter=et["max_iter"], s=et["s"])
        bands = hyperband_bands(out)
        if not bands:
            c.error(path, f"no hyperband band: max_iter {et['max_iter']} / eta {eta} is below 1; "
                    "increase max_iter or lower eta")
            return None
    else:
        out["min_iter"] = et["min_iter"]
    return out


def hyperband_bands(hyperband: dict[str, Any], limit: int = 100) -> list[int]:
    """The iterations at which W&B's hyperband compares runs, from a checked ``early_terminate``
    (its ``hyperband_stop_runs``): ``max_iter`` divided by ``eta`` up to ``s`` times while at
    least 1, ascending; or ``min_iter`` multiplied by ``eta``, ``limit`` bands (W&B makes 100).
    Each band is truncated to an integer as W&B does, from the running float product."""
    eta = hyperband["eta"]
    bands: list[int] = []
    if "max_iter" in hyperband:
        band: float = hyperband["max_iter"]
        for _ in range(int(hyperband["s"])):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    band = hyperband["min_iter"]
    for _ in range(limit):
        if isinstance(band, float) and not math.isfinite(band):
            break  # a float eta that overflows: no run reaches these bands anyway
        bands.append(int(band))
        band *= eta
    return bands


def _check_controller(c: _Checker, controller: Any) -> None:
    if not isinstance(controller, dict) or controller.get("type") not in ("local", "cloud"):
        c.error("controller", f"must be {{type: local}} or {{type: cloud}}, got {_show(controller)}")


def _check_command(c: _Checker, command: Any) -> list[str] | None:
    if not isinstance(command, list):
        c.error("command", f"must be a list of arguments, got {_show(command)}")
        return None
    out = []
    for i, item in enumerate(command):
        if isinstance(item, (dict, list)) or item is None:
            c.error(f"command[{i}]", f"must be a string, got {_show(item)}")
        else:
            out.append(item if isinstance(item, str) else str(item).lower()
                       if isinstance(item, bool) else str(item))
    return out


def iter_problems(source: str | Path | dict[str, Any]) -> Iterator[Problem]:
    """Errors then warnings for ``source``, without raising (for the CLI and tests)."""
    try:
        spec = load_sweep(source)
    except SweepConfigError as exc:
        yield from exc.problems
        return
    yield from spec.warnings
