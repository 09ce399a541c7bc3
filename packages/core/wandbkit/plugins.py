"""The plugin registry: one ``pluggy.PluginManager("wandbkit")``, loaded once per process.

Built-in pieces (the two sinks, the core commands) are registered as plugins through the same
hooks as outside ones. Outside plugins come from the entry-point group ``wandbkit``.

Environment:
- ``WANDBKIT_PLUGINS=a,b`` loads only these entry points (empty: none); built-ins always load.
- ``WANDBKIT_TRACE_PLUGINS=1`` prints every hook call and its result to stderr.
- ``WANDBKIT_STRICT=1`` turns a plugin that fails to load or raises in a hook into an error.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from wandbkit import hookspecs
from wandbkit.console import warn, warn_once
from wandbkit.errors import PluginError, RunFailure

GROUP = "wandbkit"
DEFAULT_PLUGINS = {
    "store": "wandbkit.default_plugins.local_store",
    "wandb": "wandbkit.default_plugins.wandb_sink",
    "core-commands": "wandbkit.default_plugins.commands",
}


@dataclass
class PluginInfo:
    """What ``wandbkit plugins`` shows for one plugin.

    The distribution's name and version are read only when asked for: reading them parses
    package metadata, which would otherwise add milliseconds to every ``wandbkit.init``.
    """

    name: str
    hooks: list[str] = field(default_factory=list)
    status: str = "ok"
    builtin: bool = False
    entry_point: md.EntryPoint | None = None

    @property
    def distribution(self) -> str:
        """The installed distribution that provides the plugin."""
        if self.builtin:
            return "wandbkit"
        dist = self.entry_point.dist if self.entry_point else None
        return dist.name if dist else "(registered at run time)"

    @property
    def version(self) -> str:
        """The distribution's version."""
        if self.builtin:
            from wandbkit import __version__

            return __version__
        dist = self.entry_point.dist if self.entry_point else None
        return dist.version if dist else "-"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "hooks": self.hooks, "status": self.status, "builtin": self.builtin}


_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}


def strict() -> bool:
    """True when ``WANDBKIT_STRICT`` asks for plugin failures to be errors."""
    return os.environ.get("WANDBKIT_STRICT", "").strip().lower() in ("1", "true", "yes")


def report_failure(what: str, exc: BaseException, scope: str | None = None) -> None:
    """Report a plugin/sink failure once per run (``scope``, else the thread's; see
    :func:`wandbkit.console.warn_once`), or raise under ``WANDBKIT_STRICT=1``."""
    if strict():
        raise PluginError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    if warn_once(what, f"{what} failed: {type(exc).__name__}: {exc} (reported once per run; the "
                       "rest keep working; WANDBKIT_STRICT=1 makes this an error)", scope):
        if os.environ.get("WANDBKIT_DEBUG"):
            traceback.print_exception(exc, file=sys.stderr)


def _allowed_entry_points() -> set[str] | None:
    raw = os.environ.get("WANDBKIT_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in (pm.get_hookcallers(plugin) or []))


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register and validate one plugin; on failure leave the manager as it was."""
    pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pm.unregister(plugin)
        raise


def _load() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    for name, module_name in DEFAULT_PLUGINS.items():
        module = importlib.import_module(module_name)
        _register(pm, module, name)
        _infos[name] = PluginInfo(name, _hooks_of(pm, module), builtin=True)

    allowed = _allowed_entry_points()
    for ep in md.entry_points(group=GROUP):
        if ep.name in _infos:
            continue  # the same entry point seen twice on sys.path
        info = PluginInfo(ep.name, entry_point=ep)
        if allowed is not None and ep.name not in allowed and info.distribution not in allowed:
            continue
        try:
            plugin = ep.load()
            _register(pm, plugin, ep.name)
            info.hooks = _hooks_of(pm, plugin)
        except Exception as exc:
            info.status = f"broken: {type(exc).__name__}: {exc}"
            _infos[ep.name] = info
            report_failure(f"plugin {ep.name} ({info.distribution} {info.version})", exc)
            continue
        _infos[ep.name] = info

    if os.environ.get("WANDBKIT_TRACE_PLUGINS", "").strip() not in ("", "0"):
        _trace(pm)
    return pm


def _trace(pm: pluggy.PluginManager) -> None:
    def before(hook_name: str, impls: list[Any], kwargs: dict[str, Any]) -> None:
        names = ", ".join(impl.plugin_name for impl in impls)
        print(f"wandbkit trace: {hook_name}({', '.join(kwargs)}) -> [{names}]", file=sys.stderr)

    def after(outcome: Any, hook_name: str, impls: list[Any], kwargs: dict[str, Any]) -> None:
        exc = outcome.exception
        result = f"raised {exc!r}" if exc else f"returned {outcome.get_result()!r}"[:200]
        print(f"wandbkit trace: {hook_name} {result}", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, loading plugins on first use."""
    global _pm
    if _pm is None:
        with _lock:
            if _pm is None:
                _pm = _load()
    return _pm


def reset_plugins() -> None:
    """Forget loaded plugins so the next use loads them again (after installing one, in tests)."""
    global _pm
    with _lock:
        _pm = None
        _infos.clear()


def plugin_infos() -> list[PluginInfo]:
    """Every known plugin, working or broken, including ones registered after loading."""
    pm = get_plugin_manager()
    with _lock:
        infos = dict(_infos)
    for name, plugin in pm.list_name_plugin():
        if name not in infos:
            infos[name] = PluginInfo(name, _hooks_of(pm, plugin))
        else:
            infos[name].hooks = _hooks_of(pm, plugin)
    return sorted(infos.values(), key=lambda i: (not i.builtin, i.name))


def call_each(hook_name: str, **kwargs: Any) -> list[Any]:
    """Call every implementation of a hook, isolating failures.

    Unlike a plain pluggy call, one plugin that raises does not stop the others: it is
    reported once and skipped (``WANDBKIT_STRICT=1``: :class:`PluginError` is raised).
    Returns the non-None results.
    """
    pm = get_plugin_manager()
    hook = getattr(pm.hook, hook_name)
    tracing = os.environ.get("WANDBKIT_TRACE_PLUGINS", "").strip() not in ("", "0")
    results = []
    for impl in reversed(hook.get_hookimpls()):  # pluggy's calling order
        if impl.hookwrapper or impl.wrapper:
            continue
        if tracing:
            print(f"wandbkit trace: {hook_name} -> {impl.plugin_name}", file=sys.stderr)
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except RunFailure as exc:  # the plugin says the run failed: not a plugin failure
            _fail_run(kwargs.get("run"), impl.plugin_name, exc)
            continue
        except Exception as exc:
            report_failure(f"plugin {impl.plugin_name} in {hook_name}", exc,
                           getattr(kwargs.get("run"), "id", None))
            continue
        if result is not None:
            results.append(result)
    return results


def _fail_run(run: Any, plugin: str, exc: RunFailure) -> None:
    """Record on ``run`` that it failed, and why (the first reason wins), in one line."""
    if run is not None and getattr(run, "failure_reason", None) is None:
        run.failure_reason = f"{exc} (plugin {plugin})"
    warn(f"run {getattr(run, 'id', '?')} failed: {exc}")


def collect(hook_name: str, **kwargs: Any) -> list[Any]:
    """Call a ``register``-style hook and return everything the plugins registered."""
    items: list[Any] = []
    call_each(hook_name, register=items.append, **kwargs)
    return items

