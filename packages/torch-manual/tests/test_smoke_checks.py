"""Each built-in smoke check: one model that passes and one planted bug it must catch.

The models are the ones users try from ``examples/smoke_models.py``; every check runs alone on
the real model with real torch, so a failure here is a check that misjudged a model.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from wandbkit_torch.smoke import SmokeSettings, prepare_context, run_checks
from wandbkit_torch.smoke.checks import BUILTIN_CHECKS, QUICK_TRAIN_CHECK

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "smoke_models.py"
CHECKS = {c.name: c for c in [*BUILTIN_CHECKS, QUICK_TRAIN_CHECK]}


pytestmark = pytest.mark.usefixtures("one_thread")


def verdict(check: str, model: str, data: str = "blobs", tmp: Path | None = None, **kw):
    """Run one check on an example model; returns its Verdict."""
    ctx = prepare_context(f"{EXAMPLES}:{model}", f"{EXAMPLES}:{data}", device="cpu",
                          settings=SmokeSettings(**kw))
    if tmp is not None:
        ctx.out_dir = tmp
    report = run_checks(ctx, [CHECKS[check]])
    assert [v.name for v in report.verdicts] == [check]
    return report.verdicts[0]


def test_nine_builtin_checks_in_issue_order():
    assert [c.name for c in BUILTIN_CHECKS] == [
        "forward", "loss_at_init", "backward", "batch_independence", "overfit_batch",
        "zero_input_baseline", "nonfinite", "lr_range", "determinism"]
    assert all(c.description for c in BUILTIN_CHECKS)


# --- 1. forward ---------------------------------------------------------------------------

def test_forward_passes_and_reports_shapes():
    v = verdict("forward", "healthy_mlp")
    assert v.status == "pass", v.reason
    assert v.numbers["output_shape"] == [16, 8] and v.numbers["input_shape"] == [16, 16]
    assert v.numbers["nonfinite_outputs"] == 0


def test_forward_catches_too_few_classes():
    v = verdict("forward", "wrong_classes_mlp")
    assert v.status == "fail"
    assert "only 3 classes" in v.reason


def test_forward_catches_regression_broadcast():
    x = torch.randn(32, 16)
    ctx = prepare_context(f"{EXAMPLES}:regression_mlp", lambda: (x, x.sum(1)), device="cpu")
    v = run_checks(ctx, [CHECKS["forward"]]).verdicts[0]
    assert v.status == "fail" and "broadcast" in v.reason
    assert v.numbers["output_shape"] == [16, 1] and v.numbers["target_shape"] == [16]


# --- 2. loss at init ----------------------------------------------------------------------

def test_loss_at_init_matches_log_classes():
    v = verdict("loss_at_init", "healthy_mlp")
    assert v.status == "pass", v.reason
    assert v.numbers["expected"] == pytest.approx(math.log(8), abs=1e-4)
    assert v.numbers["relative_error"] <= 0.25


def test_loss_at_init_catches_hot_init():
    v = verdict("loss_at_init", "hot_init_mlp")
    assert v.status == "fail"
    assert v.numbers["actual"] > 2 * v.numbers["expected"]
    assert "init scale" in v.reason


def test_loss_at_init_uses_vocab_for_lm_and_skips_regression():
    lm = verdict("loss_at_init", "tiny_lm", "tokens")
    assert lm.status == "pass" and lm.numbers["classes"] == 32
    assert verdict("loss_at_init", "regression_mlp", "waves").status == "skip"


# --- 3. backward --------------------------------------------------------------------------

def test_backward_passes_with_all_grads():
    v = verdict("backward", "healthy_mlp")
    assert v.status == "pass", v.reason
    assert v.numbers["trainable"] == 6


@pytest.mark.parametrize(("model", "names"), [
    ("unused_layer_mlp", ["refine.weight", "refine.bias"]),
    ("detached_mlp", ["gate.weight", "gate.bias"])])
def test_backward_names_parameters_without_grad(model, names):
    v = verdict("backward", model)
    assert v.status == "fail"
    assert v.numbers["no_grad"] == names
    assert all(n in v.reason for n in names)


def test_backward_catches_zero_grads():
    v = verdict("backward", "sign_mlp")
    assert v.status == "fail" and "all-zero grad" in v.reason
    assert "fc1.weight" in v.numbers["zero_grad"]


# --- 4. batch independence ----------------------------------------------------------------

def test_batch_independence_passes():
    v = verdict("batch_independence", "healthy_mlp")
    assert v.status == "pass", v.reason
    assert v.numbers["other_grad_max"] == 0.0 and v.numbers["own_grad_max"] > 0


def test_batch_independence_catches_view_transpose_bug():
    v = verdict("batch_independence", "batch_mixing_mlp")
    assert v.status == "fail"
    assert v.numbers["leak_ratio"] > 0.01
    assert "mixes the batch" in v.reason


def test_batch_independence_goes_through_the_embedding_for_tokens():
    v = verdict("batch_independence", "tiny_lm", "tokens")
    assert v.status == "pass", v.reason
    assert v.numbers["gradient_at"] == "output of embedding 'tok'"


class _MixingLM(nn.Module):
    """Token model whose hidden states are averaged over the batch (a planted bug)."""

    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(32, 16)
        self.out = nn.Linear(16, 32)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.tok(idx)
        return self.out(h + h.mean(dim=0, keepdim=True))


def test_batch_independence_catches_mixing_in_token_models():
    ctx = prepare_context(_MixingLM, f"{EXAMPLES}:tokens", device="cpu")
    v = run_checks(ctx, [CHECKS["batch_independence"]]).verdicts[0]
    assert v.status == "fail", v.reason


def test_batch_independence_skips_integer_inputs_without_embedding():
    class OneHot(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(32, 32)

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            return self.lin(nn.functional.one_hot(idx, 32).float())

    ctx = prepare_context(OneHot, f"{EXAMPLES}:tokens", device="cpu")
    v = run_checks(ctx, [CHECKS["batch_independence"]]).verdicts[0]
    assert v.status == "skip" and "embedding" in v.reason


# --- 5. overfit one batch -----------------------------------------------------------------

def test_overfit_passes_and_reports_curve():
    v = verdict("overfit_batch", "healthy_mlp")
    assert v.status == "pass", v.reason
    curve = v.numbers["curve"]
    assert len(curve) == 101 and curve[-1] < 0.1 * curve[0]


def test_overfit_catches_model_that_cannot_learn():
    v = verdict("overfit_batch", "sign_mlp")
    assert v.status == "fail"
    assert v.numbers["ratio"] > 0.9


# --- 6. zeroed-input baseline -------------------------------------------------------------

def test_zero_baseline_passes_when_inputs_matter():
    v = verdict("zero_input_baseline", "healthy_mlp")
    assert v.status == "pass", v.reason
    assert v.numbers["real_final"] < 0.8 * v.numbers["zero_final"]


def test_zero_baseline_catches_model_ignoring_input():
    v = verdict("zero_input_baseline", "input_ignoring_mlp")
    assert v.status == "fail"
    assert "input ignored" in v.reason
    assert v.numbers["real_final"] == pytest.approx(v.numbers["zero_final"], rel=0.05)


# --- 7. NaN / Inf with the first offending module -----------------------------------------

def test_nonfinite_passes_on_healthy_model():
    v = verdict("nonfinite", "healthy_mlp")
    assert v.status == "pass", v.reason


def test_nonfinite_names_module_dividing_by_zero():
    v = verdict("nonfinite", "nan_division_mlp")
    assert v.status == "fail"
    assert v.numbers == {"phase": "forward", "module": "norm"}
    assert "'norm' (SumNorm)" in v.reason


def test_nonfinite_names_module_whose_backward_makes_nan():
    v = verdict("nonfinite", "sqrt_mlp")
    assert v.status == "fail"
    assert v.numbers == {"phase": "backward", "module": "root"}


def test_nonfinite_blames_parent_code_between_modules():
    class Parent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(16, 16)
            self.b = nn.Linear(16, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.log(self.a(x) - 100.0))  # log of negatives: NaN, in no module

    ctx = prepare_context(Parent, f"{EXAMPLES}:blobs", device="cpu")
    v = run_checks(ctx, [CHECKS["nonfinite"]]).verdicts[0]
    assert v.status == "fail"
    assert v.numbers["module"] == "Parent" and "input of 'b'" in v.reason


# --- 8. LR range test ---------------------------------------------------------------------

def test_lr_range_suggests_lr_and_saves_plot(tmp_path):
    v = verdict("lr_range", "healthy_mlp", tmp=tmp_path)
    assert v.status == "pass", v.reason
    lr = v.numbers["suggested_lr"]
    assert 1e-6 <= lr <= v.numbers["min_loss_lr"] / 10 + 1e-12
    assert v.numbers["min_loss"] < 0.9 * v.numbers["initial_loss"]
    with Image.open(v.numbers["plot"]) as img:
        assert img.format == "PNG" and img.size == (600, 400)
    assert Path(v.numbers["plot"]).parent == tmp_path


def test_lr_range_catches_untrainable_model(tmp_path):
    v = verdict("lr_range", "sign_mlp", tmp=tmp_path)
    assert v.status == "fail"
    assert "no learning rate" in v.reason


# --- 9. determinism -----------------------------------------------------------------------

def test_determinism_passes_with_seeded_dropout():
    ctx = prepare_context(lambda: nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.5),
                                                nn.Linear(32, 8)),
                          f"{EXAMPLES}:blobs", device="cpu")
    v = run_checks(ctx, [CHECKS["determinism"]]).verdicts[0]
    assert v.status == "pass", v.reason
    assert v.numbers["run_a"] == v.numbers["run_b"]


def test_determinism_catches_unseeded_dropout():
    v = verdict("determinism", "nondeterministic_mlp")
    assert v.status == "fail"
    assert v.numbers["max_rel_diff"] > 1e-4
    assert v.numbers["run_a"] != v.numbers["run_b"]


# --- quick train --------------------------------------------------------------------------

def test_quick_train_reports_fall():
    v = verdict("quick_train", "healthy_mlp")
    assert v.status == "pass", v.reason
    assert v.numbers["examples"] == 100 and v.numbers["epochs"] == 10
    assert len(v.numbers["epoch_losses"]) == 10
    assert v.numbers["fall"] >= 0.1


def test_quick_train_fails_when_loss_does_not_fall():
    v = verdict("quick_train", "sign_mlp")
    assert v.status == "fail"
    assert v.numbers["fall"] <= 0
