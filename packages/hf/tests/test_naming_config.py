"""The pure parts: how Trainer keys are named, and what goes into the config."""

from __future__ import annotations

from wandbkit_hf.config import data_provenance, parameter_counts, peft_config, training_args
from wandbkit_hf.naming import metric_name, split_logs
from wandbkit_hf.tiny import synthetic_dataset, tiny_gpt2


def test_metric_names() -> None:
    assert metric_name("loss") == "train/loss"
    assert metric_name("learning_rate") == "train/learning_rate"
    assert metric_name("eval_loss") == "eval/loss"
    assert metric_name("test_accuracy") == "test/accuracy"
    assert metric_name("eval_wiki_loss", ["wiki", "wiki_long"]) == "eval/wiki/loss"
    assert metric_name("eval_wiki_long_loss", ["wiki", "wiki_long"]) == "eval/wiki_long/loss"
    assert metric_name("eval_other_loss", ["wiki"]) == "eval/other_loss"
    assert metric_name("train_loss") == "train/mean_loss"


def test_split_logs_sends_whole_run_figures_to_the_summary() -> None:
    history, summary = split_logs({"loss": 1.5, "grad_norm": 0.3, "epoch": 0.5, "note": "x"})
    assert history == {"train/loss": 1.5, "train/grad_norm": 0.3, "train/epoch": 0.5}
    assert summary == {}
    history, summary = split_logs({"train_runtime": 3.0, "train_samples_per_second": 9.0,
                                   "total_flos": 1e9, "train_loss": 2.0, "epoch": 1.0})
    assert history == {}
    assert summary == {"train/runtime": 3.0, "train/samples_per_second": 9.0,
                       "train/total_flos": 1e9, "train/mean_loss": 2.0}
    history, summary = split_logs({"eval_a_loss": 1.0, "eval_a_runtime": 0.1}, ["a"])
    assert history == {"eval/a/loss": 1.0} and summary == {"eval/a/runtime": 0.1}


def test_config_parts(tmp_path) -> None:
    from transformers import TrainingArguments

    model = tiny_gpt2()
    counts = parameter_counts(model)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    model.transformer.wte.weight.requires_grad_(False)
    frozen = parameter_counts(model)
    assert frozen["trainable"] == counts["total"] - model.transformer.wte.weight.numel()
    assert peft_config(model) is None

    class Lora:
        def to_dict(self) -> dict:
            return {"r": 8, "target_modules": {"c_attn"}}

    model.peft_config = {"default": Lora()}
    assert peft_config(model) == {"default": {"r": 8, "target_modules": "{'c_attn'}"}}

    train = synthetic_dataset(10, seed=0)
    prov = data_provenance(train, {"x": synthetic_dataset(4, seed=1), "y": [1, 2, 3]})
    assert prov["train"]["fingerprint"] == train._fingerprint and prov["train"]["size"] == 10
    assert prov["eval"]["y"] == {"type": "list", "size": 3}

    args = training_args(TrainingArguments(output_dir=str(tmp_path), hub_token="secret",
                                           report_to="none"))
    assert "secret" not in str(args) and args["output_dir"] == str(tmp_path)
