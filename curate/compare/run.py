"""``curate compare``: learning curves that score the samplers of a labelled store against
training size and labelling cost, with the cross-test matrix, the diversity of each scheme beside
its errors, and one report (HTML, PNG, JSON, CSV)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curate.compare.costs import SchemeCost, combined_cost, scheme_costs
from curate.compare.grid import COMBINED, REFERENCE, Progress, load_reference, plan, run_grid
from curate.compare.report import (
    OWN,
    best_panels,
    cross_test_figure,
    learning_curves_figure,
    parity_figure,
    write_csv,
    write_html,
)
from curate.compare.scores import (
    cell_rows,
    cross_test,
    headline,
    metric_correlations,
    rankings,
    summarise,
    test_sets,
)
from curate.compare.settings import CompareSettings
from curate.core.errors import InputError
from curate.report.serialise import json_ready
from curate.store import Store
from curate.store.label_sets import pick_label_set


def check_inputs(
    store: Path, settings: CompareSettings, reference: str | Path | None = None
) -> tuple[str, dict[str, SchemeCost]]:
    """The label set compared and each scheme's costs; refuses missing stores, missing labels
    and sizes the data cannot give, before anything is trained or written."""
    for path in (store, reference):
        if path is not None and not Path(path).exists():
            raise InputError(f"no store at {path}")
    with Store.open(store) as opened:
        label_set = pick_label_set(opened, settings.label_set)
        plan(opened, settings)
        costs = scheme_costs(opened, label_set)
        if settings.combined:
            costs[COMBINED] = combined_cost(COMBINED, list(costs.values()))
        return label_set, costs


def compare(
    store: str | Path,
    settings: CompareSettings,
    out: str | Path,
    reference: str | Path | None = None,
    diversity: dict[str, Any] | None = None,
    with_diversity: bool = True,
    client_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the grid (cached under ``out/cells``), score it and write the report into ``out``.

    ``diversity`` is a :func:`curate.metrics.diversity.diversity_report` of ``store`` by scheme;
    without one it is computed here (unless ``with_diversity`` is False).
    """
    store, out = Path(store), Path(out)
    label_set, costs = check_inputs(store, settings, reference)
    ref = load_reference(Path(reference), settings, label_set) if reference else None
    out.mkdir(parents=True, exist_ok=True)
    grid, results = run_grid(store, settings, out / "cells", ref, client_options, progress)
    rows = cell_rows(grid, results, costs, ref)
    summary = summarise(rows)
    head = headline(ref)
    sets = test_sets(grid, ref)
    if diversity is None and with_diversity:
        from curate.metrics.diversity import diversity_report

        diversity = diversity_report(store, by="scheme", reference=reference, label_set=label_set)
    groups = (diversity or {}).get("groups", {})
    ranked = rankings(summary, settings.targets, grid.schemes, head)
    smallest_pool = min(len(p) for p in grid.pools.values())
    largest = max(n for n in settings.sizes if n <= smallest_pool)  # every scheme has it
    report: dict[str, Any] = {
        "store": str(store),
        "label_set": grid.label_set,
        "settings": {
            **settings.model_dump(),
            "targets": list(settings.targets),
            "sizes": list(settings.sizes),
        },
        "headline_test_set": head,
        "test_sets": sets,
        "reference": None
        if ref is None
        else {"store": str(ref.path), "label_set": ref.label_set, "n_frames": len(ref.uids)},
        "schemes": {
            s: {
                "n_test": len(grid.tests[s]),
                "n_pool": len(grid.pools[s]),
                "dropped": grid.dropped[s],
                "closed_gap": grid.closed[s],
                "diversity": groups.get(s),
            }
            for s in grid.schemes
        },
        "costs": {s: costs[s].as_dict() for s in grid.schemes},
        "diversity": {s: groups[s] for s in grid.schemes if s in groups},
        "curves": summary,
        "rankings": ranked,
        "cross_test": {
            t: {"size": largest, "mae": cross_test(summary, t, largest, grid.schemes, sets)}
            for t in settings.targets
        },
        "metric_correlations": {
            t: metric_correlations(
                groups, {s: r["final_mae"] for s, r in ranked[t]["schemes"].items()}
            )
            for t in ranked
        },
        "figures": {},
    }
    panels = [OWN, COMBINED, *([REFERENCE] if ref is not None else [])]
    units = {t: grid.family.unit(t) for t in settings.targets}
    for t in settings.targets:
        figures = {
            "learning_curves": learning_curves_figure(
                summary, t, units[t], grid.schemes, panels, out / f"learning_curves_{t}.png"
            ).name,
            "cross_test": cross_test_figure(
                report["cross_test"][t]["mae"], t, units[t], largest, out / f"cross_test_{t}.png"
            ).name,
            "parity": parity_figure(
                best_panels(rows, results, grid, ref, t, head),
                t,
                units[t],
                out / f"parity_{t}.png",
            ).name,
        }
        report["figures"][t] = figures
    report["files"] = {
        "html": "report.html",
        "json": "report.json",
        "cells_csv": write_csv(rows, out / "cells.csv").name,
        "curves_csv": write_csv(summary, out / "curves.csv").name,
    }
    report = json_ready(report)
    write_html(report, out, units)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


__all__ = ["CompareSettings", "check_inputs", "compare"]
