"""The recorder's and the reader's homes of each spec rule agree.

The reader never imports the recorder, so the rules both need live twice:
in ``meticulous`` (``status``, ``ids``, ``liveness``, ``tags``, ``jsonable``)
and in ``meticulous_read`` (``spec``, ``ids``, ``liveness``, ``tags``). Each
test here puts one rule of the two side by side, constants and behaviour,
and fails on any drift.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import meticulous.ids as record_ids
import meticulous.jsonable as record_json
import meticulous.liveness as record_liveness
import meticulous.runinfo as record_runinfo
import meticulous.status as record_status
import meticulous.tags as record_tags
import meticulous_read.ids as read_ids
import meticulous_read.liveness as read_liveness
import meticulous_read.metrics as read_metrics
import meticulous_read.spec as read_spec
import meticulous_read.status as read_status
import meticulous_read.tags as read_tags
import pytest
from helpers.git import make_repo
from meticulous.exceptions import InvalidExperimentError, InvalidTagError


def test_status_words():
    recorded = [
        record_status.QUEUED,
        record_status.RUNNING,
        record_status.SUCCESS,
        record_status.ERROR,
        record_status.INTERRUPTED,
        record_status.CANCELLED,
    ]
    assert list(read_spec.RECORDED_WORDS) == recorded
    assert tuple(read_spec.TERMINAL_WORDS) == tuple(record_status.TERMINAL_WORDS)
    assert set(record_status.TERMINAL_WORDS) == set(recorded) - {"QUEUED", "RUNNING"}
    assert read_status.RUNNING == record_status.RUNNING
    # DEAD is derived by readers; the recorder says it of a rank that died.
    from meticulous.rankends import DEAD

    assert DEAD == read_spec.DEAD
    assert not set(read_spec.DERIVED_WORDS) & set(recorded)


def test_spec_version_and_meta_folder():
    assert read_spec.SUPPORTED_SPEC_VERSION == record_runinfo.SPEC_VERSION
    assert read_spec.META_FOLDER == record_ids.META_FOLDER


def test_status_file_reads_the_same(tmp_path):
    """A STATUS the recorder writes is what both read back."""
    for word, message in [("RUNNING", ""), ("ERROR", "boom\nline 2\n")]:
        record_status.write_status(tmp_path, word, message)
        assert (tmp_path / read_spec.STATUS_FILE).is_file()
        assert record_status.read_status(tmp_path) == (word, message)
        from meticulous_read.folder import read_snapshot

        snapshot = read_snapshot(str(tmp_path), "1")
        assert snapshot is not None
        assert (snapshot["word"], snapshot["message"]) == (word, message.rstrip("\n"))


IDS = [
    "0",
    "1",
    "42",
    "007",
    "-1",
    "+1",
    "1.5",
    "١٢",  # Arabic-Indic digits: isdigit, not ASCII
    "²",
    "name",
    "a b",
    "run.fold0",
    "",
    "x" * 200,
    "x" * 201,
]


@pytest.mark.parametrize("name", IDS)
def test_integer_ids_and_their_order(name):
    assert read_ids.is_integer_id(name) == record_ids.is_integer_id(name)
    assert read_ids.sort_key(name) == record_ids.id_sort_key(name)


@pytest.mark.filterwarnings("ignore::meticulous_read.MeticulousReadWarning")
def test_ids_the_recorder_accepts_are_folders_the_reader_lists(tmp_path):
    """Every id the recorder allows is an experiment the reader shows; what
    it refuses (``.hidden``, separators) is nothing the reader would list."""
    from meticulous_read import Experiments

    good = ["1", "2", "10", "run", "run.fold0", "é", "x" * 200]
    bad = ["", ".hidden", "..", "a/b", "a\\b", "tab\t", " lead", "trail ", "x" * 201]
    for name in good:
        assert record_ids.validate_id(name) == name
        folder = tmp_path / name
        folder.mkdir()
        record_status.write_status(folder, record_status.SUCCESS)
    for name in bad:
        with pytest.raises(InvalidExperimentError):
            record_ids.validate_id(name)
    listed = Experiments(str(tmp_path), cache=False).ids
    assert sorted(listed) == sorted(good)
    assert listed == sorted(good, key=record_ids.id_sort_key)


def test_liveness_constants_and_limit():
    for name in [
        "DEFAULT_INTERVAL_SECONDS",
        "CACHE_BOUND_SECONDS",
        "MIN_INTERVAL_SECONDS",
        "MAX_INTERVAL_SECONDS",
    ]:
        assert getattr(read_liveness, name) == getattr(record_liveness, name), name
    assert read_liveness.MAX_HEARTBEAT_BYTES == record_liveness.MAX_BEAT_FILE_BYTES
    for interval in [0.0, 0.01, 0.05, 0.5, 5.0, 30.0, 3600.0, 1e6]:
        assert read_liveness.staleness_limit(interval) == pytest.approx(
            record_liveness.staleness_limit(interval)
        )
    assert read_liveness.staleness_limit() == record_liveness.staleness_limit()
    assert read_status.HEARTBEAT_LIMIT_SECONDS == record_liveness.staleness_limit()


@pytest.mark.parametrize("state", [record_liveness.BEATING, record_liveness.ENDED])
@pytest.mark.parametrize("interval", [0.01, 0.2, 5.0, 7200.0])
def test_a_beat_the_recorder_writes_the_reader_parses(state, interval):
    content = (
        record_liveness.header_line("host", 123)
        + record_liveness.beat_line(state, 7, 1_700_000_000.25, interval)
    ).encode()
    recorded = record_liveness.parse_beat(content)
    read = read_liveness.parse_beat(content)
    assert recorded is not None and read is not None
    word, moment, read_interval = read
    assert (word, moment) == (recorded.state, recorded.time)
    # the reader clamps when it computes the limit, the recorder when it parses
    assert read_liveness.staleness_limit(read_interval) == pytest.approx(
        record_liveness.staleness_limit(recorded.interval)
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"host 1\n", b"host 1\nbeat x 1.0 5.0\n", b"host 1\nbeat 1 nan 5.0\n"],
)
def test_beats_both_refuse(content):
    assert record_liveness.parse_beat(content) is None
    assert read_liveness.parse_beat(content) is None


def test_nan_strings():
    written = record_json.readable([math.nan, math.inf, -math.inf, 1.5])
    assert written == [
        read_spec.NAN_TEXT,
        read_spec.INFINITY_TEXT,
        read_spec.NEGATIVE_INFINITY_TEXT,
        1.5,
    ]
    for text, value in zip(written, [math.nan, math.inf, -math.inf]):
        parsed = read_metrics.SPECIAL_FLOATS[text]
        assert (math.isnan(parsed) and math.isnan(value)) or parsed == value
        assert read_spec.special_text(value) == text
    assert set(read_spec.SPECIAL_FLOATS) == set(written[:3])


TAG_KEYS = [
    "ok",
    "with space",
    "é",
    "x" * 200,
    "x" * 201,
    "",
    "a\nb",
    "\x85",
    "\ud800",
    3,
]


@pytest.mark.parametrize("key", TAG_KEYS)
def test_tag_rules(key):
    assert read_tags.FILE_NAME == record_tags.FILE_NAME == read_spec.TAGS_FILE
    assert read_tags.LOCK_NAME == record_tags.LOCK_NAME
    assert read_tags.MAX_KEY == record_tags.MAX_KEY
    assert read_tags.MAX_BYTES == record_tags.MAX_BYTES
    try:
        record_tags._check_keys({key: 1})
        recorder_accepts = True
    except InvalidTagError:
        recorder_accepts = False
    try:
        read_tags.check_key(key)
        reader_accepts = True
    except read_tags.TagError:
        reader_accepts = False
    assert recorder_accepts == reader_accepts


def _record_one_run(project: Path) -> Path:
    script = """\
        from meticulous import Experiment
        e = Experiment({"lr": 0.1}, {"lr": 0.1})
        e.log({"loss": 1.0})
        e.summary({"loss": 1.0})
        e.tag({"group": "a"})
        print("hello")
        """
    make_repo(project, {"train.py": script})
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True)
    (folder,) = [p for p in (project / "experiments").iterdir() if p.name[0] != "."]
    return folder


def test_recorded_files_carry_the_readers_names(tmp_path):
    folder = _record_one_run(tmp_path)
    names = set(os.listdir(folder))
    expected = {
        read_spec.STATUS_FILE,
        read_spec.METADATA_FILE,
        read_spec.ARGS_FILE,
        read_spec.DEFAULT_ARGS_FILE,
        read_spec.SUMMARY_FILE,
        read_spec.TAGS_FILE,
        read_spec.METRICS_FILE,
        read_spec.STDOUT_FILE,
        read_spec.STDERR_FILE,
    }
    assert expected <= names, expected - names
    assert set(read_spec.MARKER_FILES) <= names
    assert (folder.parent / read_spec.META_FOLDER).is_dir()
    assert json.loads((folder / read_spec.ARGS_FILE).read_text()) == {"lr": 0.1}


def test_rank_folders():
    from meticulous.rankends import rank_folder
    from meticulous_read.ranks import RANKS_FOLDER

    assert rank_folder(Path("run"), 3) == Path("run", RANKS_FOLDER, "3")


def test_file_names():
    import meticulous.filenames as record_names

    shared = [name for name in dir(read_spec) if name.endswith("_FILE")]
    assert len(shared) >= 10
    for name in shared:
        assert getattr(read_spec, name) == getattr(record_names, name), name
    assert read_spec.MARKER_FILES == record_names.MARKER_FILES
