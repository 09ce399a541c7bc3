"""``wandbkit dashboard``: a Gradio app assembled from every installed plugin's panels.

Offline and private by default: analytics off, no share links, bound to 127.0.0.1; a host
other than loopback needs ``--auth`` (or ``--insecure``). The file route serves the store's
media files only (never its database, checkpoints or W&B folders), and a request whose ``Host``
is not the address the dashboard is bound to is refused (a DNS-rebinding page cannot read it).
What the file route serves is a sandboxed document: a logged HTML page opened from it runs no
script.
"""

from __future__ import annotations

import ipaddress
import os
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before gradio is imported: no outside lookups (analytics, the Hub) from the dashboard.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from wandbkit.errors import UserError  # noqa: E402
from wandbkit.formatting import first_line  # noqa: E402
from wandbkit.panels import DashboardContext, Panel, collect_panels  # noqa: E402
from wandbkit.store import DB_NAME, Store  # noqa: E402
from wandbkit_gradio.downsample import DEFAULT_MAX_POINTS, minmax_lttb  # noqa: E402
from wandbkit_gradio.embed import escape, message_html  # noqa: E402

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSS = """
.wandbkit-error pre { white-space: pre-wrap; font-size: 0.8em }
#wandbkit-media-image img { width: 100%; height: 100%; object-fit: contain;
                            image-rendering: pixelated }
"""


def is_local_host(host: str) -> bool:
    """True for loopback names and addresses (only this machine can connect)."""
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``USER:PASS`` into a pair.

    :raises UserError: when the user or the password is empty, or the colon is missing.
    """
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise UserError("--auth must be USER:PASS with a non-empty user and password")
    return user, password


def check_exposure(host: str, auth: tuple[str, str] | None, insecure: bool) -> str | None:
    """Refuse to serve the store to the network without a password.

    :returns: a warning to print for ``--insecure`` on a non-local host, else None.
    :raises UserError: for a non-local host with neither ``--auth`` nor ``--insecure``.
    """
    if is_local_host(host) or auth is not None:
        return None
    if not insecure:
        raise UserError(f"--host {host} lets other machines read your runs: add --auth USER:PASS "
                        "(or --insecure to serve without a password)")
    return (f"warning: serving the dashboard on {host} without a password (--insecure): anyone "
            "who can reach this port can read every run in the store")


def allowed_hosts(host: str) -> set[str] | None:
    """The ``Host`` names a request may carry for a dashboard bound to ``host``: for loopback,
    the loopback names only (a page on another site that rebinds its DNS name to 127.0.0.1
    sends its own name and is refused); for one address, that address and this machine's
    names; None (any) for a wildcard bind (0.0.0.0, ::), which needs ``--auth`` anyway."""
    if host in ("0.0.0.0", "::", ""):
        return None
    if is_local_host(host):
        return {"127.0.0.1", "localhost", "::1", host.lower()}
    import socket

    return {host.lower(), socket.gethostname().lower(), socket.getfqdn().lower(), "127.0.0.1",
            "localhost"}


def host_of(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:7860`` -> ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """ASGI middleware: answer 421 to a request whose ``Host`` is not one of ``allowed``."""

    def __init__(self, app: Any, allowed: set[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.allowed is not None and scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            name = host_of(headers.get(b"host", b"").decode("latin-1"))
            if name not in self.allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b"Host not allowed: open the dashboard at the address it printed\n"
                await send({"type": "http.response.start", "status": 421,
                            "headers": [(b"content-type", b"text/plain"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


FILE_ROUTES = (b"/gradio_api/file=", b"/file=")
SANDBOX_HEADERS = [(b"content-security-policy", b"sandbox"), (b"x-content-type-options", b"nosniff")]


class SandboxFiles:
    """ASGI middleware: every answer of the file route is a sandboxed document.

    A logged ``wandb.Html`` page (a table cell links to it) opened from the file route would
    otherwise run its scripts in the dashboard's origin, with the dashboard's API at hand;
    ``Content-Security-Policy: sandbox`` gives it an opaque origin and no scripts. Images and
    files fetched by the page are not affected.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("raw_path") or scope.get("path", "").encode("latin-1", "replace")
        if scope["type"] != "http" or not any(route in path for route in FILE_ROUTES):
            await self.app(scope, receive, send)
            return

        async def sandboxed(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {n for n, _ in SANDBOX_HEADERS}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": [*kept, *SANDBOX_HEADERS]}
            await send(message)

        await self.app(scope, receive, sandboxed)


def served_paths(store_root: Path) -> tuple[list[str], list[str]]:
    """``(allowed, blocked)`` for gradio's file route: the store's media folder only; the
    database (and its WAL files), checkpoints, W&B folders and everything else in the store
    are blocked, blocking winning over allowing."""
    root = store_root.resolve()
    media = root / "media"
    blocked = [str(p) for p in sorted(root.iterdir()) if p.name != "media"] if root.is_dir() else []
    blocked += [str(root / f"{DB_NAME}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    return [str(media)], sorted(set(blocked))


def error_box(panel: Panel, exc: BaseException) -> str:
    """The HTML shown in a tab whose build raised: what failed and the traceback's tail."""
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    return (f'<div class="wandbkit-error" role="alert" style="background:#fef2f2;color:#991b1b;'
            f'padding:1em;border-radius:6px"><b>The {escape(panel.title)} tab failed to build'
            f"</b> ({escape(getattr(panel.build, '__module__', '?'))}): "
            f"{escape(type(exc).__name__)}: {escape(exc)}<pre>{escape(tail)}</pre>"
            "The other tabs work; report this to the plugin's authors.</div>")


@dataclass
class Dashboard:
    """The built app and what it was built from."""

    blocks: gr.Blocks
    context: DashboardContext
    panels: list[Panel]
    failed: dict[str, str]


def build_app(store_dir: str | Path | None = None, *, project: str | None = None,
              refresh_s: float = 5.0, max_points: int = DEFAULT_MAX_POINTS,
              panels: list[Panel] | None = None, title: str = "wandbkit") -> Dashboard:
    """Build the dashboard (not launched).

    :param store_dir: the local store (default ``$WANDBKIT_DIR`` or ``./wandbkit-runs``).
    :param project: show only this project's runs.
    :param refresh_s: auto-refresh interval for live runs; 0 turns it off.
    :param max_points: the most points drawn per series.
    :param panels: the tabs (default: every installed plugin's, :func:`collect_panels`).
    :raises UserError: when there is no store at ``store_dir``.
    """
    store = Store.open(store_dir, readonly=True)  # the dashboard only reads: never a write
    ctx = DashboardContext(store=store, project=project, refresh_s=refresh_s,
                           max_points=max_points, downsample=minmax_lttb)
    panels = collect_panels() if panels is None else panels
    failed: dict[str, str] = {}
    with gr.Blocks(title=f"{title} dashboard", analytics_enabled=False) as blocks:
        runs = ctx.runs()
        where = f"project {project}" if project else "all projects"
        gr.HTML(f'<div style="display:flex;gap:1em;align-items:baseline"><h2 style="margin:0">'
                f"{escape(title)} dashboard</h2><span>{escape(store.root)} · {escape(where)} · "
                f"{len(runs)} run(s)</span></div>")
        if not runs:
            gr.HTML(message_html(f"No runs in {store.root}{' for ' + project if project else ''} "
                                 "yet: log one with wandbkit.init(...), then reload this page."))
        ctx.selection = gr.State([r.id for r in runs[:1]])
        for panel in panels:
            with gr.Tab(panel.title):
                try:
                    panel.build(ctx)
                except Exception as exc:  # a plugin's broken tab must not take the app down
                    failed[panel.title] = f"{type(exc).__name__}: {exc}"
                    gr.HTML(error_box(panel, exc))
    return Dashboard(blocks, ctx, panels, failed)


def launch(dashboard: Dashboard, *, host: str = "127.0.0.1", port: int | None = None,
           auth: tuple[str, str] | None = None, insecure: bool = False,
           block: bool = True, quiet: bool = False) -> str:
    """Serve the dashboard and return its local URL.

    :param host: the address to bind (loopback by default).
    :param port: the port (default: the first free one from 7860).
    :param auth: ``(user, password)`` asked by the browser.
    :param insecure: allow a non-local host without ``auth`` (a warning is printed).
    :param block: wait until interrupted (the CLI) or return at once (tests, notebooks).
    :raises UserError: for a non-local host without auth or insecure, or a port in use.
    """
    from starlette.middleware import Middleware

    from wandbkit_gradio.workspace_tab import workspace_css

    message = check_exposure(host, auth, insecure)
    if message:
        warnings.warn(message, stacklevel=2)
    allowed, blocked = served_paths(dashboard.context.store_dir)
    dashboard.blocks.queue(default_concurrency_limit=4)
    try:
        dashboard.blocks.launch(
            server_name=host, server_port=port, auth=auth, share=False, prevent_thread_lock=True,
            quiet=quiet, inbrowser=False, show_error=True, allowed_paths=allowed,
            blocked_paths=blocked, css=CSS + workspace_css(), enable_monitoring=False,
            ssr_mode=False, pwa=False, mcp_server=False,
            app_kwargs={"middleware": [Middleware(HostCheck, allowed=allowed_hosts(host)),
                                        Middleware(SandboxFiles)]})
    except OSError as exc:
        where = f"port {port}" if port else "a free port from 7860"
        raise UserError(f"cannot serve the dashboard on {host} at {where}: "
                        f"{first_line(exc)} (pick another with --port)") from None
    url = dashboard.blocks.local_url or f"http://{host}:{port}/"
    if block:
        try:
            dashboard.blocks.block_thread()
        finally:
            dashboard.blocks.close()
    return url


def serve(store_dir: str | Path | None = None, **kwargs: Any) -> str:
    """Build and launch in one call (see :func:`build_app` and :func:`launch`)."""
    build_keys = {"project", "refresh_s", "max_points", "panels", "title"}
    dashboard = build_app(store_dir, **{k: v for k, v in kwargs.items() if k in build_keys})
    return launch(dashboard, **{k: v for k, v in kwargs.items() if k not in build_keys})
