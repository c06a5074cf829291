"""The same trivial script recorded by meticulous (2a, 2b, 3, 8)."""

import argparse

parser = argparse.ArgumentParser(description="a trivial training script")
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--model", default="mlp")
parser.add_argument("--lines", type=int, default=0)
from meticulous import Experiment

Experiment.add_argument_group(parser)
with Experiment.from_parser(parser) as experiment:
    args = parser.parse_args()
    print(f"training {args.model} with lr={args.lr} for {args.epochs} epochs")
    for i in range(args.lines):
        print(f"step {i}: loss={1 / (i + 1):.6f}")
