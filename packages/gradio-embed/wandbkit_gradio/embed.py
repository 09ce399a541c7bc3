"""Safe W&B iframes: turn a run, project (workspace), sweep or report reference into HTML.

Only W&B's own hosts are accepted (wandb.ai, and the W&B server the user configured through
``WANDB_BASE_URL``/``WANDB_APP_URL`` or wandb's settings file). A reference is parsed into
validated parts and the URL is rebuilt from them, so nothing the user typed reaches the page
unescaped. W&B shows private projects only to a browser that is logged in to it, and reports
only when public or shared by link: the frame says so behind itself, so a refused or
unreachable page leaves that explanation visible instead of a blank frame.
"""

from __future__ import annotations

import configparser
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlparse

from wandbkit.errors import UserError
from wandbkit.panels import DashboardContext

escape = DashboardContext.escape

KINDS = ("run", "project", "sweep", "report")
DEFAULT_HEIGHT = 720
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_REPORT = re.compile(r"^[A-Za-z0-9_\-]*--[A-Za-z0-9_=\-]{4,200}$")
_LINK = re.compile(r"^[A-Za-z0-9_\-]{3,64}$")
_RUN_TABS = {"overview", "workspace", "logs", "files", "artifacts", "system", "charts", "model"}


@dataclass(frozen=True)
class WandbRef:
    """A validated W&B reference.

    :param kind: ``run``, ``project``, ``sweep``, ``report`` (or ``link``, a report's share link).
    :param host: the W&B app host (``wandb.ai`` or the configured server).
    :param scheme: ``https`` (``http`` only where the configured server uses it).
    :param entity: the user or team.
    :param project: the project (empty for a share link).
    :param id: run id, sweep id, report slug (``Title--Vmlldz...``) or share-link id.
    """

    kind: str
    host: str
    scheme: str
    entity: str
    project: str = ""
    id: str = ""

    @property
    def url(self) -> str:
        """The page's address, as W&B writes it."""
        base = f"{self.scheme}://{self.host}/{self.entity}"
        if self.kind == "link":
            return f"{self.scheme}://{self.host}/links/{self.entity}/{self.id}"
        if self.kind == "project":
            return f"{base}/{self.project}/workspace"
        section = {"run": "runs", "sweep": "sweeps", "report": "reports"}[self.kind]
        return f"{base}/{self.project}/{section}/{self.id}"

    def embed_url(self, jupyter: bool = True) -> str:
        """The address for an iframe: with ``?jupyter=true`` (W&B's embedded view: no page
        chrome, as ``wandb.Run.to_html`` uses) unless ``jupyter`` is False."""
        return self.url + ("?" + urlencode({"jupyter": "true"}) if jupyter else "")

    @property
    def label(self) -> str:
        """A short human name: ``run entity/project/id``."""
        parts = "/".join(p for p in (self.entity, self.project, self.id) if p)
        return f"{'report' if self.kind == 'link' else self.kind} {parts}"


def configured_base_urls() -> list[str]:
    """W&B servers the user configured: ``WANDB_BASE_URL``, ``WANDB_APP_URL`` and
    ``base_url`` in wandb's settings files (``$WANDB_CONFIG_DIR/settings``,
    ``~/.config/wandb/settings``, ``./wandb/settings``)."""
    urls = [os.environ.get("WANDB_BASE_URL", ""), os.environ.get("WANDB_APP_URL", "")]
    config_dir = os.environ.get("WANDB_CONFIG_DIR") or str(Path.home() / ".config" / "wandb")
    for path in (Path(config_dir) / "settings", Path.cwd() / "wandb" / "settings"):
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (OSError, configparser.Error):
            continue
        if parser.has_option("default", "base_url"):
            urls.append(parser.get("default", "base_url"))
    return [u.strip() for u in urls if u and u.strip()]


def allowed_hosts(base_urls: list[str] | None = None) -> dict[str, set[str]]:
    """``{host: schemes}`` an embed may point at: wandb.ai over https, plus the configured
    servers (an ``api.`` host also allows its app host, as W&B's own URLs do)."""
    hosts: dict[str, set[str]] = {"wandb.ai": {"https"}, "api.wandb.ai": {"https"}}
    for base in configured_base_urls() if base_urls is None else base_urls:
        parsed = urlparse(base if "://" in base else f"https://{base}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            continue
        host = parsed.hostname.lower() + (f":{parsed.port}" if parsed.port else "")
        hosts.setdefault(host, set()).add(parsed.scheme)
        if host.startswith("api."):
            hosts.setdefault(host[4:], set()).add(parsed.scheme)
    return hosts


def parse_reference(reference: str, *, kind: str | None = None,
                    base_urls: list[str] | None = None) -> WandbRef:
    """Parse a W&B URL or path into a :class:`WandbRef`.

    Accepted forms (``https://wandb.ai`` or the configured server in front of URL forms):
    ``/ENTITY/PROJECT`` (also ``/workspace``, ``/table``, ``/overview``),
    ``/ENTITY/PROJECT/runs/ID`` (and its tabs: ``/overview``, ``/logs``, ...),
    ``/ENTITY/PROJECT/sweeps/ID``, ``/ENTITY/PROJECT/reports/TITLE--ID``,
    ``https://api.wandb.ai/links/ENTITY/ID`` (a report's share link), and paths without a
    host: ``ENTITY/PROJECT``, ``ENTITY/PROJECT/RUN_ID`` (wandb.Api's run path) and
    ``ENTITY/PROJECT/{runs,sweeps,reports}/ID``. Query strings and fragments are dropped.

    :param kind: insist on one of :data:`KINDS` (a share link counts as a report).
    :param base_urls: the configured W&B servers (default: :func:`configured_base_urls`).
    :raises UserError: naming what was wrong (host not W&B, unknown form, bad characters).
    """
    text = (reference or "").strip()
    if not text:
        raise UserError("no W&B reference given: paste a W&B URL or ENTITY/PROJECT[/RUN_ID]")
    hosts = allowed_hosts(base_urls)
    if "://" in text or text.startswith("//"):
        parsed = urlparse(text if "://" in text else "https:" + text)
        host = (parsed.hostname or "").lower() + (f":{parsed.port}" if parsed.port else "")
        if parsed.username or parsed.password:
            raise UserError(f"W&B URL must not carry credentials: {reference!r}")
        if host not in hosts:
            allowed = ", ".join(sorted(hosts))
            raise UserError(f"{host or reference!r} is not a W&B host (allowed: {allowed}; "
                            "set WANDB_BASE_URL for your own W&B server)")
        if parsed.scheme not in hosts[host]:
            raise UserError(f"{reference!r}: use {'/'.join(sorted(hosts[host]))} for {host}")
        scheme, path = parsed.scheme, parsed.path
        if host.startswith("api.") and not path.startswith("/links/"):
            host = host[4:] if host[4:] in hosts else host
    else:
        scheme, host, path = "https", "wandb.ai", text
        for base in (base_urls if base_urls is not None else configured_base_urls()):
            parsed = urlparse(base if "://" in base else f"https://{base}")
            if parsed.hostname and parsed.scheme in ("http", "https"):
                name = parsed.hostname.lower()
                host = (name[4:] if name.startswith("api.") else name) + (
                    f":{parsed.port}" if parsed.port else "")
                scheme = parsed.scheme
                break
    parts = [p for p in path.split("/") if p]
    ref = _from_parts(parts, host, scheme, reference)
    if kind is not None:
        if kind not in KINDS:
            raise UserError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
        if ref.kind != kind and not (kind == "report" and ref.kind == "link"):
            raise UserError(f"{reference!r} is a W&B {ref.kind}, not a {kind}")
    return ref


def _from_parts(parts: list[str], host: str, scheme: str, reference: str) -> WandbRef:
    def bad(why: str) -> UserError:
        return UserError(f"{reference!r} is not a W&B reference I know: {why}. Use a W&B URL, "
                         "ENTITY/PROJECT, ENTITY/PROJECT/RUN_ID or ENTITY/PROJECT/"
                         "{runs,sweeps,reports}/ID")

    if parts[:1] == ["links"]:
        if len(parts) != 3 or not _NAME.match(parts[1]) or not _LINK.match(parts[2]):
            raise bad("a share link is /links/ENTITY/ID")
        return WandbRef("link", host, scheme, parts[1], "", parts[2])
    if len(parts) < 2:
        raise bad("it needs at least ENTITY/PROJECT")
    entity, project, rest = parts[0], parts[1], parts[2:]
    for name in (entity, project):
        if not _NAME.match(name):
            raise bad(f"{name!r} is not an entity or project name")
    if not rest or (len(rest) == 1 and rest[0] in ("workspace", "table", "overview")):
        return WandbRef("project", host, scheme, entity, project)
    if len(rest) == 1:
        if not _ID.match(rest[0]):
            raise bad(f"{rest[0]!r} is not a run id")
        return WandbRef("run", host, scheme, entity, project, rest[0])
    section, ident, tail = rest[0], rest[1], rest[2:]
    kinds = {"runs": "run", "sweeps": "sweep", "reports": "report"}
    if section not in kinds:
        raise bad(f"unknown section {section!r}")
    kind = kinds[section]
    pattern = _REPORT if kind == "report" else _ID
    if not pattern.match(ident):
        raise bad(f"{ident!r} is not a {kind} id")
    if tail and not (kind == "run" and len(tail) == 1 and tail[0] in _RUN_TABS):
        if not (kind == "sweep" and len(tail) == 1 and tail[0] in ("table", "overview", "workspace")):
            raise bad(f"unexpected {'/'.join(tail)!r} after the {kind} id")
    return WandbRef(kind, host, scheme, entity, project, ident)


def _notice(ref: WandbRef) -> str:
    if ref.kind in ("report", "link"):
        return ("Reports show here only when they are public or shared by link (Share → "
                "anyone with the link can view); a private report shows W&B's sign-in page.")
    return (f"A private {ref.kind}'s page shows here only in a browser logged in to "
            f"{ref.host}; otherwise W&B shows its sign-in page. Public projects show to anyone.")


def embed_html(reference: str | WandbRef, *, height: int = DEFAULT_HEIGHT, jupyter: bool = True,
               kind: str | None = None, base_urls: list[str] | None = None,
               nonce: str | None = None) -> str:
    """A self-contained, escaped ``<iframe>`` block for a W&B reference.

    :param reference: a W&B URL or path (see :func:`parse_reference`) or a parsed ref.
    :param height: the frame's height in pixels (120-4000).
    :param jupyter: use W&B's embedded view (``?jupyter=true``).
    :param kind: insist on a run, project, sweep or report.
    :param base_urls: configured W&B servers (default: from the environment and settings).
    :param nonce: any text; a new one makes the browser reload the frame (the refresh control).
    :raises UserError: for a reference that is not a W&B page.
    """
    ref = reference if isinstance(reference, WandbRef) else parse_reference(
        reference, kind=kind, base_urls=base_urls)
    height = max(120, min(int(height), 4000))
    src = escape(ref.embed_url(jupyter))
    open_url = escape(ref.url)
    return (
        f'<div class="wandbkit-embed" data-kind="{escape(ref.kind)}" data-nonce="{escape(nonce or "")}">'
        f'<div style="position:relative;height:{height}px;border:1px solid #e5e7eb;border-radius:6px;'
        f'overflow:hidden">'
        f'<div class="wandbkit-embed-behind" style="position:absolute;inset:0;padding:1.5em;'
        f'color:#6b7280;font-size:0.95em">Loading W&amp;B {escape(ref.label)} … '
        f"If this stays empty, this browser cannot reach {escape(ref.host)} or W&amp;B refused "
        f"the page. {escape(_notice(ref))}</div>"
        f'<iframe src="{src}" data-host="{escape(ref.host)}" title="W&amp;B {escape(ref.label)}" '
        f'loading="lazy" '
        f'referrerpolicy="strict-origin-when-cross-origin" allow="clipboard-write; fullscreen" '
        f'style="position:relative;width:100%;height:100%;border:0;background:transparent">'
        f"</iframe></div>"
        f'<p class="wandbkit-embed-note" style="font-size:0.85em;color:#6b7280;margin:0.4em 0">'
        f"{escape(_notice(ref))} "
        f'<a href="{open_url}" target="_blank" rel="noopener noreferrer">Open in W&amp;B ↗</a></p>'
        f"</div>"
    )


# Run in the browser by WandbEmbed: a cross-origin frame gives no load error, so probe the
# page's address (no-cors, no credentials); when this browser cannot reach W&B, hide the frame
# (Chromium would show its error page over the explanation) and say so.
PROBE_JS = """
const probe = () => {
  const frame = element.querySelector('iframe[data-host]');
  if (!frame) return;
  fetch(frame.src, {mode: 'no-cors', credentials: 'omit', cache: 'no-store'}).catch(() => {
    if (!frame.isConnected) return;
    frame.style.visibility = 'hidden';
    const note = element.querySelector('.wandbkit-embed-behind');
    if (note) {
      note.textContent = 'This browser cannot reach ' + frame.dataset.host + ' (offline, or '
        + 'blocked by a firewall or extension), so the W&B page cannot show here. Open it '
        + 'from a browser with network access with the link below.';
      note.style.color = '#92400e';
      note.classList.add('wandbkit-embed-unreachable');
    }
  });
};
probe();
if (typeof watch === 'function') watch('value', probe);
"""


def message_html(text: str, *, level: str = "info") -> str:
    """An escaped notice box (``info``, ``warning`` or ``error``) for the dashboard's panels."""
    colors = {"info": ("#eff6ff", "#1e40af"), "warning": ("#fffbeb", "#92400e"),
              "error": ("#fef2f2", "#991b1b")}
    bg, fg = colors.get(level, colors["info"])
    body = "<br>".join(escape(line) for line in str(text).splitlines())
    return (f'<div class="wandbkit-{escape(level)}" role="{"alert" if level == "error" else "note"}" '
            f'style="background:{bg};color:{fg};padding:0.8em 1em;border-radius:6px">{body}</div>')


def reference_html(reference: str, *, height: int = DEFAULT_HEIGHT, jupyter: bool = True,
                   kind: str | None = None, refresh: bool = False) -> str:
    """:func:`embed_html`, or an explanatory box for an empty or invalid reference (never an
    exception: the thing event handlers return). ``refresh`` forces the frame to reload."""
    if not (reference or "").strip():
        return message_html("Paste a W&B URL (run, project, sweep or report) or "
                            "ENTITY/PROJECT[/RUN_ID] to show it here.")
    try:
        return embed_html(reference, height=height, jupyter=jupyter, kind=kind,
                          nonce=str(time.time_ns()) if refresh else None)
    except UserError as exc:
        return message_html(str(exc), level="warning")
