"""Training and evaluation: seeded splits, training-split scaling, early stopping, checkpoints,
the train/evaluate commands and their bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase.calculators.lj import LennardJones
from gnn_data import labelled_store, strained_frames

from curate.models.checkpoint import load_checkpoint
from curate.models.settings import TrainConfig
from curate.models.train import split_frames, train
from curate.store import Store

FAST = ["--cutoff", "4.0", "--max-epochs", "30", "--patience", "10", "--threads", "1"]


@pytest.fixture(autouse=True)
def graph_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def cu_store(tmp_path_factory):
    """40 labelled 4-atom Cu frames plus 4 unlabelled ones."""
    path = tmp_path_factory.mktemp("cu") / "cu.zarr"
    return labelled_store(path, strained_frames("Cu", 44, seed=0), n_ok=40)


def config(**changes):
    base = {"cutoff": 4.0, "max_epochs": 30, "patience": 10, "batch_size": 8}
    return TrainConfig(**(base | changes))


def test_split_is_seeded_disjoint_and_complete():
    frames = np.arange(3, 203)
    split = split_frames(frames, (0.7, 0.15, 0.15), seed=4)
    assert [len(p) for p in split.values()] == [140, 30, 30]
    assert np.array_equal(np.sort(np.concatenate(list(split.values()))), frames)
    again = split_frames(frames, (0.7, 0.15, 0.15), seed=4)
    assert all(np.array_equal(split[k], again[k]) for k in split)
    other = split_frames(frames, (0.7, 0.15, 0.15), seed=5)
    assert not np.array_equal(split["test"], other["test"])


def test_same_seed_same_metrics_and_training_split_scaling(cu_store):
    torch.set_num_threads(1)
    first = train(cu_store, config(model="paper-2", seed=3))
    second = train(cu_store, config(model="paper-2", seed=3))
    assert first.metrics == second.metrics
    other = train(cu_store, config(model="paper-2", seed=4))
    assert other.metrics != first.metrics
    record = first.record
    with Store.open(cu_store) as store:
        y = store.labels("emt")["energy_per_atom"]
    train_frames = record["training"]["split"]["train"]
    assert record["target"]["mean"] == pytest.approx(y[train_frames].mean())
    assert record["target"]["std"] == pytest.approx(y[train_frames].std())
    assert sum(record["metrics"][k]["n"] for k in ("train", "val", "test")) == 40
    assert max(max(p) for p in record["training"]["split"].values()) < 40  # unlabelled left out


def test_early_stopping_keeps_the_best_epoch(cu_store):
    result = train(cu_store, config(model="paper-1", max_epochs=400, patience=4, lr=3e-2))
    training = result.record["training"]
    assert training["epochs"] < 400
    assert training["best_epoch"] == training["epochs"] - 4
    best = min(training["history"]["val_loss"])
    assert training["history"]["val_loss"][training["best_epoch"] - 1] == best


def test_schnet_learns_energy_per_atom(cu_store):
    result = train(cu_store, config(max_epochs=150, patience=30, lr=1e-2))
    assert result.metrics["test"]["r2"] > 0.9, result.metrics


def test_train_and_evaluate_commands(cli, cu_store, tmp_path):
    model = tmp_path / "m.pt"
    args = ["train", cu_store, "--out", model, "--target", "hydrostatic_stress", "--model"]
    trained = cli.json(*args, "paper-3", "--seed", "1", *FAST)
    assert trained["unit"] == "GPa" and trained["label_set"] == "emt"
    assert trained["sizes"] == {"train": 28, "val": 6, "test": 6}
    assert set(trained["metrics"]["test"]) == {"n", "mae", "rmse", "r2", "bias"}
    _, record = load_checkpoint(model)
    assert record["training"]["config"]["model"] == "paper-3"
    assert record["model"]["hidden"] == 64 and record["training"]["store"].endswith("cu.zarr")
    test = cli.json("evaluate", model, cu_store, "--split", "test", "--plot", tmp_path / "p.png")
    assert test["metrics"] == pytest.approx(trained["metrics"]["test"], rel=1e-6)
    assert (tmp_path / "p.png").stat().st_size > 10_000
    whole = cli.json("evaluate", model, cu_store)
    assert whole["metrics"]["n"] == 40 and (tmp_path / "m-cu.png").exists()
    xyz = tmp_path / "cu.xyz"
    cli.json("export", cu_store, "--out", xyz)
    from_file = cli.json("evaluate", model, xyz, "--plot", tmp_path / "x.png")
    assert from_file["metrics"] == pytest.approx(whole["metrics"], rel=1e-5)


@pytest.fixture(scope="module")
def argon_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("ar") / "ar.zarr"
    lj = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0)
    return labelled_store(path, strained_frames("Ar", 12, seed=1), calculator=lj)


def test_bad_inputs_are_one_line_and_exit_2(cli, cu_store, argon_store, tmp_path):
    small = labelled_store(tmp_path / "small.zarr", strained_frames("Cu", 6, seed=2), n_ok=3)
    out = tmp_path / "m.pt"
    cases = {
        "no 'band_gap' labels": ["train", cu_store, "--target", "band_gap"],
        "not a per-frame scalar": ["train", cu_store, "--target", "forces"],
        "too few frames": ["train", small],
        "Ar has no electronegativity": ["train", argon_store],
        "unknown model 'gat'": ["train", cu_store, "--model", "gat"],
        "no label set 'dft'": ["train", cu_store, "--label-set", "dft"],
        "split fractions": ["train", cu_store, "--split", "0.9,0.2,0.1"],
        "is not a curate model file": ["evaluate", cu_store / "zarr.json", cu_store],
        "no model file": ["evaluate", tmp_path / "none.pt", cu_store],
    }
    for message, args in cases.items():
        if args[0] == "train":
            args = [*args, "--out", out, *FAST]
        result = cli(*args)
        assert result.exit_code == 2, (message, result.stdout, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1  # no empty line either
        assert not out.exists()


@pytest.mark.gpu
def test_training_on_cuda(cu_store):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    result = train(cu_store, config(model="schnet", device="cuda"))
    assert result.record["training"]["device"].startswith("cuda")
    assert np.isfinite(result.metrics["test"]["mae"])


def test_checkpoint_config_is_complete(cu_store, tmp_path):
    train(cu_store, config(model="paper-5", hidden=16, dropout=0.1, seed=2), out=tmp_path / "m.pt")
    _, record = load_checkpoint(tmp_path / "m.pt")
    saved = record["training"]["config"]
    assert saved | {"fractions": tuple(saved["fractions"])} == json.loads(
        json.dumps(vars(config(model="paper-5", hidden=16, dropout=0.1, seed=2)))
    ) | {"label_set": "emt", "fractions": (0.7, 0.15, 0.15)}
    assert record["model"] == {
        "name": "paper-5",
        "hidden": 16,
        "dropout": 0.1,
        "output": "linear",
        "cutoff": 4.0,
        "readout": "mean",
    }
