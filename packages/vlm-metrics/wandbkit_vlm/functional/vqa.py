"""VQA accuracy exactly as the official evaluation computes it (GT-Vision-Lab/VQA, ``vqaEval.py``).

The rules, quirks included, so that numbers are comparable with published ones:

- every answer (prediction and human) has newlines and tabs turned into spaces and is stripped;
- only when the human answers of a question are **not all identical**, all of them and the
  prediction are normalised: punctuation (``_process_punctuation``), then number words to digits,
  articles dropped and contractions restored (``_process_digit_article``);
- the prediction is then compared with each human answer as it stands: exactly, so case
  matters when the humans agree (``"Yes"`` scores 0 against ten ``"yes"``), while normalising
  lower-cases every side when they disagree;
- the score is the mean, over the leave-one-out subsets (one human answer left out at a time),
  of ``min(#matches / 3, 1)``.

Two quirks are kept on purpose: the period rule removes at most 32 periods (the official code
passes ``re.UNICODE``, which is 32, as ``re.sub``'s ``count``), and its lookahead ``(?!<=\\d)``
is a misspelt lookbehind, so a period is removed whenever it is not followed by a digit. Human
answers are distinct records in the official data (each has an ``answer_id``), so exactly one
answer is left out per subset even when several have the same text.

The tables below (number words, articles, punctuation, contractions) are the official ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

_NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                 "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = frozenset({"a", "an", "the"})
_PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
                "@", "`", ",", "?", "!")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
_PERIOD_COUNT = re.UNICODE.value  # the official call passes re.UNICODE (32) as ``count``

_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}


def _clean_whitespace(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def _process_punctuation(text: str) -> str:
    # A mark next to a space, or any text holding a digit-comma-digit, loses the mark; elsewhere
    # the mark becomes a space (so "yes/no" -> "yes no"). Both tests look at the input text.
    has_digit_comma = _COMMA_STRIP.search(text) is not None
    out = text
    for mark in _PUNCTUATION:
        if mark + " " in text or " " + mark in text or has_digit_comma:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD_STRIP.sub("", out, count=_PERIOD_COUNT)


def _process_digit_article(text: str) -> str:
    words = [_NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


def normalize_vqa_answer(answer: str) -> str:
    """The official normalisation of one answer: punctuation, number words, articles,
    contractions (applied by :func:`vqa_accuracy` only when the human answers disagree)."""
    return _process_digit_article(_process_punctuation(_clean_whitespace(answer)))


def vqa_score(prediction: str, answers: Sequence[str]) -> float:
    """The official VQA accuracy of one prediction against its human answers, in [0, 1]."""
    if not answers:
        raise ValueError("vqa_score needs at least one human answer")
    human = [_clean_whitespace(a) for a in answers]
    pred = _clean_whitespace(prediction)
    if len(set(human)) > 1:
        human = [_process_digit_article(_process_punctuation(a)) for a in human]
        pred = _process_digit_article(_process_punctuation(pred))
    hits = [a == pred for a in human]
    total = sum(hits)
    # Leaving answer i out removes one match when answer i matched.
    per_subset = [min(1.0, (total - hit) / 3.0) for hit in hits]
    return sum(per_subset) / len(per_subset)


def vqa_accuracy(predictions: Sequence[str], answers: Sequence[Sequence[str]],
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Official VQA accuracy per question.

    :param predictions: B predicted answers.
    :param answers: B lists of human answers (ten in VQA v2).
    :returns: ``Tensor[B]`` in [0, 1] (the official code reports 100 x the mean).

    Strings live on the host, so this is plain Python; the result is moved to ``device``.
    """
    if len(predictions) != len(answers):
        raise ValueError(f"vqa_accuracy: {len(predictions)} predictions for {len(answers)} "
                         f"answer lists")
    scores = [vqa_score(p, a) for p, a in zip(predictions, answers, strict=True)]
    return torch.tensor(scores, dtype=torch.float32, device=device)
