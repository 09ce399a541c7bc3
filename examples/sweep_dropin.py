"""A W&B Python sweep, unchanged but for the import: ``wandb.sweep`` + ``wandb.agent``.

    pip install wandbkit-sweeps
    python examples/sweep_dropin.py

With ``import wandbkit as wandb`` the sweep runs on wandbkit-sweeps' local engine (Optuna in
the store, no network): each trial calls ``train()``, whose ``wandb.init()`` gets the trial's
values, as under W&B's agent; the runs are grouped under the sweep's id. Set
``WANDBKIT_SWEEP_ENGINE=wandb`` (logged in, online) to run it on W&B's servers instead.
"""

import wandbkit as wandb

SWEEP = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"lr": {"values": [0.001, 0.01, 0.1, 1.0]}, "layers": {"value": 2}},
}


def train(config=None):
    """W&B's idiom: defaults in init, the sweep's values read back from wandb.config."""
    with wandb.init(config=config or {"lr": 0.5, "layers": 1}):
        config = wandb.config
        for epoch in range(3):
            wandb.log({"val_loss": abs(config.lr - 0.01) * config.layers + 1 / (epoch + 1)})


if __name__ == "__main__":
    sweep_id = wandb.sweep(SWEEP, project="sweep-dropin")
    wandb.agent(sweep_id, function=train, count=4)
    print(f"sweep {sweep_id} done: wandbkit sweep show {sweep_id}")
