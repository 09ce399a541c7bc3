"""The built-in smoke checks, one module each; :data:`BUILTIN_CHECKS` lists them in run order."""

from __future__ import annotations

from wandbkit.smoke import SmokeCheck
from wandbkit_torch.smoke.checks import (
    backward,
    determinism,
    forward,
    independence,
    loss_init,
    lr_range,
    nonfinite,
    overfit,
    quick_train,
    zero_baseline,
)

BUILTIN_CHECKS: tuple[SmokeCheck, ...] = (
    SmokeCheck("forward", forward.check, "forward runs; output shape/dtype fit the task; "
               "outputs finite", order=10),
    SmokeCheck("loss_at_init", loss_init.check, "initial loss is close to -log(1/C)", order=20),
    SmokeCheck("backward", backward.check, "every trainable parameter gets a finite, "
               "non-zero gradient", order=30),
    SmokeCheck("batch_independence", independence.check, "sample i's loss does not depend on "
               "sample j's input", order=40),
    SmokeCheck("overfit_batch", overfit.check, "loss on one small batch falls to a fraction "
               "of its start", order=50),
    SmokeCheck("zero_input_baseline", zero_baseline.check, "real inputs train better than "
               "zeroed inputs", order=60),
    SmokeCheck("nonfinite", nonfinite.check, "no NaN/Inf in forward or backward; names the "
               "first offending module", order=70),
    SmokeCheck("lr_range", lr_range.check, "exponential LR sweep; suggests a learning rate",
               order=80),
    SmokeCheck("determinism", determinism.check, "same seed gives the same first losses",
               order=90),
)

# Not part of the default set: `wandbkit smoke --quick-train` runs it alone.
QUICK_TRAIN_CHECK = SmokeCheck("quick_train", quick_train.check, "100 examples x 10 epochs: "
                               "did the training loss fall?", order=200)
