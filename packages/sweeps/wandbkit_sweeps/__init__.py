"""wandbkit-sweeps (planned): W&B sweep YAML run on W&B or locally on Optuna."""
