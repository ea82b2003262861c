"""The repository and where runs keep their state; each deployment names its own directory."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"  # git-ignored: databases, logs, pid files, results of every local run
