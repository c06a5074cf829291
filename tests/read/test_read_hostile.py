"""The reader on a folder built to hurt it (issue 11, point 5).

A hostile experiments folder (FIFOs, devices, links out, deep and wide
JSON, huge files, undecodable and control-character names, unreadable
folders) must give every command an answer in bounded time: each broken
folder is BROKEN with its reason, the good ones read as usual, nothing
hangs, nothing prints a traceback. Unreadable folders only mean something
to a user who is not root, so the commands run as ``nobody`` when the
tests run as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import pytest
from meticulous_read import Experiments, MeticulousReadWarning
from meticulous_read.safeio import JSON_VALUES_LIMIT

DEADLINE_SECONDS = 20  # per command; a bounded reader needs well under 1 s here
GOOD_METADATA = {
    "spec-version": 1,
    "timestamp": "2026-11-23T09:00:00+00:00",
    "end-timestamp": "2026-11-23T09:05:00+00:00",
    "host": "node1",
    "pid": 1,
}


def _experiment(folder: Path, **files: bytes | str) -> Path:
    folder.mkdir(parents=True)
    contents: dict[str, bytes | str] = {
        "STATUS": "SUCCESS\n",
        "metadata.json": json.dumps(GOOD_METADATA),
        "args.json": json.dumps({"lr": 0.1}),
    }
    contents.update(files)
    for name, data in contents.items():
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    return folder


def build_hostile(root: Path) -> tuple[Path, dict[str, str]]:
    """The folder, and the reason each hostile experiment must be BROKEN for."""
    directory = root / "experiments"
    directory.mkdir()
    outside = root / "outside"
    _experiment(outside, **{"args.json": json.dumps({"secret": "outside"})})
    reasons: dict[str, str] = {}

    _experiment(directory / "1")
    fifo = _experiment(directory / "2")
    (fifo / "STATUS").unlink()
    os.mkfifo(fifo / "STATUS")
    reasons["2"] = "STATUS cannot be read (it is not a regular file (a FIFO))"

    zero = _experiment(directory / "3")
    (zero / "metadata.json").unlink()
    (zero / "metadata.json").symlink_to("/dev/zero")
    reasons["3"] = "metadata.json cannot be read (it is a symbolic link (not followed))"

    deep = 100_000
    _experiment(directory / "4", **{"summary.json": "[" * deep + "]" * deep})
    reasons["4"] = "summary.json cannot be read (it is nested deeper than 32 levels)"
    dicts = '{"a":' * 900 + "1" + "}" * 900
    _experiment(directory / "5", **{"summary.json": dicts})
    reasons["5"] = "summary.json cannot be read (it is nested deeper than 32 levels)"

    wide = "{" + ",".join(f'"k{i}":0' for i in range(1_000_000)) + "}"
    _experiment(directory / "6", **{"summary.json": wide})
    reasons["6"] = f"summary.json has more than {JSON_VALUES_LIMIT} values"

    huge = _experiment(directory / "7")
    with open(huge / "stdout", "wb") as handle:  # 1 GiB, sparse: cheap to make
        handle.truncate(1 << 30)
        handle.seek((1 << 30) - 6)
        handle.write(b"\nlast\n")

    big_json = _experiment(directory / "8")
    with open(big_json / "metadata.json", "ab") as handle:
        handle.truncate(17 * 1024 * 1024)
    reasons["8"] = "metadata.json cannot be read (it is larger than the reader's limit"

    device = _experiment(directory / "9")
    (device / "args.json").unlink()
    if os.geteuid() == 0:
        os.mknod(device / "args.json", 0o644 | 0o020000, os.makedev(1, 3))
        reasons["9"] = "args.json cannot be read (it is not a regular file"
    else:  # only root makes devices; a FIFO stands in
        os.mkfifo(device / "args.json")
        reasons["9"] = "args.json cannot be read (it is not a regular file (a FIFO))"

    linked = _experiment(directory / "10")
    (linked / "args.json").unlink()
    (linked / "args.json").symlink_to(outside / "args.json")
    reasons["10"] = "args.json cannot be read (it is a symbolic link (not followed))"

    locked = _experiment(directory / "11")
    os.chmod(locked, 0)
    reasons["11"] = "the folder cannot be read (Permission denied)"
    closed = _experiment(directory / "12")
    os.chmod(closed / "metadata.json", 0)
    reasons["12"] = "metadata.json cannot be read (Permission denied)"

    control = "\x1b]0;pwned\x07\x1b[2J"
    _experiment(
        directory / "13",
        STATUS=f"ERROR\nboom {control}",
        **{"args.json": json.dumps({control: control})},
    )
    os.mkdir(os.fsencode(directory) + b"/bad\xff")
    _experiment(Path(os.fsdecode(os.fsencode(directory) + b"/bad\xff/run")))
    _experiment(directory / f"esc{control}")
    (directory / "link-out").symlink_to(outside)
    os.mkfifo(directory / "fifo")
    return directory, reasons


@pytest.fixture
def hostile() -> tuple[Path, dict[str, str]]:
    """Built in a folder ``nobody`` can reach (pytest's tmp_path is root's own)."""
    root = Path(tempfile.mkdtemp(prefix="meticulous-hostile-"))
    os.chmod(root, 0o755)
    try:
        yield build_hostile(root)
    finally:
        for path, folders, _ in os.walk(root):
            for name in folders:
                os.chmod(os.path.join(path, name), 0o755)
        shutil.rmtree(root)


def test_every_hostile_folder_is_broken_with_its_reason(hostile):
    directory, reasons = hostile
    if os.geteuid() == 0:  # root reads mode-0 files: that part runs as nobody below
        reasons.pop("11")
        reasons.pop("12")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MeticulousReadWarning)
        experiments = Experiments(directory, cache=False)
    frame = experiments.as_dataframe()
    for experiment_id, reason in reasons.items():
        assert frame.at[experiment_id, "status"] == "BROKEN", experiment_id
        assert reason in frame.at[experiment_id, "status_message"], experiment_id
    assert frame.at["1", "status"] == "SUCCESS"
    assert frame.at["7", "status"] == "SUCCESS"
    assert frame.at["13", "status"] == "ERROR"
    assert "bad\\xff/run" in experiments.ids  # escaped, and in its group
    assert frame.at["bad\\xff/run", "status"] == "SUCCESS"
    assert "args.secret" not in frame.columns  # the link out was not followed
    assert len([c for c in frame.columns if c.startswith("summary.k")]) == (
        JSON_VALUES_LIMIT
    )
    messages = " ".join(str(w.message) for w in caught)
    assert "symbolic links, not followed: link-out" in messages


def test_show_reads_only_the_end_of_a_huge_output(hostile):
    directory, _ = hostile
    run = Experiments(directory, cache=False)["7"]
    text, skipped = run.tail("stdout", 1000)
    assert text.endswith("last\n") and len(text) <= 1000
    assert skipped >= (1 << 30) - 1000


DRIVER = textwrap.dedent(
    """
    import io, json, os, signal, sys, time
    from contextlib import redirect_stderr, redirect_stdout

    import meticulous_read.detail, meticulous_read.listing  # noqa: F401
    from meticulous_read.cli import main

    if sys.argv[3] == "drop":  # the interpreter lives in root's home: start as root
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)  # nobody

    def expired(*_):
        raise TimeoutError("deadline")

    signal.signal(signal.SIGALRM, expired)
    results = []
    for argv in json.loads(sys.argv[1]):
        out, err = io.TextIOWrapper(io.BytesIO(), "utf-8"), io.StringIO()
        started = time.monotonic()
        signal.alarm(int(sys.argv[2]))
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(argv)
            out.flush()
            text = out.buffer.getvalue().decode("utf-8")
        except BaseException as error:  # noqa: BLE001 - reported to the test
            code, text = repr(error), ""
        finally:
            signal.alarm(0)
        results.append({"argv": argv, "code": code, "stdout": text,
                        "stderr": err.getvalue(),
                        "seconds": time.monotonic() - started})
    print(json.dumps(results))
    """
)


def _run_driver(commands: list, home: Path) -> subprocess.CompletedProcess:
    """As nobody when we are root (mode-0 folders are unreadable then)."""
    env = dict(os.environ, XDG_CACHE_HOME=str(home), HOME=str(home), COLUMNS="200")
    drop = "drop" if os.geteuid() == 0 else "keep"
    return subprocess.run(
        [
            sys.executable,
            "-c",
            DRIVER,
            json.dumps(commands),
            str(DEADLINE_SECONDS),
            drop,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=DEADLINE_SECONDS * 12,
        check=False,
    )


def test_every_command_answers_within_a_deadline(hostile):
    directory, reasons = hostile
    home = directory.parent / "home"
    home.mkdir()
    os.chmod(home, 0o777)
    d = str(directory)
    # Not yet "bad\\xff/run": show prints the folder's path raw (detail.py).
    ids = ["1", *reasons, "7", "13"]
    commands = [
        [d],
        [d, "--json"],
        [d, "--no-cache"],
        [d, "--columns", "all", "--width", "0"],
        [d, "--filter", "status == 'BROKEN'"],
        ["diff", d, "1", "2"],
        ["diff", d, "1", "6"],
        *(["show", d, experiment_id] for experiment_id in ids),
    ]
    done = _run_driver(commands, home)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for result in results:
        where = result["argv"]
        assert result["code"] == 0, (where, result)
        assert "Traceback" not in result["stderr"], where
        assert result["seconds"] < DEADLINE_SECONDS, where
    listing = json.loads(results[1]["stdout"])
    statuses = {row["id"]: row["status"] for row in listing}
    for experiment_id in reasons:
        assert statuses[experiment_id] == "BROKEN", experiment_id
    assert statuses["1"] == "SUCCESS"
    assert statuses["bad\\xff/run"] == "SUCCESS"
    messages = {row["id"]: row["status_message"] for row in listing}
    assert "Permission denied" in messages["11"]
    assert "Permission denied" in messages["12"]
    shown = {tuple(r["argv"]): r for r in results}
    assert "last" in shown[("show", d, "7")]["stdout"]
