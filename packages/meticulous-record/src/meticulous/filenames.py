"""The names of an experiment folder's files (spec section 2), written once.

Every module that opens one of them takes its name from here; the reader
holds its own copy (``meticulous_read.spec``), and
``tests/roundtrip/test_spec_agreement.py`` checks that the two agree.
"""

from __future__ import annotations

STATUS_FILE = "STATUS"
METADATA_FILE = "metadata.json"
ARGS_FILE = "args.json"
DEFAULT_ARGS_FILE = "default_args.json"
SUMMARY_FILE = "summary.json"
TAGS_FILE = "tags.json"
METRICS_FILE = "metrics.jsonl"
HEARTBEAT_FILE = "heartbeat"
STDOUT_FILE = "stdout"
STDERR_FILE = "stderr"
DIRTY_PATCH_FILE = "dirty.patch"
UNTRACKED_FILE = "untracked.txt"
LOCK_FILE = ".lock"
# One of these makes a folder an experiment (spec section 1).
MARKER_FILES = (STATUS_FILE, METADATA_FILE, ARGS_FILE)
