"""wandbkit-gradio: ``wandbkit dashboard`` and W&B embeds for Gradio apps.

Building blocks for your own app (importing them imports gradio):

- :func:`embed_html` / :func:`parse_reference` — a W&B run, project, sweep or report reference
  into an escaped iframe (W&B hosts only);
- :class:`WandbEmbed` — a ``gr.HTML`` whose value is a W&B reference;
- :func:`wandb_panel` — an embed with reference, height and refresh controls;
- :func:`build_app` / :func:`serve` — the dashboard itself, on a store folder.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "embed_html": "wandbkit_gradio.embed", "parse_reference": "wandbkit_gradio.embed",
    "WandbRef": "wandbkit_gradio.embed", "allowed_hosts": "wandbkit_gradio.embed",
    "WandbEmbed": "wandbkit_gradio.component", "wandb_panel": "wandbkit_gradio.component",
    "build_app": "wandbkit_gradio.app", "serve": "wandbkit_gradio.app",
    "launch": "wandbkit_gradio.app", "minmax_lttb": "wandbkit_gradio.downsample",
    "ema": "wandbkit_gradio.smoothing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wandbkit_gradio' has no attribute {name!r}")
