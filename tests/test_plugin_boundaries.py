"""The store's schema is core's alone: no plugin package imports ``sqlite3``, calls
``Store._reader()``, or holds SQL naming a core table (with ``store.connect()`` or otherwise).
Plugins read history through ``Store``'s public methods (``rows_since``, ``columns``, ...) and
keep their own tables through ``Store.ensure_schema``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
CORE_TABLES = ("history", "history_columns", "runs", "run_keys", "media", "alerts", "run_fragments")
# SQL keywords are upper case in this code base: "reads from history" in a docstring is prose
CORE_SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+(" + "|".join(CORE_TABLES) + r")\b")


def plugin_sources() -> list[Path]:
    """Every Python file shipped by a plugin package (``packages/*`` but core)."""
    return sorted(p for pkg in PACKAGES.iterdir() if pkg.is_dir() and pkg.name != "core"
                  for top in pkg.glob("wandbkit_*") if top.is_dir() for p in top.rglob("*.py"))


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):  # f-strings: their literal parts, joined
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
    return found


def violations(path: Path) -> list[str]:
    """What in ``path`` crosses into core's tables, one line each (``file:line: what``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(PACKAGES.parent)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sqlite3" for a in node.names):
            out.append(f"{where}:{node.lineno}: import sqlite3 (use wandbkit.store.Connection/Row)")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite3":
            out.append(f"{where}:{node.lineno}: from sqlite3 import ...")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "_reader"):
            out.append(f"{where}:{node.lineno}: Store._reader() is core's")
    sql = [(line, m.group(1)) for line, text in _strings(tree) for m in CORE_SQL.finditer(text)]
    connects = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute) and n.func.attr == "connect"]
    for line, table in sql:
        via = f" (store.connect() at line {', '.join(map(str, connects))})" if connects else ""
        out.append(f"{where}:{line}: SQL on core table {table!r}{via}")
    return out


def test_the_check_sees_every_plugin_package() -> None:
    names = {p.relative_to(PACKAGES).parts[0] for p in plugin_sources()}
    assert {"artifacts", "gradio-embed", "sweeps", "hf", "torch-manual", "vlm-metrics"} <= names


@pytest.mark.parametrize("code, expect", [
    ("import sqlite3\n", "import sqlite3"),
    ("from sqlite3 import Row\n", "from sqlite3"),
    ("with store._reader() as c:\n    pass\n", "_reader()"),
    ("c = store.connect()\nc.execute('SELECT data FROM history WHERE run_id=?')\n", "'history'"),
    ("q = ('SELECT rowid FROM history_columns'\n     ' WHERE run_id=?')\n", "'history_columns'"),
    ("q = f'UPDATE runs SET x={1}'\n", "'runs'"),
])
def test_the_check_catches_each_way_across(tmp_path: Path, code: str, expect: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.PACKAGES", tmp_path)
    source = tmp_path / "plugin" / "wandbkit_plugin" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text(code)
    assert any(expect in v for v in violations(source))


def test_own_tables_and_prose_are_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.PACKAGES", tmp_path)
    source = tmp_path / "plugin" / "wandbkit_plugin" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text('"""Reads from history through Store.rows_since."""\n'
                      "c = store.connect()\nc.execute('SELECT * FROM sweeps_trial_runs')\n"
                      "c.execute('CREATE TABLE artifacts_versions (x)')\n")
    assert violations(source) == []


def test_no_plugin_touches_a_core_table() -> None:
    found = [v for path in plugin_sources() for v in violations(path)]
    assert not found, "plugins crossing into core's tables:\n" + "\n".join(found)
