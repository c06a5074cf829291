"""A stand-in training script, recorded by meticulous.

Only three lines differ from an unrecorded script: the import,
``Experiment.add_argument_group(parser)`` and ``Experiment.from_parser(parser)``.
"""

import argparse
import math
import random

from meticulous import Experiment

parser = argparse.ArgumentParser(description="Fit a toy model.")
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument(
    "--diverge", action="store_true", help="simulate a run that blows up"
)
Experiment.add_argument_group(parser)

experiment = Experiment.from_parser(parser)
args = parser.parse_args()

random.seed(args.batch_size)
loss = 1.0
for epoch in range(args.epochs):
    loss = loss * (1 - min(args.lr, 0.9)) + random.random() * 0.01
    if args.diverge and epoch == 2:
        raise FloatingPointError(f"loss diverged at epoch {epoch}")
    accuracy = 1 - loss / 2
    print(f"epoch {epoch}: loss {loss:.4f} accuracy {accuracy:.3f}")
    experiment.log({"loss": loss, "accuracy": accuracy})

experiment.summary({"loss": round(loss, 4), "accuracy": round(1 - loss / 2, 4)})
with experiment.open("model.txt", "w") as model:
    model.write(f"weights fitted with lr={args.lr}\n")
print("log(loss) =", round(math.log(loss), 3))
