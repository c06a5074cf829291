"""``python -m meticulous_read``: the ``meticulous`` command."""

import sys

from .cli import main

sys.exit(main())
