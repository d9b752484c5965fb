"""Shared fixtures: the repository, and the `lockerlab` CLI the package's
results are checked against (built by `cargo build --release`; CI sets
LOCKERLAB_BIN)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]


def _cli_path() -> Path:
    if "LOCKERLAB_BIN" in os.environ:
        return Path(os.environ["LOCKERLAB_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "release" / "lockerlab"


class Cli:
    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.path), *args], cwd=REPO, capture_output=True, text=True, check=False
        )

    def ok(self, *args: str) -> str:
        out = self.run(*args)
        assert out.returncode == 0, f"lockerlab {' '.join(args)}: {out.stderr}"
        return out.stdout

    def simulate_json(self, *args: str) -> Dict[str, Any]:
        doc = json.loads(self.ok("simulate", *args, "--format", "json", "--quiet"))
        # Timing is the one thing a run does not repeat.
        doc.pop("wall_seconds")
        doc.pop("events_per_second")
        return doc


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cli() -> Cli:
    path = _cli_path()
    if not path.is_file():
        pytest.fail(f"{path}: build the CLI first (cargo build --release) or set LOCKERLAB_BIN")
    return Cli(path)


def scenario(name: str) -> str:
    return str(REPO / "scenarios" / name)


def names(df: Any) -> List[str]:
    return list(df.columns)
