"""``wandbkit demo`` runs the stages plugins register, in order, and names a stage that fails.

Each test runs the real CLI in a fresh interpreter with ``WANDBKIT_PLUGINS=""`` (no installed
plugins' entry points, built-ins only) plus a throwaway plugin registered in that process, so
the installed plugins' own (slower) stages stay out of these tests; the full tour with every
plugin is tested in ``test_demo_tour.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from wandbkit.store import Store

PLUGIN = textwrap.dedent('''
    import sys
    from wandbkit import hookimpl
    from wandbkit.cli import main
    from wandbkit.demo import DemoStage
    from wandbkit.plugins import get_plugin_manager

    seen = []

    def first(ctx):
        seen.append(("first", ctx.quick, ctx.mode))
        ctx.shared["answer"] = 42
        return {"headline": "made the answer"}

    def second(ctx):
        assert ctx.results["first"] == {"headline": "made the answer"}, ctx.results
        if ctx.shared["answer"] != 42 or FAIL:
            raise RuntimeError("the answer is lost")
        seen.append(("second", ctx.work_dir.is_dir()))
        return {"best_trial": {"lr": 0.1, "val/loss": 0.25}}

    class Stages:
        @hookimpl
        def wandbkit_register_demo_stages(self, register):
            register(DemoStage(name="second", title="use what the first made", order=20, run=second))
            register(DemoStage(name="first", title="make something", order=10, run=first))

    FAIL = sys.argv[1] == "fail"
    get_plugin_manager().register(Stages(), name="toy-stages")
    code = main(["demo", "--quick", "--dir", sys.argv[2]])
    print("SEEN", seen)
    sys.exit(code)
''')


def run_demo(tmp_path: Path, how: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "demo_with_plugin.py"
    script.write_text(PLUGIN)
    env = {**os.environ, "WANDBKIT_PLUGINS": "", "COLUMNS": "200"}
    return subprocess.run([sys.executable, str(script), how, str(tmp_path / "store")], env=env,
                          capture_output=True, text=True, timeout=300)


def test_hook_register_demo_stages(tmp_path: Path) -> None:
    """Stages run in order, share objects and results, and the summary shows their facts."""
    proc = run_demo(tmp_path, "ok")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "SEEN [('first', True, 'offline'), ('second', True)]" in out
    assert "made the answer" in out
    assert "best sweep trial (second): {lr=0.1, val/loss=0.25}" in out
    # core names what a fuller install would add, one line each
    assert "skipped sweep: a small local sweep with hyperband (pip install wandbkit-sweeps)" in out


def test_demo_stage_failure_names_the_stage(tmp_path: Path) -> None:
    """A stage that raises stops the demo with exit 1 and a one-line error naming it."""
    proc = run_demo(tmp_path, "fail")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: demo stage 'second' failed: RuntimeError: the answer is lost" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "SEEN [('first', True, 'offline')]" in proc.stdout


def test_demo_core_only_trains_numpy_run(tmp_path: Path) -> None:
    """With no plugin stages, the demo is core's own tracked numpy run, stored and summarised."""
    store = tmp_path / "store"
    env = {**os.environ, "WANDBKIT_PLUGINS": "", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "wandbkit", "demo", "--steps", "30", "--dir", str(store)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "core only" in proc.stdout
    runs = Store.open(store).runs(project="wandbkit-demo")
    assert len(runs) == 1 and runs[0].state == "finished"
    assert Store.open(store).step_count(runs[0].id) == 30
