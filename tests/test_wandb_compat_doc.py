"""docs/wandb-compat.md says one thing per wandb API: a call is never listed both as "not
supported" and, in another row, as supported (a row left behind when the call was built)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "wandb-compat.md"


def _rows() -> list[tuple[set[str], str]]:
    """(the API names of the first cell, the status cell) of every table row."""
    rows = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and "`" in cells[0]:
            names = {n.split("(")[0].strip() for n in re.findall(r"`([^`]+)`", cells[0])}
            rows.append((names, cells[1]))
    return rows


def test_no_call_is_both_unsupported_and_supported() -> None:
    rows = _rows()
    assert rows
    unsupported = {n for names, status in rows if status.startswith("not supported") for n in names}
    contradicted = sorted(n for names, status in rows if not status.startswith("not supported")
                          for n in names if n in unsupported)
    assert contradicted == [], f"listed as not supported and as supported: {contradicted}"
