"""Another commit's code for a same-run baseline: unpacked from git, run with this checkout's
virtual environment (nothing of it is installed). ``bench/dusk.py --baseline-ref``,
``bench/sync_pull.py``, ``bench/dashboard.py`` and ``bench/storage_size.py --base`` use it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


def old_tree(ref: str, into: Path) -> Path:
    """The code of commit ``ref``, unpacked into the new folder ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def short(ref: str) -> str:
    """``ref`` as a short commit hash, for the figures' headings."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or ref


class OldServerProcess(ServerProcess):
    """``ServerProcess`` running another tree's code."""

    def __init__(self, tree: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tree = tree

    @property
    def root(self) -> Path:
        # Its commands too (enrolling the phones, adding staff): run with this checkout's code,
        # they migrated the old tree's database to this one's schema.
        return self.tree
