"""Synthetic VQA data: coloured shapes on a textured background, and "where is the ...?" questions.

Each image holds three objects, each in its own cell of a 3x3 layout, each a distinct colour and
a random shape (square, disc, diamond). The question names one object by colour and shape; the
answer is its cell ("top left" ... "bottom right"). Every image is drawn with batched tensor ops.
Each question comes with ten "human" answers in VQA's format: mostly the canonical answer, some
with an article ("the top left", which VQA's normalisation forgives) and one stray answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

COLOURS = {"red": (0.9, 0.15, 0.1), "green": (0.1, 0.75, 0.2), "blue": (0.15, 0.3, 0.95),
           "yellow": (0.95, 0.85, 0.1)}
SHAPES = ("square", "disc", "diamond")
LOCATIONS = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom",
             "bottom right")
OBJECTS = 3
WORDS = ("<pad>", "where", "is", "the", *COLOURS, *SHAPES)
VOCAB = {w: i for i, w in enumerate(WORDS)}
QUESTION_LEN = 5


@dataclass(frozen=True)
class ToyDataConfig:
    """Image size and patch grid: ``grid x grid`` patches of ``patch x patch`` pixels."""

    grid: int = 8
    patch: int = 8

    @property
    def size(self) -> int:
        """Image side in pixels."""
        return self.grid * self.patch


def make_batch(batch_size: int, generator: torch.Generator, config: ToyDataConfig = ToyDataConfig(),
               device: torch.device | str = "cpu") -> dict[str, Any]:
    """One batch as the model and the vlm metrics read it.

    :returns: ``pixel_values`` ``[B, 3, S, S]`` in [0, 1], ``question_ids`` ``[B, 5]``,
        ``attention_mask`` ``[B, 5]``, ``answer_ids`` ``[B]`` (index into ``LOCATIONS``),
        ``labels`` ``[B, 1]`` (the answer as a one-token target), ``answers`` (ten human
        answers per question), ``questions``, ``grid`` and ``patch_size``.
    """
    b, s = batch_size, config.size
    g = generator
    # Three distinct cells and three distinct colours per image: argsort of noise is a batched
    # permutation.
    cells = torch.rand(b, 9, generator=g).argsort(dim=1)[:, :OBJECTS]
    colours = torch.rand(b, len(COLOURS), generator=g).argsort(dim=1)[:, :OBJECTS]
    shapes = torch.randint(len(SHAPES), (b, OBJECTS), generator=g)
    cell = s / 3
    cy = (cells // 3).float() * cell + cell / 2 + (torch.rand(b, OBJECTS, generator=g) - 0.5) * cell * 0.3
    cx = (cells % 3).float() * cell + cell / 2 + (torch.rand(b, OBJECTS, generator=g) - 0.5) * cell * 0.3
    radius = cell * (0.22 + 0.12 * torch.rand(b, OBJECTS, generator=g))

    yy = torch.arange(s, dtype=torch.float32).view(1, 1, s, 1) + 0.5
    xx = torch.arange(s, dtype=torch.float32).view(1, 1, 1, s) + 0.5
    dy = (yy - cy[..., None, None]).abs()
    dx = (xx - cx[..., None, None]).abs()
    r = radius[..., None, None]
    square = torch.maximum(dx, dy) <= r
    disc = dx.square() + dy.square() <= r.square()
    diamond = dx + dy <= r * 1.3
    kind = shapes[..., None, None]
    masks = torch.where(kind == 0, square, torch.where(kind == 1, disc, diamond)).float()  # [B, K, S, S]

    palette = torch.tensor(list(COLOURS.values()))  # [C, 3]
    rgb = palette[colours]  # [B, K, 3]
    background = 0.45 + 0.08 * torch.rand(b, 1, s, s, generator=g).expand(b, 3, s, s)
    paint = torch.einsum("bkhw,bkc->bchw", masks, rgb)
    covered = masks.sum(dim=1, keepdim=True).clamp(max=1)
    pixels = background * (1 - covered) + paint.clamp(max=1)

    target = torch.randint(OBJECTS, (b,), generator=g)
    pick = target.unsqueeze(1)
    answer_ids = cells.gather(1, pick).squeeze(1)
    colour_word = colours.gather(1, pick).squeeze(1) + VOCAB[next(iter(COLOURS))]
    shape_word = shapes.gather(1, pick).squeeze(1) + VOCAB[SHAPES[0]]
    prefix = torch.tensor([VOCAB["where"], VOCAB["is"], VOCAB["the"]]).expand(b, 3)
    question_ids = torch.cat([prefix, colour_word[:, None], shape_word[:, None]], dim=1)

    answers, questions = human_answers(answer_ids, question_ids, g)
    return {
        "pixel_values": pixels.to(device), "question_ids": question_ids.to(device),
        "attention_mask": torch.ones(b, QUESTION_LEN, dtype=torch.long, device=device),
        "answer_ids": answer_ids.to(device), "labels": answer_ids.unsqueeze(1).to(device),
        "answers": answers, "questions": questions, "grid": (config.grid, config.grid),
        "patch_size": config.patch,
    }


def human_answers(answer_ids: torch.Tensor, question_ids: torch.Tensor,
                  generator: torch.Generator) -> tuple[list[list[str]], list[str]]:
    """Ten VQA-style answers per question (7 canonical, 2 with "the", 1 random) and the question
    text. Strings are built on the host: this is data preparation, not a metric."""
    stray = torch.randint(len(LOCATIONS), (answer_ids.shape[0],), generator=generator).tolist()
    answers = []
    for a, s in zip(answer_ids.tolist(), stray, strict=True):
        word = LOCATIONS[a]
        answers.append([word] * 7 + [f"the {word}"] * 2 + [LOCATIONS[s]])
    questions = [" ".join(WORDS[i] for i in q) + "?" for q in question_ids.tolist()]
    return answers, questions


def batches(seed: int, batch_size: int, config: ToyDataConfig = ToyDataConfig(),
            device: torch.device | str = "cpu") -> Iterator[dict[str, Any]]:
    """An endless, seeded stream of batches."""
    g = torch.Generator().manual_seed(seed)
    while True:
        yield make_batch(batch_size, g, config, device)
