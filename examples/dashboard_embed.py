"""Embed W&B in your own Gradio app: an ARR-COC-style validation interface beside its W&B run.

The left side is your app (here: a toy relevance map that decides how many tokens each image
patch gets under a budget); the right side embeds W&B — a run, project, sweep or report — with
``wandb_panel`` (a reference box, height, refresh) and shows the W&B page of any local wandbkit
run that went online with ``WandbEmbed``. Only wandb.ai and your configured W&B server are
accepted; a private project shows only to a browser logged in to W&B, and the panel says so.

Run:  python examples/dashboard_embed.py --reference my-team/arr-coc
      (then open http://127.0.0.1:7860; --check builds the app and exits)
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outside lookups

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from wandbkit.store import Store  # noqa: E402
from wandbkit_gradio import WandbEmbed, wandb_panel  # noqa: E402

PATCH = 16


def allocate_tokens(image: np.ndarray | None, budget: int) -> tuple[np.ndarray | None, str]:
    """Toy ARR-COC allocation: patch relevance = local contrast; tokens proportional to it."""
    if image is None:
        return None, "upload an image"
    gray = image.astype(np.float64).mean(axis=-1) if image.ndim == 3 else image.astype(np.float64)
    h, w = (gray.shape[0] // PATCH) * PATCH, (gray.shape[1] // PATCH) * PATCH
    if h == 0 or w == 0:
        return None, f"the image must be at least {PATCH}x{PATCH} pixels"
    patches = gray[:h, :w].reshape(h // PATCH, PATCH, w // PATCH, PATCH).std(axis=(1, 3))
    relevance = patches / max(patches.sum(), 1e-9)
    tokens = np.floor(relevance * budget).astype(int)
    heat = (255 * relevance / max(relevance.max(), 1e-9)).astype(np.uint8)
    heat = np.kron(heat, np.ones((PATCH, PATCH), dtype=np.uint8))
    return heat, (f"{tokens.size} patches, {int(tokens.sum())} of {budget} tokens placed, "
                  f"max {int(tokens.max())} per patch")


def online_runs(store_dir: str | None) -> list[tuple[str, str]]:
    """(label, W&B URL) of local wandbkit runs that have a W&B page."""
    try:
        runs = Store.open(store_dir, create=False).runs(limit=200)
    except Exception:  # no store yet: nothing to list
        return []
    return [(f"{r.name or r.id} ({r.project})", r.wandb_url) for r in runs if r.wandb_url]


def build(reference: str, store_dir: str | None) -> gr.Blocks:
    """The app: validation on the left, W&B on the right."""
    with gr.Blocks(title="ARR-COC validation", analytics_enabled=False) as demo:
        gr.Markdown("## ARR-COC validation, with its W&B run alongside")
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(type="numpy", label="Image")
                budget = gr.Slider(16, 1024, value=256, step=16, label="Token budget")
                heat = gr.Image(label="Relevance (brighter: more tokens)", interactive=False)
                summary = gr.Textbox(label="Allocation", interactive=False)
                gr.on([image.change, budget.release], allocate_tokens, [image, budget],
                      [heat, summary])
            with gr.Column(scale=2):
                wandb_panel(reference, height=640)
                runs = online_runs(store_dir)
                if runs:
                    pick = gr.Dropdown(runs, label="A local run's W&B page")
                    frame = WandbEmbed(None, embed_height=480)
                    pick.change(lambda url: url, pick, frame)
    return demo


def main() -> None:
    """Parse arguments, build, serve on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="", help="W&B URL or ENTITY/PROJECT[/RUN_ID]")
    parser.add_argument("--dir", default=None, help="wandbkit store (default $WANDBKIT_DIR)")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--check", action="store_true", help="build the app and exit")
    args = parser.parse_args()
    demo = build(args.reference, args.dir)
    if args.check:
        print(f"built: {len(demo.fns)} event(s)")
        return
    demo.launch(server_name="127.0.0.1", server_port=args.port, share=False)


if __name__ == "__main__":
    main()
