"""W&B references into safe iframes: URL forms, allowed hosts, escaping (no browser needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wandbkit.errors import UserError
from wandbkit_gradio.embed import allowed_hosts, embed_html, parse_reference, reference_html

REPORT = "https://wandb.ai/team/vlm/reports/ARR-COC-ablations--Vmlldzo1MjM0NTY3"


@pytest.mark.parametrize(("reference", "kind", "url"), [
    ("https://wandb.ai/team/vlm", "project", "https://wandb.ai/team/vlm/workspace"),
    ("https://wandb.ai/team/vlm/workspace?nw=abc", "project", "https://wandb.ai/team/vlm/workspace"),
    ("https://wandb.ai/team/vlm/runs/ab12cd34", "run", "https://wandb.ai/team/vlm/runs/ab12cd34"),
    ("https://wandb.ai/team/vlm/runs/ab12cd34/overview?workspace=user-x#x", "run",
     "https://wandb.ai/team/vlm/runs/ab12cd34"),
    ("//wandb.ai/team/vlm/sweeps/k3x9", "sweep",
     "https://wandb.ai/team/vlm/sweeps/k3x9"),
    (REPORT, "report", REPORT),
    ("https://api.wandb.ai/links/team/abc12345", "link", "https://api.wandb.ai/links/team/abc12345"),
    ("team/vlm", "project", "https://wandb.ai/team/vlm/workspace"),
    ("team/vlm/ab12cd34", "run", "https://wandb.ai/team/vlm/runs/ab12cd34"),
    ("team/vlm/sweeps/k3x9", "sweep", "https://wandb.ai/team/vlm/sweeps/k3x9"),
])
def test_reference_forms(reference: str, kind: str, url: str) -> None:
    ref = parse_reference(reference, base_urls=[])
    assert (ref.kind, ref.url) == (kind, url)
    assert ref.embed_url() == url + "?jupyter=true" and ref.embed_url(jupyter=False) == url


@pytest.mark.parametrize(("reference", "why"), [
    ("https://evil.example/team/vlm", "not a W&B host"),
    ("https://wandb.ai.evil.example/team/vlm", "not a W&B host"),
    ("http://wandb.ai/team/vlm", "use https"),
    ("https://user:pw@wandb.ai/team/vlm", "credentials"),
    ("javascript:alert(1)//wandb.ai/x/y", "not a W&B reference"),
    ("team", "at least ENTITY/PROJECT"),
    ('team/vlm/runs/a"b', "not a run id"),
    ("team/<script>/runs/x", "not an entity or project name"),
    ("team/vlm/artifacts/x", "unknown section"),
    ("team/vlm/reports/no-id-here", "not a report id"),
    ("", "no W&B reference"),
])
def test_rejected_references(reference: str, why: str) -> None:
    with pytest.raises(UserError, match=why):
        parse_reference(reference, base_urls=[])


def test_configured_server_is_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "http://wandb.internal:8080")
    assert allowed_hosts()["wandb.internal:8080"] == {"http"}
    ref = parse_reference("http://wandb.internal:8080/team/vlm/runs/r1")
    assert ref.url == "http://wandb.internal:8080/team/vlm/runs/r1"
    assert parse_reference("team/vlm").url == "http://wandb.internal:8080/team/vlm/workspace"
    monkeypatch.delenv("WANDB_BASE_URL")
    # wandb's own settings file (wandb login --host writes base_url there)
    config = tmp_path / "wandb-config"
    config.mkdir(exist_ok=True)
    (config / "settings").write_text("[default]\nbase_url = https://api.wandb.corp.example\n")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(config))
    assert parse_reference("https://wandb.corp.example/t/p/runs/r2").host == "wandb.corp.example"
    with pytest.raises(UserError, match="not a W&B host"):
        parse_reference("https://wandb.other.example/t/p")


def test_embed_html_is_escaped_and_explains_sharing() -> None:
    html = embed_html("team/vlm/runs/ab12cd34", height=500, base_urls=[])
    assert 'src="https://wandb.ai/team/vlm/runs/ab12cd34?jupyter=true"' in html
    assert "height:500px" in html and "logged in to wandb.ai" in html
    report = embed_html(REPORT, base_urls=[])
    assert "public or shared by link" in report
    assert "<script" not in html.lower()
    assert embed_html("team/vlm", height=10**9, base_urls=[]).count("height:4000px") == 1
    with pytest.raises(UserError, match="is a W&B project, not a run"):
        embed_html("team/vlm", kind="run", base_urls=[])


def test_reference_html_never_raises_and_escapes_what_it_echoes() -> None:
    box = reference_html('https://evil.example/"><img src=x onerror=alert(1)>')
    assert "<img" not in box
    echoed = reference_html("team/<img src=x onerror=alert(1)>/runs/r1")
    assert "<img" not in echoed and "&lt;img src=x onerror=alert(1)&gt;" in echoed
    assert "not a W&amp;B host" in box and "<iframe" not in box
    assert "Paste a W&amp;B URL" in reference_html("  ")
