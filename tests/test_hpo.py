"""Hyperparameter search: the grid, and a small search run on a Dask worker."""

from __future__ import annotations

import csv
import json

import pytest
from gnn_data import labelled_store, strained_frames

from curate.core.errors import InputError
from curate.models.checkpoint import load_checkpoint
from curate.models.hpo import PAPER_SPACE, trial_grid


def test_paper_grid_and_seeded_subsets():
    grid = trial_grid(PAPER_SPACE)
    assert len(grid) == 480 and len({json.dumps(t, sort_keys=True) for t in grid}) == 480
    subset = trial_grid(PAPER_SPACE, max_trials=12, seed=3)
    assert len(subset) == 12 and subset == trial_grid(PAPER_SPACE, max_trials=12, seed=3)
    assert all(t in grid for t in subset)
    with pytest.raises(InputError, match="cannot search over momentum"):
        trial_grid({"momentum": [0.9]})


def test_hpo_command(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    store = labelled_store(tmp_path / "cu.zarr", strained_frames("Cu", 30, seed=0))
    out = tmp_path / "hpo"
    grid = ["--models", "paper-1,schnet", "--lr", "1e-2", "--hidden", "8", "--dropout", "0,0.2"]
    fast = ["--max-epochs", "8", "--patience", "4", "--cutoff", "4.0", "--workers", "1"]
    report = cli.json("hpo", store, "--out", out, *grid, *fast)
    rows = report["trials"]
    assert report["n_trials"] == 4 == len(rows)
    assert {(r["model"], r["dropout"]) for r in rows} == {
        (m, d) for m in ("paper-1", "schnet") for d in (0.0, 0.2)
    }
    assert [r["val_mae"] for r in rows] == sorted(r["val_mae"] for r in rows)
    assert report["best"] == rows[0]
    with open(out / "trials.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 4
    assert (out / "violins.png").stat().st_size > 10_000
    _, record = load_checkpoint(out / "best.pt")
    assert record["model"]["name"] == rows[0]["model"]
    assert record["metrics"]["val"]["mae"] == pytest.approx(rows[0]["val_mae"])
