"""GNNExplainer edge importance by bond type."""

from __future__ import annotations

import numpy as np
import torch
from gnn_data import labelled_store, strained_frames

from curate.models.explain import (
    EdgeImportance,
    bond_names,
    bond_summary,
    explain_frames,
    top_edges,
)
from curate.models.graphs import GraphSet
from curate.models.networks import build_model
from curate.systems.builtin import build_system


def test_bond_names_are_sorted_species_pairs():
    numbers = np.array([47, 16, 35])
    names = bond_names(numbers, np.array([0, 1, 2, 0]), np.array([1, 0, 0, 0]))
    assert names.tolist() == ["Ag–S", "Ag–S", "Ag–Br", "Ag–Ag"]


def test_explainer_masks_every_edge_of_every_frame():
    frames = [build_system("Ag3SBr")[0] for _ in range(2)]
    for seed, atoms in enumerate(frames):
        atoms.positions += np.random.default_rng(seed).normal(0, 0.1, atoms.positions.shape)
    graphs = GraphSet.from_atoms(frames, 4.0)
    torch.manual_seed(0)
    model = build_model("schnet", hidden=8, cutoff=4.0).eval()
    edges = explain_frames(model, graphs, np.array([1, 0]), epochs=5)
    assert len(edges.importance) == graphs.edge_index.shape[1]
    assert ((edges.importance >= 0) & (edges.importance <= 1)).all()
    assert set(edges.frame) == {0, 1}
    assert {"Ag–Ag", "Ag–S", "Ag–Br"} <= set(edges.bond)


def test_summary_and_top_edges():
    edges = EdgeImportance(
        frame=np.array([0, 0, 1, 1]),
        source=np.array([0, 1, 0, 1]),
        target=np.array([1, 0, 1, 0]),
        bond=np.array(["Ag–S", "Ag–S", "Ag–Br", "Ag–S"], dtype=object),
        distance=np.array([2.5, 2.5, 3.0, 2.6]),
        importance=np.array([0.9, 0.5, 0.1, 0.95]),
    )
    summary = bond_summary(edges)
    assert list(summary) == ["Ag–S", "Ag–Br"]
    assert summary["Ag–S"]["n_edges"] == 3
    assert summary["Ag–S"]["significant_fraction"] == 2 / 3
    assert [e["importance"] for e in top_edges(edges, 2)] == [0.95, 0.9]


def test_explain_command_with_compare(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    store = labelled_store(tmp_path / "cu.zarr", strained_frames("Cu", 12, seed=0))
    fast = ["--cutoff", "4.0", "--max-epochs", "3", "--threads", "1"]
    for name in ("schnet", "paper-2"):
        cli.json("train", store, "--model", name, "--out", tmp_path / f"{name}.pt", *fast)
    args = ["explain", tmp_path / "schnet.pt", store, "--out", tmp_path / "x", "--frames", "2"]
    report = cli.json(*args, "--compare", tmp_path / "paper-2.pt", "--epochs", "5", "--top", "3")
    assert set(report["models"]) == {"model", "compare"}
    for entry in report["models"].values():
        assert list(entry["bond_types"]) == ["Cu–Cu"] and len(entry["top_edges"]) == 3
    assert report["models"]["model"]["frames"] == report["models"]["compare"]["frames"]
    assert (tmp_path / "x" / "importance.png").exists()
