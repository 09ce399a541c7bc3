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
    # ... and with nothing normalised the comparison is exact, so case matters: the official
    # script lower-cases only inside the normalisation it skips for agreeing humans.
    assert vqa_score("Yes", ["yes"] * 10) == 0.0
    assert vqa_score("yes", ["yes"] * 10) == 1.0
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


# --- the official evaluation loop, transcribed (GT-Vision-Lab/VQA vqaEval.py, master), as an oracle

def _official(pred: str, answers: list[str]) -> float:
    import re

    from wandbkit_vlm.functional import vqa as tables

    punct = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
             "@", "`", ",", "?", "!"]
    period_strip, comma_strip = re.compile(r"(?!<=\d)(\.)(?!\d)"), re.compile(r"(\d)(\,)(\d)")

    def process_punctuation(in_text: str) -> str:
        out_text = in_text
        for p in punct:
            if (p + " " in in_text or " " + p in in_text) or (re.search(comma_strip, in_text) is not None):
                out_text = out_text.replace(p, "")
            else:
                out_text = out_text.replace(p, " ")
        return period_strip.sub("", out_text, re.UNICODE)

    def process_digit_article(in_text: str) -> str:
        out = []
        for word in in_text.lower().split():
            word = tables._NUMBER_WORDS.get(word, word)
            if word not in tables._ARTICLES:
                out.append(word)
        return " ".join(tables._CONTRACTIONS.get(w, w) for w in out)

    gts = [{"answer": a.replace("\n", " ").replace("\t", " ").strip(), "answer_id": i}
           for i, a in enumerate(answers)]
    res_ans = pred.replace("\n", " ").replace("\t", " ").strip()
    if len({g["answer"] for g in gts}) > 1:
        for g in gts:
            g["answer"] = process_digit_article(process_punctuation(g["answer"]))
        res_ans = process_digit_article(process_punctuation(res_ans))
    accs = []
    for datum in gts:
        others = [g for g in gts if g != datum]
        accs.append(min(1, len([g for g in others if g["answer"] == res_ans]) / 3))
    return sum(accs) / len(accs)


_WORDS = ["Yes", "yes", "YES", "no", "two", "2", "Two", "the dog", "The Dog", "dog", "a cat",
          "dog.", "dog!", "black/white", "black white", "1,000", "1000", "3.5", "isnt", "isn't",
          "none", "0", " yes\n", "red-blue", "red blue", "x , y", "ten", "10"]


def test_equals_the_official_loop_on_its_rules() -> None:
    import random

    rng = random.Random(0)
    cases = [(p, [a] * 10) for p in _WORDS for a in _WORDS[:12]]  # identical humans
    for _ in range(400):  # differing humans
        cases.append((rng.choice(_WORDS), [rng.choice(_WORDS) for _ in range(10)]))
    mismatches = [(p, a) for p, a in cases if vqa_score(p, a) != pytest.approx(_official(p, a))]
    assert not mismatches, mismatches[:5]
