"""How thermal is each phonon-informed variant? Sample Ag3SBr (or any system) with each variant,
label with the oracle, and compare energy, pressure and displacements with MD at the same
temperature and calculator, with every variant's cost in calculator calls.

    python -m curate.pipelines.phonon_variants --out runs/variants --md runs/md300.zarr

Writes ``OUT/<variant>.zarr`` per variant, ``OUT/variants.json`` and ``OUT/energy_per_atom.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

VARIANTS: dict[str, dict] = {
    "abs": {"imaginary": "abs"},
    "renormalize": {},
    "renormalize+scha": {"self_consistent": 4, "sc_snapshots": 40},
    "renormalize+md10": {"thermalize": 10},
    "renormalize+md30": {"thermalize": 30},
}
"""Phonon-scheme parameters of each variant (on top of temperature and calculator)."""


def _calls(costs: list[dict], n_frames: int) -> float:
    """Calculator calls per frame: one-off costs shared by the frames, plus per-frame ones."""
    shared = {k: v for k, v in costs[0].items() if k.endswith("_calls") and "thermalize" not in k}
    per_frame = sum(c.get("thermalize_calls", 0) for c in costs) / len(costs)
    return sum(shared.values()) / n_frames + per_frame


def run(
    out: Path,
    md: Path,
    system: str = "Ag3SBr",
    temperature: float = 300.0,
    n: int = 80,
    calculator: str = "chgnet",
    seed: int = 1,
) -> dict:
    """Sample, label and inspect every variant against the MD store ``md``."""
    from curate.calculators import parse_spec
    from curate.labelling.run import label_store
    from curate.metrics.inspection import histogram, inspect_store, reference_report
    from curate.samplers.batch import sample_into_store
    from curate.samplers.settings import SampleSettings
    from curate.store import Store

    spec = parse_spec(calculator)
    out.mkdir(parents=True, exist_ok=True)
    reference = reference_report(md, spec.default_label_set)
    results, energies = {}, {}
    for name, extra in VARIANTS.items():
        path = out / f"{name}.zarr"
        params = {"temperature": temperature, "calculator": calculator, **extra}
        with Store.open_or_create(path) as store:
            missing = store.n_frames < n
        if missing:
            settings = SampleSettings(system=system, scheme="phonon", n=n, seed=seed, params=params)
            sample_into_store(path, settings, relax_with=spec)
        label_store(path, spec, client_options={"workers": 1})
        group, _ = inspect_store(path, label_set=spec.default_label_set, reference=reference)
        summary = group.summary
        results[name] = {
            "params": params,
            "calls_per_frame_sampling": _calls(summary["costs"], summary["n_frames"]),
            "labels_free": bool(extra.get("thermalize")),
            **{k: summary[k] for k in ("rms", "shortest_distance", "close_fraction")},
            **summary.get("labels", {}),
            **summary["versus_reference"],
        }
        energies[name] = group.energy_per_atom
    results["md"] = {
        **{k: reference.summary[k] for k in ("rms", "shortest_distance", "close_fraction")},
        **reference.summary.get("labels", {}),
    }
    (out / "variants.json").write_text(json.dumps(results, indent=2))
    energies["MD"] = reference.energy_per_atom
    histogram(energies, out / "energy_per_atom.png", shaded="MD")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--md", type=Path, required=True, help="MD store at the same T")
    parser.add_argument("--system", default="Ag3SBr")
    parser.add_argument("--temperature", type=float, default=300.0)
    parser.add_argument("-n", type=int, default=80)
    parser.add_argument("--calculator", default="chgnet")
    args = parser.parse_args()
    results = run(args.out, args.md, args.system, args.temperature, args.n, args.calculator)
    for name, r in results.items():
        print(name, json.dumps({k: v for k, v in r.items() if not isinstance(v, dict)}))


if __name__ == "__main__":
    main()
