"""Training throughput (graphs per second over an epoch): curate's collated graphs against a
plain PyG ``DataLoader`` over per-graph ``Data`` objects, both with batches of 128.

The frames are 40-atom Ag3SBr random-displacement cells (0.1–0.3 Å) at a 5.5 Å cutoff; the
targets are random numbers (throughput does not depend on them). Both sides train the same model
(the same initial weights, Adam, MSE) for ``--epochs`` epochs of shuffled batches; the best epoch
counts (every epoch's seconds are in the JSON: curate's first one includes building the set's
per-pair tables). curate gathers each batch from the collated tensors by index and runs
``model.predict``; the baseline lets PyG's ``DataLoader`` collate ``Data`` objects and calls the
model on them, as a plain PyG script does. JSON out.

    python benchmarks/train_throughput.py --out benchmarks/results/train_throughput.json
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from report import write_report
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from curate.models.graphs import GraphSet
from curate.models.networks import build_model, model_defaults
from curate.samplers.registry import get_sampler
from curate.systems.builtin import build_system

BATCH = 128


def step(model, optimiser, pred: torch.Tensor, y: torch.Tensor) -> None:
    loss = torch.nn.functional.mse_loss(pred, y)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()


def curate_epoch(model, optimiser, graphs: GraphSet, y: torch.Tensor) -> None:
    for chunk in torch.randperm(len(graphs)).split(BATCH):
        step(model, optimiser, model.predict(graphs.batch(chunk)), y[chunk])


def pyg_epoch(model, optimiser, loader: DataLoader) -> None:
    for b in loader:
        pred = model(b.x, b.edge_index, b.edge_attr, b.batch, b.num_graphs)
        step(model, optimiser, pred, b.y)


def epoch_seconds(epochs: int, run) -> list[float]:
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default="paper-4,schnet")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    default_out = Path("benchmarks/results/train_throughput.json")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reference, _ = build_system("Ag3SBr")
    sampler = get_sampler("random", {"amplitude": "0.1:0.3"})
    frames, _ = sampler.sample(reference, args.frames, seed=0, system="Ag3SBr")
    graphs = GraphSet.from_atoms(frames)
    y = torch.randn(len(graphs), generator=torch.Generator().manual_seed(0))
    data = []
    for k in range(len(graphs)):
        g = graphs.batch([k])
        data.append(Data(x=g.x, edge_index=g.edge_index, edge_attr=g.distance, y=y[k : k + 1]))
    loader = DataLoader(data, batch_size=BATCH, shuffle=True)

    results = {}
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = build_model(name, **model_defaults(name))
        model.fit_inputs(graphs.x)
        twin = copy.deepcopy(model)
        ours = torch.optim.Adam(model.parameters(), lr=1e-3)
        theirs = torch.optim.Adam(twin.parameters(), lr=1e-3)
        seconds = {
            "pyg_dataloader": epoch_seconds(
                args.epochs, lambda m=twin, o=theirs: pyg_epoch(m, o, loader)
            ),
            "curate": epoch_seconds(
                args.epochs, lambda m=model, o=ours: curate_epoch(m, o, graphs, y)
            ),
        }
        speed = {side: len(graphs) / min(times) for side, times in seconds.items()}
        results[name] = {
            "graphs_per_s": speed,
            "ratio": speed["curate"] / speed["pyg_dataloader"],
            "epoch_seconds": seconds,
        }

    report = {
        "benchmark": "train_throughput",
        "frames": args.frames,
        "batch_size": BATCH,
        "epochs": args.epochs,
        "atoms_per_frame": len(reference),
        "edges_per_frame": graphs.edge_index.shape[1] / len(graphs),
        "torch_threads": torch.get_num_threads(),
        "models": results,
        "goal": {"ratio": 2},
    }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
