"""A toy ARR-COC vision-language model, small enough to train on two CPU cores in a minute.

The pipeline a reader can follow top to bottom in ``forward``:

1. per-patch texture features: each ``P x P`` patch is flattened and embedded (plus a position);
2. three scorers, each a ``[B, N]`` map in [0, 1]: propositional (entropy of the patch's
   intensity histogram), perspectival (Sobel edges in the patch), participatory (cosine of the patch
   with the question);
3. balancing: per-image weights from the question, ``r = minmax(sum_k w_k s_k)``;
4. top-K selection of the most relevant patches, softly gated at the cut;
5. token allocation ``t = snap_L(64 + 336 r^gamma)``: a patch given more tokens keeps more of
   its feature channels (a stand-in for a higher level of detail);
6. the question attends over the selected patches and a head answers (9 locations); a small
   contrastive loss keeps image and question embeddings aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from wandbkit_vlm import functional as VF
from wandbkit_vlm.toy.data import LOCATIONS, WORDS, ToyDataConfig


@dataclass(frozen=True)
class ToyModelConfig:
    """Sizes of the toy model."""

    dim: int = 64
    bins: int = 16             # intensity histogram bins behind the propositional score
    heads: int = 4
    keep: int = 16             # patches selected (top-K) out of grid*grid
    gate_width: float = 0.1    # relevance margin over the cut at which a patch is fully attended
    gamma: float = 1.0
    levels: tuple[int, ...] = VF.DEFAULT_LEVELS
    token_cap: int = 16 * 256  # per-image budget the utilisation is measured against
    contrastive_weight: float = 0.05
    data: ToyDataConfig = ToyDataConfig()


class ToyARRCOC(nn.Module):
    """Patches -> three scorers -> balance -> top-K -> token allocation -> attention -> answer."""

    def __init__(self, config: ToyModelConfig = ToyModelConfig()) -> None:
        super().__init__()
        self.config = config
        c, d = config, config.dim
        patch_dim = 3 * c.data.patch * c.data.patch
        n = c.data.grid * c.data.grid
        self.patch_embed = nn.Linear(patch_dim, d)
        self.position = nn.Parameter(torch.randn(n, d) * 0.5)
        self.word_embed = nn.Embedding(len(WORDS), d)
        self.balance = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 3))
        self.norm = nn.LayerNorm(d)
        self.attend = nn.MultiheadAttention(d, c.heads, batch_first=True)
        self.image_proj = nn.Linear(d, d)
        self.text_proj = nn.Linear(d, d)
        self.head = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, len(LOCATIONS)))
        self.logit_scale = nn.Parameter(torch.tensor(2.0))
        # Texture channel d of a patch survives when the patch has at least this many tokens:
        # 64 tokens keep a quarter of the channels, 256 or more keep them all.
        self.register_buffer("channel_need", torch.linspace(0, 256, d), persistent=False)

    def forward(self, pixel_values: torch.Tensor, question_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> dict[str, Any]:
        """Run the pipeline; returns the named tensors the vlm metrics read (see module doc)."""
        c = self.config
        patches = VF.patchify(pixel_values, c.data.patch)                       # [B, N, 3PP]
        texture = self.patch_embed(patches)
        feats = texture + self.position                                        # [B, N, D]
        text = self.word_embed(question_ids)                                   # [B, T, D]
        question = VF.mean_text_embedding(text, attention_mask)                # [B, D]

        grey = patches.view(*patches.shape[:2], 3, -1).mean(dim=2)             # [B, N, PP]
        propositional = VF.propositional_relevance(patch_pixels=grey, bins=c.bins)
        perspectival = VF.perspectival_relevance(pixel_values, c.data.patch)
        participatory = VF.participatory_relevance(feats, question)
        scores = torch.stack([propositional, perspectival, participatory], dim=1)  # [B, 3, N]
        weights = self.balance(question).softmax(dim=-1)                       # [B, 3]
        relevance = VF.balanced_relevance(scores, weights)                     # [B, N]

        selected = VF.top_k_mask(relevance, c.keep)                            # [B, N] bool
        tokens = VF.allocate_tokens(relevance.detach(), selected, c.gamma, c.levels)
        detail = (tokens.unsqueeze(-1) >= self.channel_need).float()           # [B, N, D]
        # Scaling by relevance lets the loss reach the scorers through the hard selection.
        kept = self.norm(texture * detail * (0.5 + relevance.unsqueeze(-1)) + self.position)

        # Soft gate on the selected patches: 1 well inside the top K, falling to 0 at the first
        # patch left out, so two patches swapping places at the cut change the attention
        # continuously (a hard mask makes the loss jump whenever the selection flips).
        cut = relevance.topk(min(c.keep + 1, relevance.shape[1]), dim=1).values[:, -1:]
        gate = ((relevance - cut) / c.gate_width).clamp(0, 1)
        bias = torch.where(selected, (gate + 1e-4).log(), torch.full_like(gate, float("-inf")))
        bias = bias.repeat_interleave(c.heads, dim=0).unsqueeze(1)            # [B*h, 1, N]
        attended, attention = self.attend(question.unsqueeze(1), kept, kept, attn_mask=bias,
                                          need_weights=True, average_attn_weights=False)
        image_embed = self.image_proj(attended.squeeze(1))
        text_embed = self.text_proj(question)
        logits = self.head(torch.cat([image_embed, text_embed], dim=-1))        # [B, 9]
        return {
            "answer_logits": logits, "logits": logits.unsqueeze(1),
            "vision_features": feats, "text_features": text,
            "image_embeds": image_embed, "text_embeds": text_embed,
            "relevance_scores": scores, "relevance_weights": weights, "relevance": relevance,
            "selected": selected, "tokens": tokens,
            "attention": attention,                                            # [B, h, 1, N]
            "grid": (c.data.grid, c.data.grid), "patch_size": c.data.patch,
            "lod_levels": c.levels, "token_cap": c.token_cap,
        }


class LazyAnswers:
    """The predicted answer strings, read from the logits only when someone iterates them
    (building strings needs the values on the host: a device sync on a GPU)."""

    def __init__(self, logits: torch.Tensor) -> None:
        self._logits = logits.detach()
        self._words: list[str] | None = None

    def _load(self) -> list[str]:
        if self._words is None:
            self._words = [LOCATIONS[i] for i in self._logits.argmax(dim=-1).tolist()]
        return self._words

    def __iter__(self) -> Any:
        return iter(self._load())

    def __len__(self) -> int:
        return int(self._logits.shape[0])

    def __getitem__(self, i: int) -> str:
        return self._load()[i]


def compute_loss(model: ToyARRCOC, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
    """Answer cross-entropy plus a small CLIP-style contrastive term; returns ``(loss, outputs)``
    with ``outputs["loss"]`` and lazily decoded ``outputs["predictions"]`` added."""
    out = model(batch["pixel_values"], batch["question_ids"], batch.get("attention_mask"))
    answer_loss = F.cross_entropy(out["answer_logits"], batch["answer_ids"])
    img = F.normalize(out["image_embeds"], dim=-1)
    txt = F.normalize(out["text_embeds"], dim=-1)
    sim = img @ txt.T * model.logit_scale.exp()
    target = torch.arange(sim.shape[0], device=sim.device)
    contrastive = (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target)) / 2
    loss = answer_loss + model.config.contrastive_weight * contrastive
    out["loss"] = loss.detach()
    out["answer_loss"] = answer_loss.detach()
    out["predictions"] = LazyAnswers(out["answer_logits"])
    return loss, out
