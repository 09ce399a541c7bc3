"""The Media tab shows what wandb users log beyond images: plotly charts, wandb.plot charts,
HTML pages (sandboxed: their scripts never run) and tables with images in their cells.
Plain data functions first, then the real dashboard in Debian's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PAGE = "<h1 id='h'>report</h1><script>document.title = 'pwned'; alert('ran')</script>"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def rich_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One run that logged a plotly figure, a bar chart, an HTML page and a table of images."""
    import plotly.graph_objects as go

    import wandbkit

    tmp = tmp_path_factory.mktemp("rich")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDBKIT_DIR", str(tmp / "store"))
        mp.chdir(tmp)
        with wandbkit.init(project="media", name="rich", mode="disabled", flush_interval=0.01) as run:
            samples = wandbkit.Table(columns=["image", "label"])
            for i in range(2):
                samples.add_data(wandbkit.Image(np.full((6, 9, 3), 100 * i, dtype=np.uint8),
                                                caption=f"<b>sample {i}</b>"), f"<i>{i}</i>")
            bars = wandbkit.Table(columns=["label", "value"], data=[["a", 1.0], ["b", 3.0]])
            run.log({"fig": go.Figure(data=[go.Scatter(x=[1, 2, 3], y=[2, 1, 3])]),
                     "bars": wandbkit.plot.bar(bars, "label", "value", title="Bars"),
                     "page": wandbkit.Html(PAGE), "samples": samples}, step=0)
        yield tmp / "store", run.id


def _entry(store_root: Path, run_id: str, key: str) -> dict[str, Any]:
    from wandbkit.panels import DashboardContext
    from wandbkit.store import Store
    from wandbkit_gradio import views

    ctx = DashboardContext(Store.open(store_root))
    return views.media_at(ctx, run_id, key, 0)


def test_each_kind_is_shaped_for_the_tab(rich_store: tuple[Path, str]) -> None:
    from wandbkit_gradio import media_render

    root, run_id = rich_store
    fig = media_render.chart_figure(_entry(root, run_id, "bars"))
    (trace,) = fig.data
    assert trace.type == "bar" and list(trace.x) == ["a", "b"] and list(trace.y) == [1.0, 3.0]
    assert fig.layout.title.text == "Bars"
    assert list(media_render.plotly_figure(_entry(root, run_id, "fig")).data[0].y) == [2, 1, 3]
    frame = media_render.html_frame(_entry(root, run_id, "page"))
    assert 'sandbox=""' in frame and "<script>" not in frame and "&lt;script&gt;" in frame
    table = media_render.table_html(_entry(root, run_id, "samples"), lambda rel: "/f/" + rel)
    assert table.count("<img src=\"/f/media/") == 2
    assert "&lt;i&gt;0&lt;/i&gt;" in table and "&lt;b&gt;sample 0&lt;/b&gt;" in table


@pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(),
                    reason="Debian's chromium is not installed (CI installs it)")
def test_media_tab_draws_them_in_chromium(rich_store: tuple[Path, str]) -> None:
    from playwright.sync_api import sync_playwright

    from wandbkit_gradio.app import build_app, launch

    root, _ = rich_store
    dashboard = build_app(root, project="media", refresh_s=0)
    url = launch(dashboard, block=False, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_context(viewport={"width": 1300, "height": 1100}).new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_role("tab", name="Media", exact=True).click()
            # the first key is the table: its images are served and load
            page.wait_for_function(
                "() => { const imgs = [...document.querySelectorAll('#wandbkit-media-html img')];"
                " return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth === 9); }",
                timeout=30_000)

            def pick(key: str) -> None:
                box = page.get_by_label("Media key", exact=True)
                box.click()
                page.get_by_role("option", name=key, exact=True).click()

            pick("bars")
            page.locator("#wandbkit-media-chart .js-plotly-plot").wait_for(timeout=30_000)
            assert page.locator("#wandbkit-media-chart g.point").count() == 2  # two bars
            pick("page")
            frame = page.locator("#wandbkit-media-html iframe")
            frame.wait_for(timeout=30_000)
            assert frame.get_attribute("sandbox") == ""
            heading = page.frame_locator("#wandbkit-media-html iframe").locator("#h")
            assert heading.inner_text(timeout=15_000) == "report"
            page.wait_for_timeout(500)
            assert dialogs == [] and page.title() != "pwned"  # the page's script never ran
            browser.close()
    finally:
        dashboard.blocks.close()
