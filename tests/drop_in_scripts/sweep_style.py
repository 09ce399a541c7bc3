"""A sweep-style script: defaults in init, the agent's values read back from wandb.config."""

import wandb

defaults = {"learning_rate": 0.01, "batch_size": 16, "optimizer": "adam", "layers": 2}
wandb.init(config=defaults, project="sweep-demo")
wandb.config.update({"learning_rate": 0.5, "dropout": 0.0})  # the sweep's value stays
config = wandb.config

score = 0.0
for epoch in range(5):
    score += config.learning_rate * config.batch_size / config.layers
    penalty = 0.1 if config.optimizer == "sgd" else 0.0
    wandb.log({"epoch": epoch, "val_loss": 1.0 / (1.0 + score) + penalty})
wandb.finish()
