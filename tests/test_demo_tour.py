"""End to end: ``wandbkit demo --quick`` with every package installed, plus a third-party plugin.

One demo run (module-scoped, about a minute on 2 cores) is shared by the tests: the example
plugin ``examples/third_party_plugin`` is pip-installed into a ``--target`` folder on the demo's
``PYTHONPATH``, so the same run shows that an outside plugin reaches every entry point (its
sink gets every demo run, its demo stage runs, ``wandbkit plugins`` and its command list it, its
dashboard tab is served). Then the real dashboard is started on the demo's store with
``wandbkit dashboard`` and checked in headless Chromium: runs, checkpoints and the sweep.
Screenshots go to ``$WANDBKIT_SCREENSHOTS`` (the README's tour) or the test's temp folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wandbkit.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLUGIN = ROOT / "examples" / "third_party_plugin"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
STAGES = ["toy-model", "smoke", "train", "sweep", "preempt", "hf", "lightning", "dashboard", "jsonl"]


@dataclass
class Tour:
    """What one ``wandbkit demo --quick`` left behind."""

    store: Path
    env: dict[str, str]
    proc: subprocess.CompletedProcess[str]

    @property
    def out(self) -> str:
        return self.proc.stdout


def _env(tmp: Path, site: Path) -> dict[str, str]:
    """Offline, every wandb folder in ``tmp``, no key, the example plugin importable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WANDB_", "WANDBKIT_")) and k not in ("NETRC",)}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", NETRC=str(tmp / "no-netrc"),
               WANDB_CONFIG_DIR=str(tmp / "wandb-config"), WANDBKIT_DIR=str(tmp / "store"),
               COLUMNS="200", PYTHONPATH=os.pathsep.join(
                   [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return env


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    tmp = tmp_path_factory.mktemp("tour")
    site = tmp / "site"
    # The same discovery path as a site-packages install, without touching the shared venv.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(EXAMPLE_PLUGIN)],
                   check=True, capture_output=True, text=True, timeout=300)
    env = _env(tmp, site)
    proc = subprocess.run([sys.executable, "-m", "wandbkit", "demo", "--quick"], env=env,
                          cwd=tmp, capture_output=True, text=True, timeout=900)
    return Tour(store=tmp / "store", env=env, proc=proc)


def test_demo_runs_every_stage_and_summarises(tour: Tour) -> None:
    """Exit 0; each stage's line in order; the summary names what a newcomer looks at next."""
    assert tour.proc.returncode == 0, tour.out[-3000:] + tour.proc.stderr[-3000:]
    table = tour.out[tour.out.index("what each stage did"):]
    positions = [re.search(rf"│ {re.escape(name)}\s+│", table) for name in STAGES]
    assert all(positions), [n for n, p in zip(STAGES, positions, strict=True) if not p]
    assert [p.start() for p in positions] == sorted(p.start() for p in positions)  # type: ignore[union-attr]
    assert "9 checks: 9 pass" in table
    assert re.search(r"best checkpoint \(train\): arr-coc-toy:best \(step \d+", tour.out)
    assert re.search(r"best sweep trial \(sweep\): \{number=\d+, state=complete", tour.out)
    assert re.search(r"W&B offline runs waiting for upload: \d+ \(`wandbkit sync", tour.out)
    assert "open the dashboard: wandbkit dashboard" in tour.out


def test_demo_store_holds_what_the_stages_made(tour: Tour) -> None:
    """The training run has the tracker's, the VLM metrics' and the pictures' keys; checkpoints
    carry best and latest; the sweep's trials are runs of its group; the HF run has its curve."""
    store = Store.open(tour.store)
    runs = store.runs(project="wandbkit-demo")
    by_name = {r.name: r for r in runs}
    train = by_name["arr-coc-toy"]
    assert train.state == "finished" and train.wandb_mode == "offline"
    keys = set(store.keys(train.id))
    assert {"train/loss", "val/loss", "train/lr"} <= keys, sorted(keys)
    assert any(k.startswith("grad/") for k in keys), sorted(keys)
    assert any(k.startswith(("relevance/", "allocation/", "compression/")) for k in keys), sorted(keys)
    assert {m["kind"] for m in store.media(train.id)} >= {"image"}
    ckpt = subprocess.run([sys.executable, "-m", "wandbkit", "ckpt", "ls", "--json"], env=tour.env,
                          capture_output=True, text=True, timeout=120)
    assert ckpt.returncode == 0, ckpt.stderr
    aliases = {a for v in json.loads(ckpt.stdout) if v.get("name") == "arr-coc-toy"
               for a in v.get("aliases", [])}
    assert {"best", "latest"} <= aliases, ckpt.stdout[:2000]
    sweep_id = re.search(r"sweep (\w+): ", tour.out).group(1)  # type: ignore[union-attr]
    trials = [r for r in runs if r.group == sweep_id]
    assert len(trials) >= 4 and all(r.state == "finished" for r in trials), [
        (r.name, r.group, r.state) for r in runs]
    hf_runs = [r for r in runs if r.name == "hf-tiny-gpt2"]
    assert hf_runs and all("train/loss" in store.keys(r.id) for r in hf_runs)
    # every demo run also has its W&B offline folder, waiting for `wandbkit sync`
    assert all(r.wandb_dir and Path(r.wandb_dir).is_dir() for r in runs if r.wandb_mode == "offline")


def test_third_party_plugin_reaches_every_entry_point(tour: Tour) -> None:
    """Listed by `wandbkit plugins`, its command runs, its sink wrote every demo run, its stage ran."""
    listing = subprocess.run([sys.executable, "-m", "wandbkit", "plugins", "--json"], env=tour.env,
                             capture_output=True, text=True, timeout=120)
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    assert plugins["jsonl"]["status"] == "ok"
    assert set(plugins["jsonl"]["hooks"]) == {"wandbkit_register_sinks", "wandbkit_register_commands",
                                              "wandbkit_dashboard_panels",
                                              "wandbkit_register_demo_stages"}
    runs = Store.open(tour.store).runs(project="wandbkit-demo")
    written = {p.stem for p in (tour.store / "jsonl").glob("*.jsonl")}
    in_process = [r.id for r in runs if r.id not in written]
    assert not in_process, f"runs the jsonl sink never saw: {in_process}"
    tail = subprocess.run([sys.executable, "-m", "wandbkit", "jsonl-tail", "arr-coc-toy", "-n", "2"],
                          env=tour.env, capture_output=True, text=True, timeout=120)
    assert tail.returncode == 0 and tail.stdout.count("step ") == 2, tail.stdout + tail.stderr
    assert re.search(r"│ jsonl\s+│[^│]+│ \d+ runs also written as JSON lines", tour.out)


@dataclass
class Served:
    """A running ``wandbkit dashboard``: its URL and what it printed before serving."""

    url: str
    printed: list[str]


@pytest.fixture(scope="module")
def dashboard(tour: Tour) -> Iterator[Served]:
    """``wandbkit dashboard`` on the demo's store, as a user starts it (plugins from PYTHONPATH)."""
    proc = subprocess.Popen([sys.executable, "-m", "wandbkit", "dashboard", "--refresh", "0"],
                            env=tour.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        printed: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line.rstrip())
            if line.startswith("open http"):
                break
        url = printed[-1].split()[1] if printed and printed[-1].startswith("open ") else ""
        assert url.startswith("http://127.0.0.1:"), f"the dashboard did not start: {printed}"
        yield Served(url, printed)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WANDBKIT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_dashboard_shows_the_demo_in_chromium(tour: Tour, dashboard: Served, tmp_path: Path) -> None:
    """Runs lists the training run, Checkpoints its versions, Sweeps the sweep, JSON lines the
    third-party tab; no tab failed to build."""
    from playwright.sync_api import sync_playwright

    assert not [line for line in dashboard.printed if "failed to build" in line], dashboard.printed
    shots = _shots(tmp_path)
    sweep_id = re.search(r"sweep (\w+): ", tour.out).group(1)  # type: ignore[union-attr]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
            page.goto(dashboard.url, wait_until="domcontentloaded")
            # the first page is the workspace: one chart per metric of the demo's runs
            page.wait_for_function(
                "() => document.querySelector('#wandbkit-workspace .wk-root')?.dataset.loads >= 1"
                " && document.querySelectorAll('#wandbkit-workspace .wk-panel[data-drawn]')"
                ".length > 3", timeout=90_000)
            # the loss curves of every run, found with the workspace's search
            page.get_by_placeholder("Search panels (text or regex)").fill("loss")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#wandbkit-workspace .wk-panel')]"
                ".filter(p => p.offsetParent !== null).every(p => p.dataset.key.includes('loss'))",
                timeout=30_000)
            page.wait_for_timeout(500)  # image and histogram panels draw on the next frame
            page.screenshot(path=str(shots / "demo-workspace.png"))
            page.get_by_role("tab", name="Runs", exact=True).click()
            page.locator("#wandbkit-runs-table").get_by_text("arr-coc-toy", exact=True) \
                .filter(visible=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "demo-runs.png"))
            page.get_by_role("tab", name="Checkpoints", exact=True).click()
            page.locator("#wandbkit-checkpoints-table").get_by_text(
                re.compile(r"arr-coc-toy:v\d+")).filter(visible=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(shots / "demo-checkpoints.png"))
            page.get_by_role("tab", name="Sweeps", exact=True).click()
            page.get_by_text(re.compile(rf"{sweep_id}")).filter(visible=True).first.wait_for(
                timeout=60_000)
            page.screenshot(path=str(shots / "demo-sweeps.png"))
            page.get_by_role("tab", name="JSON lines", exact=True).click()
            rows = page.locator("#jsonl-rows textarea")
            rows.wait_for(timeout=60_000)
            page.wait_for_function("() => (document.querySelector('#jsonl-rows textarea') || {})"
                                   ".value?.startsWith('step ')", timeout=60_000)
            page.screenshot(path=str(shots / "demo-jsonl.png"))
        finally:
            browser.close()
