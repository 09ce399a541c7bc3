"""End-to-end: the dashboard in real headless Chromium (Debian's, driven by Playwright).

One browser and one app for the module; screenshots go to ``$WANDBKIT_SCREENSHOTS`` (the
README's tour uses docs/screenshots) or the test's temp folder.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_dashboard_helpers import XSS_NAME, DashboardStore, screenshot_dir

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (CI installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, url: str) -> Any:
    pg = browser.new_context(viewport={"width": 1400, "height": 1250}).new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(url, wait_until="load")
    return pg


@pytest.fixture(scope="module")
def page(dashboard_store: DashboardStore, browser: Any) -> Iterator[Any]:
    """The dashboard (auto-refresh off, so screenshots are not taken mid-redraw)."""
    from wandbkit_gradio.app import build_app, launch

    dashboard = build_app(dashboard_store.root, project="vision", refresh_s=0)
    url = launch(dashboard, block=False, quiet=True)
    try:
        yield _open(browser, url)
    finally:
        dashboard.blocks.close()


WS = "#wandbkit-workspace"


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def _panels(page: Any, root: str = WS) -> dict[str, dict[str, str]]:
    """Every chart panel's key and what it drew (the chart records it on its element)."""
    return {p["key"]: p for p in page.locator(f"{root} .wk-panel").evaluate_all(
        "ps => ps.map(p => Object.assign({visible: p.offsetParent !== null}, p.dataset))")}


def _wait_drawn(page: Any, root: str = WS) -> None:
    page.wait_for_function(f"() => document.querySelector('{root} .wk-root')?.dataset.loads >= 1 "
                           f"&& document.querySelectorAll('{root} .wk-panel[data-drawn]').length > 0",
                           timeout=30_000)


def test_tour_of_every_tab(page: Any, dashboard_store: DashboardStore, tmp_path: Path) -> None:
    """Workspace -> Runs (select two runs) -> Media -> W&B -> Checkpoints; screenshots of each."""
    shots = screenshot_dir(tmp_path / "screenshots")
    _wait_drawn(page)
    page.wait_for_timeout(300)  # the histogram and image panels draw on the next frame
    page.screenshot(path=str(shots / "workspace.png"))
    _tab(page, "Runs")
    table = page.locator("#wandbkit-runs-table")
    table.get_by_text("baseline", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
    # clicking rows adds runs to the selection the other tabs follow
    selected = page.locator("#wandbkit-selected-runs")
    table.get_by_text(XSS_NAME, exact=True).filter(visible=True).first.click()
    selected.get_by_text(f"{XSS_NAME} ({dashboard_store.hostile})").wait_for(timeout=15_000)
    table.get_by_text("baseline", exact=True).filter(visible=True).first.click()
    selected.get_by_text(f"baseline ({dashboard_store.baseline})").wait_for(timeout=15_000)
    page.screenshot(path=str(shots / "runs.png"))

    _tab(page, "Media")
    image = page.locator("#wandbkit-media-image img")
    image.wait_for(timeout=30_000)
    page.wait_for_function("() => { const i = document.querySelector('#wandbkit-media-image img');"
                           " return i && i.complete && i.naturalWidth === 16; }", timeout=15_000)
    caption = page.locator("#wandbkit-media-caption")
    assert "step 200" in caption.inner_text()
    page.screenshot(path=str(shots / "media.png"))

    _tab(page, "W&B")
    frame = page.locator("#wandbkit-wandb-frame iframe")
    frame.wait_for(state="attached", timeout=30_000)
    assert frame.get_attribute("src") == "https://wandb.ai/team/vision/runs/abc123?jupyter=true"
    # W&B is unreachable from this browser: the panel says so instead of a blank frame
    page.locator("#wandbkit-wandb-frame .wandbkit-embed-unreachable").wait_for(timeout=30_000)
    text = page.locator("#wandbkit-wandb-frame").inner_text()
    assert "cannot reach wandb.ai" in text and "logged in to wandb.ai" in text
    page.screenshot(path=str(shots / "wandb.png"))

    _tab(page, "Checkpoints")
    table = page.locator("#wandbkit-checkpoints-table")
    table.get_by_text("model:v2", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Verify files").click()
    page.locator("#wandbkit-checkpoints-verdict").get_by_text(
        "every file matches its manifest", exact=False).wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "checkpoints.png"))


def test_hostile_names_show_as_text(page: Any, dashboard_store: DashboardStore) -> None:
    """A run named ``<img src=x onerror=alert(1)>`` (markup in tags, config and a metric key
    too) shows as text in every tab; no dialog fires and no element is injected."""
    _tab(page, "Runs")
    table = page.locator("#wandbkit-runs-table")
    assert table.get_by_text(XSS_NAME, exact=True).count() >= 1
    assert table.get_by_text("<b>bold</b>", exact=True).count() == 1
    _tab(page, "W&B")
    page.locator("#wandbkit-wandb-frame iframe").wait_for(state="attached", timeout=30_000)
    _tab(page, "Workspace")
    _wait_drawn(page)
    assert XSS_NAME in page.locator(f"{WS} .wk-run-name").all_inner_texts()  # as text
    assert XSS_NAME in page.locator(f"{WS} .wk-section-name").all_inner_texts()
    for name in page.get_by_role("tab").all_inner_texts():  # every plugin's tab too
        _tab(page, name.strip())
        page.wait_for_timeout(700)
    assert page.dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("b", has_text="bold").count() == 0


def _key_is(key: str, attr: str, value: str) -> str:
    """A JS predicate: the panel of ``key`` has drawn with ``data-<attr> == value``."""
    return (f"() => document.querySelector('{WS} .wk-panel[data-key={json.dumps(key)}]')"
            f"?.dataset.{attr} === {json.dumps(value)}")


def test_workspace_charts_settings_and_colours(page: Any, dashboard_store: DashboardStore) -> None:
    """A chart per metric under its section's name; a run keeps its colour in every chart
    when others are toggled off; log scale and x axis change the drawn axes; search hides
    charts."""
    _tab(page, "Workspace")
    _wait_drawn(page)
    panels = _panels(page)
    sections = {d.get_attribute("data-section"): [p.get_attribute("data-key") for p in
                                                  d.locator(".wk-panel").all()]
                for d in page.locator(f"{WS} .wk-section").all()}
    assert list(sections)[0] == "Charts"
    assert sections["train"] == ["train/loss"] and sections["val"] == ["val/acc"]
    assert "lr" in sections["Charts"] and "weights" in sections["Charts"]  # a histogram panel
    assert panels["weights"]["kind"] == "histogram" and panels["samples/pred"]["kind"] == "image"
    page.wait_for_function(  # the image panel loads the logged file through the file route
        f"() => {{ const i = document.querySelector('{WS} .wk-panel[data-key=\"samples/pred\"] img');"
        " return i && i.complete && i.naturalWidth === 16; }", timeout=15_000)
    assert _panels(page)["samples/pred"]["step"] == "200"  # the slider starts at the last step
    colours = json.loads(panels["train/loss"]["colors"])
    assert len(colours) == 4 and len(set(colours.values())) == 4  # every run of the project
    assert json.loads(panels["val/acc"]["colors"]) == {
        dashboard_store.baseline: colours[dashboard_store.baseline]}
    # toggle two runs off: they leave every chart, the others keep their colours
    for run_id in (dashboard_store.hostile, dashboard_store.offline):
        page.locator(f'{WS} .wk-run[data-run="{run_id}"] input').uncheck()
    after = json.loads(_panels(page)["train/loss"]["colors"])
    assert after == {k: v for k, v in colours.items()
                     if k not in (dashboard_store.hostile, dashboard_store.offline)}
    page.locator(f'{WS} .wk-run[data-run="{dashboard_store.hostile}"] input').check()
    back = json.loads(_panels(page)["train/loss"]["colors"])
    assert back[dashboard_store.hostile] == colours[dashboard_store.hostile]
    # log scale: powers of ten on the y axis
    linear = _panels(page)["train/loss"]
    page.locator(f"{WS} .wk-logy").check()
    logged = _panels(page)["train/loss"]
    assert linear["ylog"] == "0" and logged["ylog"] == "1" and logged["yticks"] != linear["yticks"]
    assert all(math.log10(float(t)).is_integer() for t in json.loads(logged["yticks"]))
    page.locator(f"{WS} .wk-logy").uncheck()
    # x axis: wall time draws clock times
    page.locator(f"{WS} select.wk-x").select_option("wall time")
    page.wait_for_function(_key_is("train/loss", "xaxis", "wall time"), timeout=30_000)
    ticks = json.loads(_panels(page)["train/loss"]["xticks"])
    assert ticks and all(":" in t for t in ticks)
    page.locator(f"{WS} select.wk-x").select_option("step")
    page.wait_for_function(_key_is("train/loss", "xaxis", "step"), timeout=30_000)
    # drag across a chart to zoom into that x range; double-click to go back
    canvas = page.locator(f'{WS} .wk-panel[data-key="train/loss"] canvas')
    box = canvas.bounding_box()
    full = float(_panels(page)["train/loss"]["xmax"])
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 80, steps=4)
    tip = page.locator(f"{WS} .wk-tip")
    assert tip.is_visible() and "baseline" in tip.inner_text()  # hover: each run's value
    page.mouse.up()
    zoomed = _panels(page)["train/loss"]
    assert 0 < float(zoomed["xmin"]) < float(zoomed["xmax"]) < full
    canvas.dblclick()
    assert float(_panels(page)["train/loss"]["xmax"]) == full
    # one chart's own settings override the workspace's
    page.locator(f'{WS} .wk-panel[data-key="val/acc"] .wk-gear').click()
    page.locator(f'{WS} .wk-panel[data-key="val/acc"] select.wk-ov-log').select_option("log")
    page.wait_for_function(_key_is("val/acc", "ylog", "1"), timeout=10_000)
    assert _panels(page)["train/loss"]["ylog"] == "0"
    # search: a substring, then a regex; sections without a match disappear
    search = page.locator(f"{WS} .wk-search")
    search.fill("LOSS")
    assert {k for k, p in _panels(page).items() if p["visible"]} == {"train/loss"}
    assert not page.locator(f'{WS} .wk-section[data-section="val"]').is_visible()
    search.fill(r"^(lr|val/.*)$")
    assert {k for k, p in _panels(page).items() if p["visible"]} == {"lr", "val/acc"}
    search.fill("")
    # the page's EMA is the debiased one the Python reference computes
    from wandbkit_gradio.smoothing import ema

    values = [1.0, 3.0, float("nan"), 2.0, 8.0]
    got = page.evaluate("v => Array.from(WandbkitWorkspace.ema(v.map(x => x === null ? NaN : x),"
                        " 0.6))", [None if v != v else v for v in values])
    want = ema(__import__("numpy").array(values), 0.6).tolist()
    assert [None if w != w else round(w, 9) for w in want] == [
        None if g is None or g != g else round(g, 9) for g in got]
    assert page.dialogs == []


@pytest.fixture(scope="module")
def long_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A 5,000-step run with a one-step spike and a run still logging."""
    import wandbkit

    root = tmp_path_factory.mktemp("long") / "store"
    with wandbkit.init(project="long", name="spiky", mode="disabled", dir=root,
                       flush_interval=0.01) as run:
        for step in range(5000):
            run.log({"train/loss": 50.0 if step == 2345 else 1.0 + (step % 7) / 100}, step=step)
    live = wandbkit.init(project="long", name="live", mode="disabled", dir=root,
                         flush_interval=0.01)
    for step in range(10):
        live.log({"live/metric": float(step)}, step=step)
    live.flush()
    try:
        yield root, live
    finally:
        live.finish()


def test_band_keeps_a_spike_and_a_live_chart_grows(long_store: tuple[Path, Any],
                                                   browser: Any) -> None:
    """5,000 steps drawn as ~chart-width buckets still show the one-step spike (the band
    reaches it and pixels near the top are the run's colour); a running run's chart grows by
    itself on the timer, from the new rows only."""
    from wandbkit_gradio.app import build_app, launch

    root, live = long_store
    dashboard = build_app(root, project="long", refresh_s=0.5)
    url = launch(dashboard, block=False, quiet=True)
    try:
        pg = _open(browser, url)
        _wait_drawn(pg)
        loss = _panels(pg)["train/loss"]
        assert float(loss["bandmax"]) == 50.0 and float(loss["ymax"]) == 50.0
        colour = json.loads(loss["colors"])
        spiky = next(c for i, c in colour.items() if i != live.id)
        red, green, blue = (int(spiky[i:i + 2], 16) for i in (1, 3, 5))
        near_top = pg.locator(f'{WS} .wk-panel[data-key="train/loss"] canvas').evaluate(
            """(c, rgb) => { const g = c.getContext('2d'), d = window.devicePixelRatio || 1;
                 const px = g.getImageData(60 * d, 8 * d, c.width - 70 * d, 16 * d).data;
                 let n = 0;
                 for (let i = 0; i < px.length; i += 4)
                   if (Math.abs(px[i] - rgb[0]) + Math.abs(px[i + 1] - rgb[1])
                       + Math.abs(px[i + 2] - rgb[2]) < 60) n++;
                 return n; }""", [red, green, blue])
        assert near_top > 0  # the spike's pixels, at the top of the plot
        assert float(_panels(pg)["live/metric"]["xmax"]) == 9
        root_el = pg.locator(f"{WS} .wk-root")
        ticks = int(root_el.get_attribute("data-ticks") or 0)
        for step in range(10, 40):
            live.log({"live/metric": float(step)}, step=step)
        live.flush()
        pg.wait_for_function(_key_is("live/metric", "xmax", "39"), timeout=30_000)
        assert int(root_el.get_attribute("data-ticks")) > ticks  # no click: the timer did it
        assert root_el.get_attribute("data-loads") == "1"  # by ticks, never a whole reload
    finally:
        dashboard.blocks.close()


def test_runs_started_later_reach_every_picker(page: Any, dashboard_store: DashboardStore,
                                               browser: Any) -> None:
    """A run started after the dashboard was built appears on reload in the Workspace, the
    Media, W&B, Run and Compare pickers (before, only a restart showed it)."""
    import wandbkit

    with wandbkit.init(project="vision", name="started-later", mode="disabled",
                       dir=dashboard_store.root, flush_interval=0.01) as run:
        run.log({"train/loss": 0.5, "samples/pred": wandbkit.Image(
            __import__("numpy").zeros((4, 4, 3), dtype="uint8"))}, step=0)
    pg = _open(browser, page.url)
    _wait_drawn(pg)
    assert "started-later" in pg.locator(f"{WS} .wk-run-name").all_inner_texts()
    for tab, picker in (("W&B", "Run"), ("Run", "Run"), ("Media", "Run")):
        _tab(pg, tab)
        box = pg.get_by_label(picker, exact=True).filter(visible=True).first
        box.click()
        pg.get_by_role("option", name=f"started-later ({run.id})").first.wait_for(timeout=15_000)
        pg.keyboard.press("Escape")
    pg.context.close()
