"""The reader's copy of the spec's names: status words, file names, NaN texts.

The reader never imports the recorder (it runs where the recorder is not
installed), so the rules it shares with it have a home here and in the
other rule modules (``ids``, ``liveness``, ``tags``);
``tests/roundtrip/test_spec_agreement.py`` compares every one of them with
the recorder's and fails on any drift. It imports nothing of the reader.
"""

from __future__ import annotations

import math

SUPPORTED_SPEC_VERSION = 1  # the newest spec-version this reader knows (spec §2.2)

# STATUS words a writer records (spec §2.1) ...
QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
ERROR = "ERROR"
INTERRUPTED = "INTERRUPTED"
CANCELLED = "CANCELLED"
RECORDED_WORDS = (QUEUED, RUNNING, SUCCESS, ERROR, INTERRUPTED, CANCELLED)
TERMINAL_WORDS = (SUCCESS, ERROR, INTERRUPTED, CANCELLED)  # a run that ended
# ... and the words only a reader reports (spec §2.1, §12.3).
DEAD = "DEAD"
BROKEN = "BROKEN"
UNSUPPORTED = "UNSUPPORTED"
DERIVED_WORDS = (DEAD, BROKEN, UNSUPPORTED)

# The files of an experiment folder (spec §2).
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
MARKER_FILES = (STATUS_FILE, METADATA_FILE, ARGS_FILE)  # one makes an experiment

META_FOLDER = ".meticulous"  # in the experiments directory: not an experiment

# JSON has no NaN or infinities: the spec writes them as these strings (§2).
NAN_TEXT = "NaN"
INFINITY_TEXT = "Infinity"
NEGATIVE_INFINITY_TEXT = "-Infinity"
SPECIAL_FLOATS = {
    NAN_TEXT: math.nan,
    INFINITY_TEXT: math.inf,
    NEGATIVE_INFINITY_TEXT: -math.inf,
}


def special_text(value: float) -> str:
    """The spec's string for a NaN or an infinity."""
    if math.isnan(value):
        return NAN_TEXT
    return INFINITY_TEXT if value > 0 else NEGATIVE_INFINITY_TEXT
