"""The one-home helpers every package uses: safe paths, the CSV writer, sizes, error lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wandbkit.csvio import csv_cell, write_csv
from wandbkit.errors import UserError
from wandbkit.formatting import first_line, human_size
from wandbkit.paths import join_inside, safe_filename, safe_relative_path


@pytest.mark.parametrize("bad", ["", " ", "../x", "a/../../b", "/etc/passwd", "a\\b", "a\x00b",
                                 "x" * 300, 3, None, ("a",)])
def test_safe_relative_path_refuses_escapes_and_non_names(bad: object) -> None:
    with pytest.raises(UserError):
        safe_relative_path(bad, what="entry")


def test_safe_relative_path_keeps_sub_folders() -> None:
    assert str(safe_relative_path("global_step3/./mp_rank_00.pt")) == "global_step3/mp_rank_00.pt"


def test_join_inside_refuses_a_symlink_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(UserError, match="symbolic link"):
        join_inside(root, "out/x")
    assert join_inside(root, "a/b") == root / "a" / "b"


@given(st.text(max_size=300), st.text(max_size=300))
def test_safe_filename_is_one_component_and_never_collides(a: str, b: str) -> None:
    fa, fb = safe_filename(a), safe_filename(b)
    assert "/" not in fa and fa not in ("", ".", "..") and not fa.startswith(".")
    assert len(fa.encode()) <= 200
    if a != b and len(fa) < 180 and len(fb) < 180:
        assert fa != fb
    assert safe_filename("a/b") != safe_filename("a__b")


def test_csv_guard_quotes_formulas_not_numbers() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@x") == "'@x" and csv_cell("-2.5") == "-2.5" and csv_cell(-2.5) == -2.5
    out = io.StringIO()
    assert write_csv(out, ["k"], [["+cmd"], [1]]) == 2
    assert out.getvalue().splitlines() == ["k", "'+cmd", "1"]


def test_sizes_and_first_lines() -> None:
    assert human_size(999) == "999 B" and human_size(1500) == "1.5 kB" and human_size(2e9) == "2.0 GB"
    assert first_line(ValueError("\n  bad thing\nmore")) == "bad thing"
    assert first_line(KeyError()) == "KeyError"
