"""Launch a grid of meticulous-recorded experiments as SLURM job arrays, or locally.

The command line (``meticulous-slurm``) is the main interface; the functions
here let a script load and expand a sweep file the same way.
"""

from .errors import SubmissionError, SweepError, SweepFileError
from .model import Sweep
from .points import expand_points, point_argv
from .yamlcheck import load_sweep_file, parse_sweep_file

__all__ = [
    "SubmissionError",
    "Sweep",
    "SweepError",
    "SweepFileError",
    "expand_points",
    "load_sweep_file",
    "parse_sweep_file",
    "point_argv",
]
