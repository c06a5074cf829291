"""The same trivial script logging its args to mlflow's default store (2a, 2b)."""

import argparse

parser = argparse.ArgumentParser(description="a trivial training script")
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--model", default="mlp")
parser.add_argument("--lines", type=int, default=0)
import mlflow

args = parser.parse_args()
with mlflow.start_run():
    mlflow.log_params(vars(args))
    print(f"training {args.model} with lr={args.lr} for {args.epochs} epochs")
    for i in range(args.lines):
        print(f"step {i}: loss={1 / (i + 1):.6f}")
