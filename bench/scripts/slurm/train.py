"""The recorded point of the sweeps: a trivial argparse script using ``Experiment.from_parser``."""

import argparse

from meticulous import Experiment

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
print("lr", parser.parse_args().lr)
