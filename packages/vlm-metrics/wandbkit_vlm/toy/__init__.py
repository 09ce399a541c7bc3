"""A toy ARR-COC vision-language model and its synthetic data, for examples, tests and the demo.

>>> from wandbkit_vlm.toy import DEMO_MODEL
>>> model = DEMO_MODEL.build()
>>> batch = next(DEMO_MODEL.batches(seed=0, batch_size=8))
>>> loss, outputs = DEMO_MODEL.loss(model, batch)
"""

from __future__ import annotations

from wandbkit_vlm.toy.data import LOCATIONS, ToyDataConfig, batches, make_batch
from wandbkit_vlm.toy.demo import DEMO_MODEL, DemoModel, SmokeToyARRCOC, smoke_batch, smoke_data, smoke_model
from wandbkit_vlm.toy.model import LazyAnswers, ToyARRCOC, ToyModelConfig, compute_loss

__all__ = ["DEMO_MODEL", "LOCATIONS", "DemoModel", "LazyAnswers", "SmokeToyARRCOC", "ToyARRCOC",
           "ToyDataConfig", "ToyModelConfig", "batches", "compute_loss", "make_batch", "smoke_batch",
           "smoke_data", "smoke_model"]
