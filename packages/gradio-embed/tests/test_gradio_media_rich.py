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


@pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(),
                    reason="Debian's chromium is not installed (CI installs it)")
def test_a_logged_page_opened_from_a_table_link_never_runs_its_script(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    """A table cell holding ``wandb.Html`` is a link to the page on the file route: opened, it
    is served sandboxed (no script of it runs in the dashboard's origin)."""
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    import wandbkit
    from wandbkit.store import Store
    from wandbkit_gradio.app import build_app, launch

    monkeypatch.setenv("WANDBKIT_DIR", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    with wandbkit.init(project="media", mode="disabled", flush_interval=0.01) as run:
        run.log({"pages": wandbkit.Table(columns=["page"], data=[[wandbkit.Html(PAGE)]])}, step=0)
    store = Store.open(tmp_path / "store")
    (table,) = store.media(run.id)
    from wandbkit_gradio import media_render

    (link,) = [a.split('"')[0] for a in media_render.table_html(
        table, lambda rel: quote(str(store.root / rel))).split('href="')[1:]]
    dashboard = build_app(store.root, project="media", refresh_s=0)
    url = launch(dashboard, block=False, quiet=True).rstrip("/")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_context().new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            answer = page.goto(f"{url}/gradio_api/file={link}", wait_until="load")
            assert answer is not None and answer.status == 200
            assert page.locator("#h").inner_text(timeout=15_000) == "report"  # it is shown
            page.wait_for_timeout(300)
            assert dialogs == [] and page.title() != "pwned"  # its script never ran
            browser.close()
    finally:
        dashboard.blocks.close()


def test_every_wandb_plot_chart_and_figure_is_drawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    """Each ``wandb.plot`` chart and each figure wandb converts reaches the Media tab's view as
    the chart it is (traces of the right type, with the logged points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import wandbkit
    from wandbkit_gradio import media_render

    monkeypatch.setenv("WANDBKIT_DIR", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    table = wandbkit.Table(columns=["x", "y", "label"], data=[[1, 2.0, "a"], [2, 3.5, "b"], [3, 1.0, "c"]])
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, size=30)
    probas = rng.dirichlet(np.ones(3), size=30)
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [2, 4, 3])
    with wandbkit.init(project="media", mode="disabled", flush_interval=0.01) as run:
        run.log({"line": wandbkit.plot.line(table, "x", "y", title="line"),
                 "scatter": wandbkit.plot.scatter(table, "x", "y"),
                 "hist": wandbkit.plot.histogram(table, "y"),
                 "series": wandbkit.plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["u", "d"]),
                 "cm": wandbkit.plot.confusion_matrix(y_true=y_true.tolist(),
                                                      preds=probas.argmax(1).tolist(),
                                                      class_names=["a", "b", "c"]),
                 "pr": wandbkit.plot.pr_curve(y_true, probas, labels=["a", "b", "c"]),
                 "roc": wandbkit.plot.roc_curve(y_true, probas, labels=["a", "b", "c"]),
                 "mpl": fig}, step=0)
    plt.close(fig)
    want = {"line": ["scatter"], "scatter": ["scatter"], "hist": ["histogram"],
            "series": ["scatter", "scatter"], "cm": ["heatmap"], "pr": ["scatter"] * 3,
            "roc": ["scatter"] * 3}
    for key, types in want.items():
        figure = media_render.chart_figure(_entry(tmp_path / "store", run.id, key))
        assert [t.type for t in figure.data] == types, key
        assert all(len(t.x) > 0 for t in figure.data), key
    assert list(media_render.chart_figure(_entry(tmp_path / "store", run.id, "line")).data[0].y) == [
        2.0, 3.5, 1.0]
    drawn = media_render.plotly_figure(_entry(tmp_path / "store", run.id, "mpl"))
    assert list(drawn.data[0].y) == [2, 4, 3]
