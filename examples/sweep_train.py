"""The program examples/sweep_program.yaml runs once per trial: it reads its parameters from
the command line (``--lr=0.1 --depth=2 --seed=0``) and logs through its own wandbkit run, which
the sweep agent links to the trial."""

from __future__ import annotations

import argparse

import wandbkit

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--depth", type=int, default=1)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

with wandbkit.init(config=vars(args)) as run:
    loss = 2.0
    for epoch in range(8):
        loss = loss * (1 - min(args.lr, 0.5) / args.depth) + 0.01 * args.depth
        run.log({"val/loss": loss, "epoch": epoch})
