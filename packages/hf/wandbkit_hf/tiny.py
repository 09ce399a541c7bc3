"""A tiny GPT-2 built from a config and synthetic token data: for the example, demo and tests.

No hub download and no tokenizer: sequences of token ids follow a simple rule (each token is
the previous one plus a per-sequence stride, modulo the vocabulary), so the loss visibly falls
within a few dozen steps on a CPU.
"""

from __future__ import annotations

from typing import Any


def tiny_gpt2(vocab_size: int = 64, n_positions: int = 32, n_layer: int = 2, n_embd: int = 32,
              n_head: int = 2, seed: int = 0) -> Any:
    """A freshly initialised ``GPT2LMHeadModel`` (about 60k parameters by default).

    Dropout is off so that a resumed run repeats an uninterrupted one exactly.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_layer=n_layer,
                        n_embd=n_embd, n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config)


def synthetic_tokens(n: int = 256, seq_len: int = 16, vocab_size: int = 64,
                     seed: int = 0) -> dict[str, list[list[int]]]:
    """``{"input_ids": ..., "labels": ...}``: ``n`` sequences of ``seq_len`` token ids."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        start, stride = rng.randrange(vocab_size), rng.randrange(1, 4)
        rows.append([(start + i * stride) % vocab_size for i in range(seq_len)])
    return {"input_ids": rows, "labels": [list(r) for r in rows]}


def synthetic_dataset(n: int = 256, seq_len: int = 16, vocab_size: int = 64, seed: int = 0) -> Any:
    """The same data as a ``datasets.Dataset`` (fingerprint, features) when ``datasets`` is
    installed, else a list of dicts (which the Trainer accepts too)."""
    data = synthetic_tokens(n, seq_len, vocab_size, seed)
    try:
        import datasets
    except ImportError:
        return [{"input_ids": ids, "labels": labels}
                for ids, labels in zip(data["input_ids"], data["labels"], strict=True)]
    return datasets.Dataset.from_dict(data)
