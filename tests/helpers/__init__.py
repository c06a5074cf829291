"""Helpers every suite shares (``tests/`` is on ``sys.path`` through its conftest).

- ``helpers.git``: throwaway git repositories with a local identity;
- ``helpers.cluster``: whether the two-node SLURM cluster is up, and its nodes;
- ``helpers.synth``: spec-conformant experiment folders written with nothing but
  json and os (also the benchmarks' data sets, bench/synth.py).

Each module needs only the standard library, so every suite's virtualenv can
import it; this package imports none of them, so importing one costs nothing
of the others.
"""
