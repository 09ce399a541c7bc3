"""wandbkit-hf (planned): HuggingFace Trainer integration (a TrainerCallback that logs through
wandbkit, one W&B run, checkpoints through wandbkit-artifacts).
"""
