"""The same script unrecorded, run as a bare SLURM array (``sbatch --wrap``)."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
print("lr", parser.parse_args().lr)
