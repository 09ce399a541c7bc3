"""End-to-end: the dashboard in real headless Chromium (Debian's, driven by Playwright).

One browser and one app for the module; screenshots go to ``$WANDBKIT_SCREENSHOTS`` (the
README's tour uses docs/screenshots) or the test's temp folder.
"""

from __future__ import annotations

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


def _drawn_lines(page: Any) -> list[str]:
    """The ``d`` attribute of every line vega drew in the Curves chart."""
    return page.locator("#wandbkit-curves-plot .vega-embed g.mark-line path").evaluate_all(
        "paths => paths.map(p => p.getAttribute('d') || '')")


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def test_tour_of_every_tab(page: Any, dashboard_store: DashboardStore, tmp_path: Path) -> None:
    """Runs -> select two runs -> Curves draws them -> Media -> W&B; screenshots of each."""
    shots = screenshot_dir(tmp_path / "screenshots")
    table = page.locator("#wandbkit-runs-table")
    table.get_by_text("baseline", exact=True).filter(visible=True).first.wait_for(timeout=30_000)
    # clicking rows adds runs to the selection the other tabs follow
    selected = page.locator("#wandbkit-selected-runs")
    table.get_by_text(XSS_NAME, exact=True).filter(visible=True).first.click()
    selected.get_by_text(f"{XSS_NAME} ({dashboard_store.hostile})").wait_for(timeout=15_000)
    table.get_by_text("baseline", exact=True).filter(visible=True).first.click()
    selected.get_by_text(f"baseline ({dashboard_store.baseline})").wait_for(timeout=15_000)
    page.screenshot(path=str(shots / "runs.png"))

    _tab(page, "Curves")
    page.locator("#wandbkit-curves-runs").get_by_text(
        f"baseline ({dashboard_store.baseline})").wait_for(timeout=15_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#wandbkit-curves-plot g.mark-line path').length >= 3",
        timeout=30_000)
    lines = _drawn_lines(page)
    assert len(lines) >= 3 and all(len(d) > 50 for d in lines)  # live, hostile, baseline
    page.wait_for_function("() => (document.querySelector('#wandbkit-curves-note textarea') || {})"
                           ".value?.includes('in 3 line(s)')", timeout=30_000)
    page.wait_for_timeout(2500)  # let the last redraw settle before the screenshot
    assert len(_drawn_lines(page)) == 3
    page.screenshot(path=str(shots / "curves.png"))

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
    _tab(page, "Curves")
    page.wait_for_function(
        "() => document.querySelectorAll('#wandbkit-curves-plot g.mark-line path').length >= 3",
        timeout=30_000)
    legend = page.locator("#wandbkit-curves-plot svg text").evaluate_all(
        "texts => texts.map(t => t.textContent)")
    assert any(t.startswith("<img src=x") for t in legend)  # the legend shows it as text
    for name in page.get_by_role("tab").all_inner_texts():  # every plugin's tab too
        _tab(page, name.strip())
        page.wait_for_timeout(700)
    assert page.dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("b", has_text="bold").count() == 0


def test_curves_refresh_while_a_run_is_live(dashboard_store: DashboardStore, browser: Any) -> None:
    """With auto-refresh on, the Curves tab redraws a running run's new points by itself."""
    from wandbkit_gradio.app import build_app, launch

    dashboard = build_app(dashboard_store.root, project="vision", refresh_s=1.0)
    url = launch(dashboard, block=False, quiet=True)
    try:
        pg = _open(browser, url)
        _tab(pg, "Curves")
        runs = pg.locator("#wandbkit-curves-runs")
        runs.get_by_text(f"live ({dashboard_store.live})").wait_for(timeout=30_000)  # newest
        note = "#wandbkit-curves-note textarea"
        pg.wait_for_function(f"() => document.querySelector('{note}')?.value.includes(' points')",
                             timeout=30_000)
        before = int(pg.locator(note).input_value().split(" points")[0].replace(",", ""))
        live = dashboard_store.live_run
        for step in range(100, 140):
            live.log({"train/loss": 0.2}, step=step)
        live.flush()
        pg.wait_for_function(  # no click: the timer's tick redraws
            f"() => parseInt(document.querySelector('{note}').value.replace(/,/g, '')) "
            f">= {before + 40}", timeout=30_000)
        assert pg.dialogs == []
    finally:
        dashboard.blocks.close()
