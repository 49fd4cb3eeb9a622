"""Shared fixtures: a CLI runner, small stores and a snapshot of a store's bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from curate.cli.app import app
from typer.testing import CliRunner


class Cli:
    """Runs ``curate`` in-process and keeps stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str | Path):
        return self.runner.invoke(app, [str(a) for a in args])

    def json(self, *args: str | Path) -> dict:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def _snapshot(path: Path) -> dict[str, str]:
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "writer.lock"
    }


@pytest.fixture
def snapshot():
    """Hash of every file under a path (the writer lock excluded), to prove nothing changed."""
    return _snapshot


@pytest.fixture
def random_store(tmp_path: Path, cli: Cli) -> Path:
    """A store of 12 random-displacement Ag3SBr frames."""
    path = tmp_path / "S.zarr"
    args = ["sample", "--system", "Ag3SBr", "-n", "12", "--amplitude", "0.1:0.8", "--seed", "1"]
    result = cli(*args, "--out", path)
    assert result.exit_code == 0, result.stderr
    return path
