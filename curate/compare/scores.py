"""From the grid's predictions to the numbers that score samplers: errors of every cell on every
test set, their mean and spread over seeds, the cross-test matrix, the area under each learning
curve, the training size and cost needed to reach a common error, and how well each diversity
metric ranks the schemes by error."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from curate.compare.costs import SchemeCost
from curate.compare.grid import COMBINED, REFERENCE, Cell, Plan, Reference
from curate.models.evaluate import regression_metrics

METRICS = ("mae", "rmse", "r2", "bias")
DIVERSITY_METRICS = (
    "entropy",
    "diversity",
    "vendi",
    "nn_similarity",
    "coverage.fraction",
    "coverage.mean_dH",
    "matched.entropy.mean",
    "matched.diversity.mean",
    "matched.vendi.mean",
    "matched.coverage.mean",
    "close_contact_fraction",
    "min_distance.mean",
    "energy.above_reference.mean",
    "energy.beyond_kT_fraction",
    "autocorrelation.ess",
)
"""Metrics of :func:`curate.metrics.diversity.diversity_report` set beside the errors (size-matched
ones where the report has them)."""


def test_sets(grid: Plan, reference: Reference | None) -> list[str]:
    """Names of the test sets every model is scored on (a combined training set's own split is
    the union)."""
    schemes = [s for s in grid.schemes if s != COMBINED]
    return [*schemes, COMBINED, *([REFERENCE] if reference is not None else [])]


def headline(reference: Reference | None) -> str:
    """The test set every scheme is ranked on: the common reference set, else the union."""
    return REFERENCE if reference is not None else COMBINED


def cell_rows(
    grid: Plan,
    results: dict[Cell, dict[str, Any]],
    costs: dict[str, SchemeCost],
    reference: Reference | None,
) -> list[dict[str, Any]]:
    """One row per cell and test set: errors, the cell's training cost and time."""
    sets = test_sets(grid, reference)
    rows = []
    for cell, outcome in sorted(results.items(), key=lambda kv: _order(kv[0])):
        spent = costs[cell.scheme].at(cell.size)
        common = {
            **vars(cell),
            "cost_calls": spent.calls,
            "cost_cpu_s": round(spent.cpu_s, 3),
            "epochs": outcome["epochs"],
            "seconds": outcome["seconds"],
        }
        scored = {
            name: regression_metrics(*on_test_set(grid, reference, cell, outcome, name))
            for name in sets
            if name != REFERENCE or outcome["reference"] is not None
        }
        for name, metrics in scored.items():
            rows.append({**common, "test_set": name, **metrics})
    return rows


def on_test_set(
    grid: Plan, reference: Reference | None, cell: Cell, outcome: dict[str, Any], name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Truths and a cell's predictions on one test set (a scheme's split, the union with each
    distinct frame once, or the reference set), without the frames the cell's model was fitted
    on (schemes chosen from one pool share frames) or that have no value; vector targets
    (forces, stress) as their components."""
    fitted = grid.fitted_uids(cell)
    if name == REFERENCE:
        truth = reference.values[cell.target]
        pred = grid.family.rows(outcome["reference"], truth.shape[-1])
        unseen = ~np.isin(reference.uids, fitted)
        truth, pred = truth[unseen], pred[unseen]
    else:
        union = grid.test_union
        if name == COMBINED:
            idx = np.sort(np.unique(grid.uids[union], return_index=True)[1])
        else:
            idx = np.searchsorted(union, grid.tests[name])
        idx = idx[~np.isin(grid.uids[union[idx]], fitted)]
        truth = grid.values[cell.target][union][idx]
        pred = grid.family.rows(outcome["tests"], truth.shape[-1])[idx]
    truth, pred = truth.ravel(), pred.ravel()
    ok = np.isfinite(truth)
    return truth[ok], pred[ok]


def _order(cell: Cell) -> tuple:
    return (cell.target, cell.scheme, cell.size, cell.seed)


def summarise(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds for each (target, scheme, size, test set)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["target"], row["scheme"], row["size"], row["test_set"])].append(row)
    out = []
    for (target, scheme, size, test_set), members in sorted(groups.items()):
        entry = {
            "target": target,
            "scheme": scheme,
            "size": size,
            "test_set": test_set,
            "n_seeds": len(members),
            "n_test": round(float(np.mean([m["n"] for m in members]))),
            "cost_calls": members[0]["cost_calls"],
            "cost_cpu_s": members[0]["cost_cpu_s"],
        }
        for metric in METRICS:
            values = np.array([m[metric] for m in members], dtype=float)
            finite = values[np.isfinite(values)]
            entry[f"{metric}_mean"] = float(finite.mean()) if len(finite) else float("nan")
            entry[f"{metric}_std"] = float(finite.std()) if len(finite) else float("nan")
        out.append(entry)
    return out


def curve(summary: list[dict[str, Any]], target: str, scheme: str, test_set: str) -> list[dict]:
    """One learning curve (sorted by size)."""
    points = [
        s
        for s in summary
        if s["target"] == target and s["scheme"] == scheme and s["test_set"] == test_set
    ]
    return sorted(points, key=lambda s: s["size"])


def curve_area(points: list[dict[str, Any]], metric: str = "mae") -> float:
    """Mean of the curve over log training size (trapezoids): one number per curve, lower is
    better; the error itself when there is one size."""
    sizes = np.log([p["size"] for p in points])
    values = np.array([p[f"{metric}_mean"] for p in points])
    if len(points) == 1:
        return float(values[0])
    return float(np.trapezoid(values, sizes) / (sizes[-1] - sizes[0]))


def needed_to_reach(points: list[dict[str, Any]], goal: float, axis: str) -> float | None:
    """Training size (``axis="size"``) or oracle calls (``"cost_calls"``) at which the mean MAE
    first falls to ``goal``, interpolated in log–log between sizes; None if it never does."""
    xs = [p[axis] for p in points]
    ys = [p["mae_mean"] for p in points]
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if y <= goal:
            if k == 0 or y == ys[k - 1]:
                return float(x)
            t = (np.log(goal) - np.log(ys[k - 1])) / (np.log(y) - np.log(ys[k - 1]))
            return float(np.exp(np.log(xs[k - 1]) + t * (np.log(x) - np.log(xs[k - 1]))))
    return None


def error_at_cost(points: list[dict[str, Any]], calls: float) -> float | None:
    """Mean MAE of a curve at ``calls`` oracle calls, interpolated in log–log between sizes;
    None outside the calls the curve spans."""
    xs = np.array([p["cost_calls"] for p in points], dtype=float)
    ys = np.array([p["mae_mean"] for p in points], dtype=float)
    if not len(xs) or not xs[0] <= calls <= xs[-1] or not (ys > 0).all():
        return None
    return float(np.exp(np.interp(np.log(calls), np.log(xs), np.log(ys))))


def rankings(
    summary: list[dict[str, Any]], targets: Iterable[str], schemes: list[str], test_set: str
) -> dict[str, dict[str, Any]]:
    """Per target: each scheme's error at its largest size, curve area, the size and cost
    needed to reach the common goal (the final MAE of the scheme that ends worst, so every
    scheme's number is defined), and the error at a common labelling budget (the largest number
    of oracle calls every scheme's curve reaches)."""
    out = {}
    for target in targets:
        curves = {s: curve(summary, target, s, test_set) for s in schemes}
        curves = {s: c for s, c in curves.items() if c}
        if not curves:
            continue
        goal = max(min(p["mae_mean"] for p in c) for c in curves.values())
        budget = min(c[-1]["cost_calls"] for c in curves.values())
        out[target] = {
            "test_set": test_set,
            "goal_mae": goal,
            "budget_calls": budget,
            "schemes": {
                s: {
                    "final_size": c[-1]["size"],
                    "final_mae": c[-1]["mae_mean"],
                    "final_mae_std": c[-1]["mae_std"],
                    "final_rmse": c[-1]["rmse_mean"],
                    "final_r2": c[-1]["r2_mean"],
                    "curve_area_mae": curve_area(c),
                    "size_to_goal": needed_to_reach(c, goal, "size"),
                    "calls_to_goal": needed_to_reach(c, goal, "cost_calls"),
                    "mae_at_budget": error_at_cost(c, budget),
                }
                for s, c in curves.items()
            },
        }
    return out


def cross_test(
    summary: list[dict[str, Any]], target: str, size: int, schemes: list[str], sets: list[str]
) -> dict[str, dict[str, float]]:
    """Mean MAE of models trained on each scheme (rows) on each test set (columns) at ``size``."""
    table: dict[str, dict[str, float]] = {s: {} for s in schemes}
    for s in summary:
        if s["target"] == target and s["size"] == size and s["scheme"] in table:
            table[s["scheme"]][s["test_set"]] = s["mae_mean"]
    return {row: {col: table[row].get(col, float("nan")) for col in sets} for row in schemes}


def scalar_metrics(group: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a diversity report's group, flattened with dotted names."""
    out = {}
    for key, value in group.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= scalar_metrics(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            out[name] = float(value)
    return out


def metric_correlations(
    diversity: dict[str, dict[str, Any]], errors: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Spearman rank correlation, over schemes, between each of :data:`DIVERSITY_METRICS` and
    the error (positive: a higher metric goes with a larger error). Metrics that do not vary or
    are missing for a scheme are left out; needs three schemes."""
    from scipy.stats import spearmanr

    schemes = [s for s in errors if s in diversity and np.isfinite(errors[s])]
    if len(schemes) < 3:
        return {}
    flat = {s: scalar_metrics(diversity[s]) for s in schemes}
    out = {}
    for name in DIVERSITY_METRICS:
        if not all(name in f for f in flat.values()):
            continue
        x = [flat[s][name] for s in schemes]
        if np.ptp(x) == 0:
            continue
        rho = spearmanr(x, [errors[s] for s in schemes]).statistic
        out[name] = {"rho": float(rho), "n_schemes": len(schemes)}
    return out
