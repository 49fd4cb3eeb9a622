"""The property models: shapes, the symmetries a crystal property has, readouts, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gnn_data import strained_frames

from curate.core.errors import InputError
from curate.models.checkpoint import load_checkpoint, save_checkpoint
from curate.models.graphs import GraphSet
from curate.models.networks import MODELS, build_model
from curate.systems.builtin import build_system

CUTOFF = 4.0


def outputs(model, graphs, frames=None):
    frames = range(len(graphs)) if frames is None else frames
    b = graphs.batch(list(frames))
    with torch.no_grad():
        return model(b.x, b.edge_index, b.distance, b.batch, b.num_graphs)


@pytest.fixture(scope="module")
def frames():
    return strained_frames("Cu", 4, seed=0)


@pytest.fixture(scope="module")
def graphs(frames):
    return GraphSet.from_atoms(frames, CUTOFF)


def fitted(name, graphs, **options):
    torch.manual_seed(0)
    model = build_model(name, cutoff=CUTOFF, **options)
    model.fit_inputs(graphs.x)
    return model.eval()


@pytest.mark.parametrize("name", MODELS)
def test_invariances(name, frames, graphs):
    model = fitted(name, graphs)
    base = outputs(model, graphs)
    assert base.shape == (4,) and torch.isfinite(base).all()
    moved = []
    rng = np.random.default_rng(1)
    for atoms in frames:
        atoms = atoms.copy()
        order = rng.permutation(len(atoms))
        atoms = atoms[order]
        atoms.positions += rng.uniform(-3, 3, 3)
        atoms.rotate(37, "z", rotate_cell=True)
        moved.append(atoms)
    assert torch.allclose(outputs(model, GraphSet.from_atoms(moved, CUTOFF)), base, rtol=1e-4)
    # In eval mode a graph's output does not depend on its batch companions.
    alone = torch.stack([outputs(model, graphs, [k])[0] for k in range(4)])
    assert torch.allclose(alone, base, rtol=1e-4)


@pytest.mark.parametrize("name", ["paper-2", "paper-6", "schnet"])
def test_fast_path_equals_edge_messages(name):
    frames = [build_system("Ag3SBr")[0] for _ in range(4)]
    for seed, atoms in enumerate(frames):
        atoms.positions += np.random.default_rng(seed).normal(0, 0.1, atoms.positions.shape)
    graphs = GraphSet.from_atoms(frames, CUTOFF)
    model = fitted(name, graphs)
    b = graphs.batch([2, 0, 3])
    assert torch.allclose(model.predict(b), outputs(model, graphs, [2, 0, 3]), rtol=1e-5)
    model.train()
    grads = []
    for run in (model.predict, lambda b: model(b.x, b.edge_index, b.distance, b.batch, 3)):
        model.zero_grad()
        run(b).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(*grads, atol=1e-3 * float(grads[1].abs().max()))


def test_compiled_pair_convolution_equals_tensor_operations():
    from curate.models.networks.schnet import PairConvolution, pair_convolution

    frames = [build_system("Ag3SBr")[0], strained_frames("Cu", 1, seed=1)[0]]
    b = GraphSet.from_atoms(frames, CUTOFF).batch([1, 0])
    n = len(b.x)
    centre_ptr = torch.cat(
        [torch.zeros(1, dtype=torch.long), torch.bincount(b.edge_index[1]).cumsum(0)]
    )
    assert len(centre_ptr) == n + 1
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=generator, requires_grad=True)
    filters = torch.randn(len(b.pair_distance), 8, generator=generator, requires_grad=True)
    envelope = torch.rand(len(b.pair_distance), generator=generator)
    results = []
    for run in (
        lambda: PairConvolution.apply(x, filters, envelope, centre_ptr, b.edge_index[0], b.pair),
        lambda: pair_convolution(x, filters, envelope, b.edge_index, b.pair),
    ):
        x.grad = filters.grad = None
        out = run()
        (out * torch.arange(out.numel()).view_as(out).sin()).sum().backward()
        results.append((out, x.grad, filters.grad))
    for got, expected in zip(*results, strict=True):
        assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["schnet", "paper-1", "paper-6"])
def test_supercell_gives_same_intensive_output(name, frames, graphs):
    model = fitted(name, graphs)
    bigger = GraphSet.from_atoms([a.repeat((2, 1, 2)) for a in frames], CUTOFF)
    assert torch.allclose(outputs(model, bigger), outputs(model, graphs), rtol=1e-4)


def test_schnet_sum_readout_is_extensive(frames, graphs):
    model = fitted("schnet", graphs, readout="sum")
    bigger = GraphSet.from_atoms([a.repeat((2, 2, 1)) for a in frames], CUTOFF)
    assert torch.allclose(outputs(model, bigger), 4 * outputs(model, graphs), rtol=1e-4)


def test_unknown_names_are_refused():
    with pytest.raises(InputError, match="unknown model 'gcn'"):
        build_model("gcn")
    with pytest.raises(InputError, match="output activation"):
        build_model("paper-1", output="tanh")


def test_checkpoint_round_trip(tmp_path, graphs):
    model = fitted("paper-4", graphs, output="softplus")
    options = {"name": "paper-4", "hidden": 64, "dropout": 0.2, "output": "softplus"}
    record = {"model": options | {"cutoff": CUTOFF, "readout": "mean"}, "target": {"mean": 1.0}}
    save_checkpoint(tmp_path / "m.pt", model, record)
    loaded, got = load_checkpoint(tmp_path / "m.pt")
    assert got["target"] == {"mean": 1.0} and not loaded.training
    assert torch.equal(outputs(loaded, graphs), outputs(model, graphs))
    (tmp_path / "bad.pt").write_text("not a model")
    with pytest.raises(InputError, match="not a curate model file"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a curate model file"):
        load_checkpoint(tmp_path / "other.pt")
