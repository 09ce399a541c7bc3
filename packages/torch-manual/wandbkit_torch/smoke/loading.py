"""Resolve ``MODULE:FACTORY`` references given on the command line into Python callables.

MODULE is a dotted module path (``mypkg.models``) or a file path (``path/to/file.py``, relative
to the current directory). Every mistake becomes a :class:`wandbkit.errors.UserError` whose one
line says which option was wrong and what is allowed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from wandbkit.errors import UserError


def resolve_callable(ref: str, option: str) -> Callable[..., Any]:
    """Import ``MODULE:NAME`` and return the callable it names.

    :param ref: the reference, e.g. ``examples/smoke_models.py:healthy_mlp`` or ``pkg.mod:fn``.
    :param option: the option it came from (``--model``), used in error messages.
    """
    module_part, sep, attr = ref.rpartition(":")
    if not sep or not module_part or not attr:
        raise UserError(f"{option} {ref!r}: expected MODULE:FACTORY, "
                        f"e.g. examples/smoke_models.py:healthy_mlp or mypkg.models:make_model")
    module = _import(module_part, option)
    if not hasattr(module, attr):
        raise UserError(f"{option} {ref!r}: module {module_part!r} has no attribute {attr!r}; "
                        + callables_hint(module))
    obj = getattr(module, attr)
    if not callable(obj):
        raise UserError(f"{option} {ref!r}: {attr!r} is a {type(obj).__name__}, not callable")
    return obj


def callables_hint(module: ModuleType, limit: int = 12) -> str:
    """What a reference could name in ``module``: its own functions, then its own classes, then
    callables it imported (each list sorted, cut at ``limit``)."""
    functions, classes, imported = [], [], []
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") or not callable(value):
            continue
        own = getattr(value, "__module__", None) == module.__name__
        (imported if not own else classes if isinstance(value, type) else functions).append(name)
    parts = [f"{label} there: {', '.join(names[:limit])}{', ...' if len(names) > limit else ''}"
             for label, names in (("functions", functions), ("classes", classes),
                                  ("imported", imported)) if names]
    return "; ".join(parts) if parts else "it defines no callables"


def call_factory(factory: Callable[[], Any], option: str, label: str) -> Any:
    """Call a user factory with no arguments; an exception becomes a one-line UserError."""
    try:
        return factory()
    except UserError:
        raise
    except Exception as exc:  # the user's code: any error is a usage problem to report
        raise UserError(f"{option}: factory {label} raised {type(exc).__name__}: {exc}") from exc


def describe(obj: Any) -> str:
    """A short name for a callable in messages: ``module:qualname``."""
    mod = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    return f"{mod}:{name}"


def _is_path(module_part: str) -> bool:
    return module_part.endswith(".py") or "/" in module_part or "\\" in module_part


def _import(module_part: str, option: str) -> ModuleType:
    if _is_path(module_part):
        return _import_file(Path(module_part), option)
    # Console scripts do not put the current directory on sys.path; `python -m` does. Add it
    # so a dotted module next to the user resolves the same way in both.
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise UserError(f"{option}: cannot import module {module_part!r}: {exc}") from exc
    except Exception as exc:
        raise UserError(f"{option}: importing {module_part!r} raised "
                        f"{type(exc).__name__}: {exc}") from exc


def _import_file(path: Path, option: str) -> ModuleType:
    full = (Path.cwd() / path).resolve()
    if not full.is_file():
        raise UserError(f"{option}: file {str(path)!r} not found (looked for {full})")
    # One module object per file, under a name that cannot clash with an installed package.
    digest = hashlib.sha1(str(full).encode()).hexdigest()[:10]
    name = f"_wandbkit_smoke_{full.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise UserError(f"{option}: {str(path)!r} is not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserError(f"{option}: importing {str(path)!r} raised "
                        f"{type(exc).__name__}: {exc}") from exc
    return module
