"""VQA accuracy follows the official evaluation (GT-Vision-Lab/VQA ``vqaEval.py``) rule by rule."""

from __future__ import annotations

import pytest
import torch

from wandbkit_vlm.functional import normalize_vqa_answer, vqa_accuracy, vqa_score


def test_leave_one_out_average() -> None:
    # 3 of 10 humans said "2": leaving out one of them leaves 2 matches (2/3), leaving out any
    # of the 7 others leaves 3 (1). Mean: (3 * 2/3 + 7 * 1) / 10 = 0.9.
    assert vqa_score("2", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9)
    # 1 match: every subset that keeps it scores 1/3, the one without it 0: 9/30 = 0.3.
    assert vqa_score("2", ["2"] + ["3"] * 9) == pytest.approx(0.3)
    # 4 or more matches: every subset keeps at least 3.
    assert vqa_score("2", ["2"] * 4 + ["3"] * 6) == pytest.approx(1.0)
    assert vqa_score("5", ["2"] * 10) == 0.0


def test_normalisation_only_when_humans_disagree() -> None:
    # All ten identical: the prediction is not normalised, so "two" does not match "2" ...
    assert vqa_score("two", ["2"] * 10) == 0.0
    # ... but case still does not matter (the official comparison lower-cases both sides).
    assert vqa_score("Yes", ["yes"] * 10) == 1.0
    # Humans disagree: "two" -> "2" and "the" is dropped on both sides.
    assert vqa_score("two", ["2"] * 9 + ["3"]) == pytest.approx(1.0)
    assert vqa_score("the dog", ["dog"] * 3 + ["cat"] * 7) == pytest.approx(0.9)
    # Identical humans keep their article: "dog" against ten "the dog" scores 0.
    assert vqa_score("dog", ["the dog"] * 10) == 0.0


def test_punctuation_rules() -> None:
    # A mark next to a space is removed; elsewhere it becomes a space.
    assert normalize_vqa_answer("yes , it is") == "yes it is"
    assert normalize_vqa_answer("black/white") == "black white"
    # A digit-comma-digit anywhere means every mark is removed, not spaced.
    assert normalize_vqa_answer("1,000") == "1000"
    # Periods go unless a digit follows; apostrophes and colons are not in the official list.
    assert normalize_vqa_answer("3.5") == "3.5"
    assert normalize_vqa_answer("end.") == "end"
    assert normalize_vqa_answer("dont") == "don't"
    assert normalize_vqa_answer("10:30") == "10:30"


def test_digits_articles_contractions() -> None:
    assert normalize_vqa_answer("Two Dogs") == "2 dogs"
    assert normalize_vqa_answer("none") == "0"
    assert normalize_vqa_answer("an apple and a pear") == "apple and pear"
    assert normalize_vqa_answer("isnt it") == "isn't it"
    # Only number words up to ten are mapped.
    assert normalize_vqa_answer("eleven") == "eleven"


def test_whitespace_cleaned_always() -> None:
    assert vqa_score(" yes\n", ["yes"] * 10) == 1.0
    assert vqa_score("yes\tno", ["yes no"] * 10) == 1.0


def test_period_strip_count_quirk() -> None:
    # The official call passes re.UNICODE (32) as re.sub's count: only 32 periods go.
    assert normalize_vqa_answer("." * 40 + "x") == "." * 8 + "x"


def test_batch_and_validation() -> None:
    acc = vqa_accuracy(["yes", "no", "2"], [["yes"] * 10, ["yes"] * 10, ["two"] * 5 + ["3"] * 5])
    assert torch.allclose(acc, torch.tensor([1.0, 0.0, 1.0]))
    assert acc.dtype == torch.float32
    with pytest.raises(ValueError, match="2 predictions for 1"):
        vqa_accuracy(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="at least one"):
        vqa_score("a", [])
