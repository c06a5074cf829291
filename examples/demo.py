"""The main job in one command: record a small grid of runs, then read them back.

Makes a throwaway git project under ``demo-output/``, commits ``train.py`` to
it, runs it five times (one run fails on purpose), and shows what a
researcher would look at: the folder of one run, the ``meticulous`` listing,
and the DataFrame.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "demo-output"


def run(command: list[str], cwd: Path, check: bool = True) -> int:
    print(f"\n$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=cwd, check=check).returncode


def main() -> int:
    project = OUT / "project"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    shutil.copy(HERE / "train.py", project / "train.py")
    (project / ".gitignore").write_text("experiments/\n")
    git = ["git", "-c", "user.name=demo", "-c", "user.email=demo@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "."], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "Toy model"], cwd=project, check=True)

    python = sys.executable
    for lr in ("0.1", "0.3", "0.5"):
        run([python, "train.py", "--lr", lr], project)
    run(
        [python, "train.py", "--batch-size", "64", "--description", "bigger batch"],
        project,
    )
    code = run([python, "train.py", "--diverge"], project, check=False)
    print(f"(the diverging run exited with {code}, as it would have unrecorded)")

    print("\nOne experiment's folder:")
    for path in sorted((project / "experiments" / "1").iterdir()):
        print("  ", path.relative_to(project))
    print("\nexperiments/5/STATUS:")
    print((project / "experiments" / "5" / "STATUS").read_text())

    run(["meticulous", "experiments"], project)
    run(
        [
            "meticulous",
            "experiments",
            "--filter",
            "status == 'SUCCESS'",
            "--sort",
            "summary.loss",
        ],
        project,
    )
    run(
        [
            python,
            "-c",
            (
                "import meticulous_read as mr;"
                " df = mr.Experiments('experiments').as_dataframe();"
                " print(df[['status', 'args.lr', 'summary.loss']])"
            ),
        ],
        project,
    )
    print(f"\nEverything above is on disk under {project}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
