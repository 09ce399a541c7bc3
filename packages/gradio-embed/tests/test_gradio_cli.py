"""``wandbkit dashboard``: refuses to expose the store without a password; serves with one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import wandbkit
from wandbkit.cli import main
from wandbkit.errors import UserError
from wandbkit_gradio.app import check_exposure, is_local_host, parse_auth


def test_exposure_rules() -> None:
    assert is_local_host("127.0.0.1") and is_local_host("::1") and is_local_host("localhost")
    assert not is_local_host("0.0.0.0") and not is_local_host("192.168.1.5")
    assert check_exposure("127.0.0.1", None, False) is None
    assert check_exposure("0.0.0.0", ("u", "p"), False) is None
    with pytest.raises(UserError, match="--auth USER:PASS"):
        check_exposure("0.0.0.0", None, False)
    assert "without a password" in (check_exposure("0.0.0.0", None, True) or "")
    assert parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(UserError, match="USER:PASS"):
            parse_auth(bad)


def test_cli_refuses_a_public_host_without_auth(offline_env: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--host", "0.0.0.0"]) == 2
    assert "--auth USER:PASS" in capsys.readouterr().err
    assert main(["dashboard", "--auth", "nopassword"]) == 2
    assert main(["dashboard", "--dir", str(offline_env / "nowhere")]) == 2
    assert "no wandbkit store" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_with_auth(offline_env: Path) -> None:
    with wandbkit.init(project="cli", name="r", mode="disabled") as run:
        run.log({"loss": 1.0})
    port = _free_port()
    env = {**os.environ, "WANDBKIT_DASHBOARD_AUTH": "ann:s3cret"}
    proc = subprocess.Popen([sys.executable, "-m", "wandbkit", "dashboard", "--host", "0.0.0.0",
                             "--port", str(port), "--project", "cli"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/config", timeout=5)
                status = 200
                break
            except urllib.error.HTTPError as exc:
                status = exc.code
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.5)
        assert status == 401  # the app's config (and every run) needs the password
        login = urllib.request.Request(url + "/login", data=b"username=ann&password=s3cret",
                                       method="POST")
        with urllib.request.urlopen(login, timeout=10) as answer:
            assert answer.status == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"open http://0.0.0.0:{port}" in out or f":{port}" in out


def test_cli_port_in_use_is_one_line(offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--port`` that another program holds: one line naming the port, exit 2."""
    with wandbkit.init(project="cli", name="r", mode="disabled") as run:
        run.log({"loss": 1.0})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port), "--project", "cli"]) == 2
    err = capsys.readouterr().err
    assert f"port {port}" in err and "--port" in err and "Traceback" not in err
