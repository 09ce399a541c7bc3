"""A training program a sweep agent starts: it parses --x/--y, logs loss through wandbkit."""

import argparse
import json
import sys
import time

import wandbkit

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--name", default="")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--json", default=None)
args, _ = parser.parse_known_args()
if args.json:
    args.x = json.load(open(args.json))["x"]
if args.x < 0:
    sys.exit(3)
run = wandbkit.init(config={"from_program": True})
for epoch in range(4):
    run.log({"loss": (args.x - 1) ** 2 + 0.1 / (epoch + 1)})
    time.sleep(args.sleep)
run.finish(quiet=True)
