"""Building radius graphs of 40-atom Ag3SBr frames: curate against the paper's pure-Python pair
loop over a 3×3×3 image supercell and against graphs built from ASE's ``neighbor_list``.

Every method does the whole job, from ``ase.Atoms`` to tensors a GNN can take: neighbours
within the cutoff (both directions, images as separate edges), the four element features per
node, distances as edge attributes.

* paper loop: the authors' way: the 3×3×3 image supercell, then for every atom of the cell and
  every atom of the supercell a Python-level ``np.linalg.norm`` check (done right: no face
  skipped), then a PyG ``Data`` per frame;
* tuned loop: the same pair loop on plain Python floats, without numpy per pair (about ten
  times faster than the paper loop; the fastest a pure-Python pair loop gets);
* ASE: ``ase.neighborlist.neighbor_list("ijd")`` per frame, then a PyG ``Data`` per frame;
* curate: ``GraphSet.from_atoms`` (one compiled pair loop over all frames, edges paired with
  their reverses, one feature lookup for all nodes, collated tensors).

The neighbour search alone is timed too, with vesin's cell lists (``vesin.NeighborList``, one
call per frame) as a further reference. The edge lists of all methods are checked to be the same
first. Per-frame times are the best of ``--repeats``; ratios are baseline / curate. JSON out.

    python benchmarks/graph_build.py --out benchmarks/results/graph_build.json
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch
import vesin
from ase.neighborlist import neighbor_list
from report import write_report
from torch_geometric.data import Data

from curate.models.graphs import GraphSet, NeighborFinder
from curate.models.graphs.features import element_features, node_features
from curate.samplers.registry import get_sampler
from curate.systems.builtin import build_system

CUTOFF = 5.5


def paper_loop_neighbours(atoms, cutoff: float = CUTOFF) -> tuple[list, list, list]:
    """The paper's approach: every atom of the cell against every atom of the 3×3×3 image
    supercell, one ``np.linalg.norm`` per pair."""
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    images = (atoms.positions[None, :, :] + (shifts @ atoms.cell.array)[:, None, :]).reshape(-1, 3)
    n = len(atoms)
    src, dst, dist = [], [], []
    for i in range(n):
        for k in range(len(images)):
            if k == 13 * n + i:  # the atom itself, in the central cell (shift 0, 0, 0)
                continue
            d = np.linalg.norm(images[k] - atoms.positions[i])
            if d < cutoff:
                src.append(k % n)
                dst.append(i)
                dist.append(d)
    return src, dst, dist


def tuned_loop_neighbours(atoms, cutoff: float = CUTOFF) -> tuple[list, list, list]:
    """The same pair loop on plain Python floats."""
    pos = atoms.positions.tolist()
    cell = atoms.cell.array
    offsets = [list(np.dot(s, cell)) for s in itertools.product((-1, 0, 1), repeat=3)]
    src, dst, dist = [], [], []
    for i, (xi, yi, zi) in enumerate(pos):
        for ox, oy, oz in offsets:
            same_cell = ox == 0 and oy == 0 and oz == 0
            for j, (xj, yj, zj) in enumerate(pos):
                if same_cell and i == j:
                    continue
                d = ((xj + ox - xi) ** 2 + (yj + oy - yi) ** 2 + (zj + oz - zi) ** 2) ** 0.5
                if d < cutoff:
                    src.append(j)
                    dst.append(i)
                    dist.append(d)
    return src, dst, dist


def loop_graph(atoms, neighbours) -> Data:
    src, dst, dist = neighbours(atoms)
    x = torch.tensor([element_features(int(z)) for z in atoms.numbers], dtype=torch.float32)
    return Data(
        x=x, edge_index=torch.tensor([src, dst]), edge_attr=torch.tensor(dist).float()[:, None]
    )


def ase_neighbours(atoms):
    i, j, d = neighbor_list("ijd", atoms, CUTOFF)
    return j, i, d


def ase_graph(atoms) -> Data:
    src, dst, dist = ase_neighbours(atoms)
    return Data(
        x=torch.from_numpy(node_features(atoms.numbers)),
        edge_index=torch.from_numpy(np.stack([src, dst])),
        edge_attr=torch.from_numpy(dist).float()[:, None],
    )


def per_frame(repeats: int, build, frames) -> float:
    """Best-of-``repeats`` seconds per frame of ``build(frames)``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build(frames)
        times.append((time.perf_counter() - start) / len(frames))
    return min(times)


def edge_set(src, dst, dist) -> list:
    rounded = np.round(dist, 5).tolist()
    return sorted(zip(np.asarray(dst).tolist(), np.asarray(src).tolist(), rounded, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames for ASE and curate")
    parser.add_argument("--loop-frames", type=int, default=10, help="frames for the pair loop")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/graph_build.json"))
    args = parser.parse_args()
    reference, _ = build_system("Ag3SBr")
    sampler = get_sampler("random", {"amplitude": "0.1:0.3"})
    frames, _ = sampler.sample(reference, args.frames, seed=0, system="Ag3SBr")
    loop_frames = frames[: args.loop_frames]
    find = NeighborFinder(CUTOFF)
    cell_list = vesin.NeighborList(cutoff=CUTOFF, full_list=True)

    def vesin_neighbours(atoms):
        i, j, d = cell_list.compute(atoms.positions, atoms.cell.array, atoms.pbc, quantities="ijd")
        return j, i, d

    def curate_neighbours(fs):
        positions = np.concatenate([a.positions for a in fs])
        ptr = np.cumsum([0] + [len(a) for a in fs])
        cells, pbc = np.array([a.cell.array for a in fs]), np.array([a.pbc for a in fs])
        return find.frames(positions, cells, pbc, ptr)

    # The same edges from all methods before any timing (this also warms every code path up).
    for atoms in loop_frames:
        expected = edge_set(*vesin_neighbours(atoms))
        i, j, _, d = find(atoms.positions, atoms.cell.array, atoms.pbc)
        assert edge_set(j, i, d) == expected
        assert edge_set(*paper_loop_neighbours(atoms)) == expected
        assert edge_set(*tuned_loop_neighbours(atoms)) == expected
        assert edge_set(*ase_neighbours(atoms)) == expected
    graphs = GraphSet.from_atoms(loop_frames)
    n_edges = sum(loop_graph(a, tuned_loop_neighbours).num_edges for a in loop_frames)
    assert graphs.edge_index.shape[1] == n_edges

    def loops(neighbours):
        return lambda fs: [loop_graph(a, neighbours) for a in fs]

    search = {
        "paper_loop": per_frame(
            args.repeats, lambda fs: [paper_loop_neighbours(a) for a in fs], loop_frames
        ),
        "tuned_loop": per_frame(
            args.repeats, lambda fs: [tuned_loop_neighbours(a) for a in fs], loop_frames
        ),
        "ase": per_frame(args.repeats, lambda fs: [ase_neighbours(a) for a in fs], frames),
        "vesin": per_frame(args.repeats, lambda fs: [vesin_neighbours(a) for a in fs], frames),
        "curate": per_frame(args.repeats, curate_neighbours, frames),
    }
    whole = {
        "paper_loop": per_frame(args.repeats, loops(paper_loop_neighbours), loop_frames),
        "tuned_loop": per_frame(args.repeats, loops(tuned_loop_neighbours), loop_frames),
        "ase": per_frame(args.repeats, lambda fs: [ase_graph(a) for a in fs], frames),
        "curate": per_frame(args.repeats, GraphSet.from_atoms, frames),
    }
    report = {
        "benchmark": "graph_build",
        "frames": args.frames,
        "loop_frames": args.loop_frames,
        "atoms_per_frame": len(reference),
        "cutoff": CUTOFF,
        "edges_per_frame": n_edges / len(loop_frames),
        "torch_threads": torch.get_num_threads(),
        "ms_per_frame_neighbour_search": {k: v * 1e3 for k, v in search.items()},
        "ms_per_frame_whole_graph": {k: v * 1e3 for k, v in whole.items()},
        "ratio_whole_graph": {
            "paper_loop_over_curate": whole["paper_loop"] / whole["curate"],
            "tuned_loop_over_curate": whole["tuned_loop"] / whole["curate"],
            "ase_over_curate": whole["ase"] / whole["curate"],
        },
        "goal": {"paper_loop_over_curate": 300, "ase_over_curate": 10},
    }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
