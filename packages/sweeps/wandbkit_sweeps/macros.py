"""The ``command`` of a sweep file, expanded as W&B's agent does.

Macros: ``${env}`` (``/usr/bin/env``), ``${interpreter}`` (this Python, so trials run in the
agent's environment; W&B writes ``python``), ``${program}``, ``${args}`` (``--name=value``),
``${args_no_hyphens}`` (``name=value``, for Hydra), ``${args_no_boolean_flags}`` (``--flag`` for
true, nothing for false), ``${args_json}`` (one JSON argument), ``${args_json_file}`` (the path
of a JSON file holding the parameters) and ``${envvar:NAME}`` (an environment variable, inside
any argument). Without ``command``: ``${env} ${interpreter} ${program} ${args}``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wandbkit.errors import UserError

DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
_ENVVAR = re.compile(r"\$\{envvar:([A-Za-z_][A-Za-z0-9_]*)\}")


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def expand(command: list[str] | None, program: str | None, params: Mapping[str, Any], *,
           json_file: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """The argv for one trial. ``params`` is the run config (nested values become JSON).

    :raises UserError: for ``${program}`` without ``program``, or an unset ``${envvar:NAME}``.
    """
    env = os.environ if environ is None else environ
    argv: list[str] = []
    for item in command or DEFAULT_COMMAND:
        if item == "${env}":
            if os.name != "nt":
                argv.append("/usr/bin/env")
        elif item in ("${interpreter}", "${python}"):
            argv.append(sys.executable)
        elif item == "${program}":
            if not program:
                raise UserError("the command uses ${program} but the sweep file has no `program`")
            argv.append(program)
        elif item == "${args}":
            argv += [f"--{k}={_text(v)}" for k, v in params.items()]
        elif item == "${args_no_hyphens}":
            argv += [f"{k}={_text(v)}" for k, v in params.items()]
        elif item == "${args_no_boolean_flags}":
            for k, v in params.items():
                if v is True:
                    argv.append(f"--{k}")
                elif v is not False:
                    argv.append(f"--{k}={_text(v)}")
        elif item == "${args_json}":
            argv.append(json.dumps(dict(params)))
        elif item == "${args_json_file}":
            json_file.write_text(json.dumps(dict(params)), encoding="utf-8")
            argv.append(str(json_file))
        else:
            argv.append(_ENVVAR.sub(lambda m: _envvar(m.group(1), env), item))
    return argv


def _envvar(name: str, env: Mapping[str, str]) -> str:
    if name not in env:
        raise UserError(f"the command uses ${{envvar:{name}}} but {name} is not set")
    return env[name]


def check_command(command: list[str] | None, program: str | None) -> None:
    """Raise :class:`UserError` now if the command cannot be built (no ``program`` for
    ``${program}``, an unset ``${envvar:NAME}``), before any trial starts."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        expand(command, program, {}, json_file=Path(tmp) / "check.json")
