"""Radius graphs against a brute-force enumeration over periodic images, element features,
batching and the disk cache."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule

from curate.core.errors import InputError
from curate.models.graphs import GraphSet, NeighborFinder, node_features, store_graphs
from curate.systems.builtin import build_system

CUTOFF = 5.5


def brute_force(positions, cell, pbc, cutoff):
    """Every (i, j, shift) with |x_j − x_i + shift·cell| < cutoff, by looping over all images."""
    positions, cell = np.asarray(positions, float), np.asarray(cell, float)
    reach = []
    for k in range(3):
        if not pbc[k]:
            reach.append(0)
            continue
        height = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[k - 2], cell[k - 1]))
        frac = positions @ np.linalg.inv(cell)[:, k]
        reach.append(int(np.ceil(cutoff / height + np.ptp(frac))) + 1)
    pairs = {}
    ranges = [range(-r, r + 1) for r in reach]
    for shift in itertools.product(*ranges):
        offset = np.asarray(shift) @ cell
        d = np.linalg.norm(positions[None, :] + offset - positions[:, None], axis=-1)
        for i, j in zip(*np.nonzero(d < cutoff), strict=True):
            if i != j or any(shift):
                pairs[(int(i), int(j), shift)] = d[i, j]
    return pairs


def found(atoms, cutoff=CUTOFF):
    i, j, shift, d = NeighborFinder(cutoff)(atoms.positions, atoms.cell.array, atoms.pbc)
    return {(a, b, tuple(s)): x for a, b, s, x in zip(i, j, shift.tolist(), d, strict=True)}


def rattled(atoms, amplitude, seed):
    atoms = atoms.copy()
    atoms.positions += np.random.default_rng(seed).uniform(-amplitude, amplitude, (len(atoms), 3))
    return atoms


def triclinic():
    cell = [[3.1, 0.0, 0.0], [1.3, 2.8, 0.0], [-0.9, 0.8, 3.4]]
    frac = np.random.default_rng(3).random((4, 3))
    return Atoms("AgSBrI", scaled_positions=frac, cell=cell, pbc=True)


CASES = {
    "cubic 40-atom Ag3SBr": lambda: rattled(build_system("Ag3SBr")[0], 0.3, 1),
    "triclinic, self-images": triclinic,
    "one atom, only self-images": lambda: bulk("Cu", "sc", a=2.4),
    "fcc primitive (skewed)": lambda: rattled(bulk("Cu", "fcc", a=3.6), 0.1, 2),
    "atoms outside the cell": lambda: rattled(bulk("Cu", "fcc", a=3.6, cubic=True), 2.5, 4),
    "slab (pbc x, y)": lambda: Atoms(
        "Cu3",
        positions=[[0, 0, 0], [1.2, 0.4, 2.0], [0.3, 1.9, 4.1]],
        cell=[3, 3, 6],
        pbc=[1, 1, 0],
    ),
    "molecule, no pbc": lambda: molecule("CH3CH2OH"),
}


@pytest.mark.parametrize("case", CASES)
def test_neighbours_match_brute_force(case):
    atoms = CASES[case]()
    expected = brute_force(atoms.positions, atoms.cell.array, atoms.pbc, CUTOFF)
    got = found(atoms)
    assert got.keys() == expected.keys()
    assert np.allclose([got[k] for k in expected], list(expected.values()), atol=1e-10)
    if case.startswith("one atom"):
        assert expected and all(i == j for i, j, _ in expected)


def test_many_frames_at_once_match_one_by_one_and_vesin(monkeypatch):
    import curate.core.geometry as neighbors

    frames = [CASES[case]() for case in CASES]
    frames.insert(3, rattled(build_system("Ag3SBr")[0].repeat((3, 2, 2)), 0.2, 5))  # 480 atoms
    positions = np.concatenate([a.positions for a in frames])
    ptr = np.cumsum([0] + [len(a) for a in frames])
    cells, pbc = np.array([a.cell.array for a in frames]), np.array([a.pbc for a in frames])
    finder = NeighborFinder(CUTOFF)
    together = finder.frames(positions, cells, pbc, ptr)  # the large frame through vesin
    assert len(frames[3]) > neighbors.SMALL
    monkeypatch.setattr(neighbors, "SMALL", 0)  # every frame through vesin's cell lists
    by_vesin = finder.frames(positions, cells, pbc, ptr)
    alone = [finder(a.positions, a.cell.array, a.pbc) for a in frames]
    assert together[4].tolist() == by_vesin[4].tolist() == [len(f[0]) for f in alone]
    for k in range(3):
        assert np.array_equal(together[k], by_vesin[k])
        assert np.array_equal(together[k], np.concatenate([f[k] for f in alone]))
    assert np.allclose(together[3], by_vesin[3], atol=1e-12)


def test_more_pairs_than_an_even_density_gives():
    cluster = Atoms("Cu8", positions=np.random.default_rng(0).uniform(0, 4, (8, 3)))
    cluster.set_cell([20, 20, 20])
    cluster.pbc = True  # mostly vacuum: the first guess at the number of pairs is far too small
    frames = [cluster] * 60
    finder = NeighborFinder(CUTOFF)
    alone = finder(cluster.positions, cluster.cell.array, cluster.pbc)
    ptr = np.arange(61) * 8
    cells, pbc = np.array([a.cell.array for a in frames]), np.array([a.pbc for a in frames])
    together = finder.frames(np.concatenate([a.positions for a in frames]), cells, pbc, ptr)
    assert together[4].tolist() == [len(alone[0])] * 60 and len(alone[0]) == 56
    for k in range(4):
        assert np.array_equal(together[k], np.concatenate([alone[k]] * 60))


def test_singular_periodic_cell_is_refused():
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [1, 1, 1]], cell=[3, 3, 0], pbc=True)
    with pytest.raises(InputError, match="singular cell"):
        found(atoms)


def test_graph_holds_both_directions_and_self_images():
    atoms = triclinic()
    graphs = GraphSet.from_atoms([atoms])
    src, dst = graphs.edge_index.numpy()
    shift = graphs.shift.numpy().astype(int)
    edges = {(int(s), int(d), tuple(-x)) for s, d, x in zip(src, dst, shift, strict=True)}
    reverse = {(int(d), int(s), tuple(x)) for s, d, x in zip(src, dst, shift, strict=True)}
    assert edges == reverse
    assert (src == dst).any()
    expected = brute_force(atoms.positions, atoms.cell.array, atoms.pbc, CUTOFF)
    assert len(src) == len(expected)
    vectors = atoms.positions[src] + shift @ atoms.cell.array - atoms.positions[dst]
    assert np.allclose(np.linalg.norm(vectors, axis=1), graphs.distance.numpy(), atol=1e-5)


def test_node_features_from_element_table():
    feats = node_features(np.array([47, 16, 35, 47]))
    assert feats.shape == (4, 4) and feats.dtype == np.float32
    assert feats[0].tolist() == pytest.approx([47, 107.8682, 1.6, 1.93], rel=1e-6)
    assert (feats[0] == feats[3]).all()
    with pytest.raises(InputError, match="Ar has no electronegativity"):
        node_features(np.array([18]))


def test_batch_equals_graphs_built_alone():
    frames = [rattled(build_system("Ag3SBr")[0], 0.2, s) for s in range(3)] + [triclinic()]
    graphs = GraphSet.from_atoms(frames)
    batch = graphs.batch([3, 1])
    alone = [GraphSet.from_atoms([frames[3]]), GraphSet.from_atoms([frames[1]])]
    assert batch.num_graphs == 2
    assert torch.equal(batch.x, torch.cat([g.x for g in alone]))
    assert torch.equal(batch.batch, torch.repeat_interleave(torch.arange(2), torch.tensor([4, 40])))
    offset = torch.tensor([0, 4])
    expected = torch.cat([g.edge_index + o for g, o in zip(alone, offset, strict=True)], 1)
    assert torch.equal(batch.edge_index, expected)
    assert torch.equal(batch.distance, torch.cat([g.distance for g in alone]))


def test_pairs_join_each_edge_with_its_reverse():
    graphs = GraphSet.from_atoms([rattled(build_system("Ag3SBr")[0], 0.2, 0), triclinic()])
    batch = graphs.batch([1, 0])
    pair = batch.pair.numpy()
    assert np.bincount(pair).tolist() == [2] * len(batch.pair_distance)
    src, dst = batch.edge_index.numpy()
    for p in range(0, len(batch.pair_distance), 7):
        a, b = np.flatnonzero(pair == p)
        assert (src[a], dst[a]) == (dst[b], src[b])
        assert batch.distance[a] == batch.distance[b] == batch.pair_distance[p]


def test_pair_values_come_from_the_sets_table(monkeypatch):
    import curate.models.graphs.graphset as graphset

    graphs = GraphSet.from_atoms([rattled(build_system("Ag3SBr")[0], 0.2, 0), triclinic()])
    batch = graphs.batch([1, 0])
    calls = []

    def square(d):
        calls.append(len(d))
        return torch.stack([d, d * d], 1)

    expected = square(batch.pair_distance)
    assert torch.equal(batch.pair_values("square", square), expected)
    assert torch.equal(graphs.batch([1, 0]).pair_values("square", square), expected)
    assert calls[1:] == [1, int(graphs.pair_ptr[-1])]  # a probe, then one table for the set
    monkeypatch.setattr(graphset, "TABLE_BYTES", 0)
    assert torch.equal(graphs.batch([1, 0]).pair_values("big", square), expected)
    assert graphs.pair_table("big", square) is None


def test_adjacency_sums_the_images_of_each_pair():
    graphs = GraphSet.from_atoms([triclinic(), bulk("Cu", "sc", a=2.4)])
    batch = graphs.batch([0, 1])
    dense = torch.zeros(5, 5)
    src, dst = batch.edge_index
    dense.index_put_((dst, src), batch.distance, accumulate=True)
    assert torch.allclose(batch.adjacency().to_dense(), dense)


def test_store_graphs_are_cached_by_content(random_store, tmp_path, monkeypatch, cli):
    from curate.store import Store

    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    with Store.open(random_store) as store:
        first = store_graphs(store)
    files = list((tmp_path / "cache" / "graphs").glob("*.pt"))
    assert len(files) == 1 and len(first) == 12
    with Store.open(random_store) as store:
        again = store_graphs(store)
    assert torch.equal(first.edge_index, again.edge_index)
    assert torch.equal(first.distance, again.distance)
    cli("sample", "--system", "Ag3SBr", "-n", "2", "--seed", "9", "--out", random_store)
    with Store.open(random_store) as store:
        grown = store_graphs(store)
    assert len(grown) == 14
    assert len(list((tmp_path / "cache" / "graphs").glob("*.pt"))) == 2
