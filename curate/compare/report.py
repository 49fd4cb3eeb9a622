"""The comparison report: learning-curve, cross-test and parity figures (PNG), the tables as CSV,
and one self-contained HTML page with the figures embedded."""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path
from typing import Any

import numpy as np

from curate.compare.grid import COMBINED, Cell
from curate.compare.scores import DIVERSITY_METRICS, curve, on_test_set, scalar_metrics
from curate.report.figures import draw_parity, pyplot, save_figure

OWN = "own"
"""Each scheme's own test split, in figures and tables."""
PARITY_COLUMNS = 4
"""Parity plots per row of a figure."""
COST_AXES = {
    "size": "training frames",
    "cost_calls": "oracle calls spent",
    "cost_cpu_s": "oracle CPU-seconds spent",
}
"""The x axes of the learning curves, one row each."""


def _colours(schemes: list[str]) -> dict[str, Any]:
    plt = pyplot()
    cycle = plt.get_cmap("tab10")
    return {s: cycle(k % 10) for k, s in enumerate(schemes)}


def learning_curves_figure(
    summary: list[dict], target: str, unit: str, schemes: list[str], panels: list[str], path: Path
) -> Path:
    """MAE (mean ± std over seeds, in ``unit``) against training size (top), oracle calls
    (middle) and oracle CPU-seconds (bottom), one column per test set."""
    plt = pyplot()
    colours = _colours(schemes)
    rows = len(COST_AXES)
    fig, axes = plt.subplots(
        rows, len(panels), figsize=(4.2 * len(panels), 3.5 * rows), dpi=130, squeeze=False
    )
    for col, panel in enumerate(panels):
        for row, (axis, xlabel) in enumerate(COST_AXES.items()):
            ax = axes[row, col]
            for scheme in schemes:
                pts = curve(summary, target, scheme, scheme if panel == OWN else panel)
                if not pts:
                    continue
                pts = [p for p in pts if p[axis] > 0]  # a log axis has no place for zero cost
                x = np.array([p[axis] for p in pts], dtype=float)
                mean = np.array([p["mae_mean"] for p in pts])
                std = np.array([p["mae_std"] for p in pts])
                ax.plot(x, mean, "o-", color=colours[scheme], label=scheme, ms=4)
                ax.fill_between(x, mean - std, mean + std, color=colours[scheme], alpha=0.2)
            _log_axes(ax, sorted({p["size"] for p in summary}) if axis == "size" else None)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"MAE ({unit})")
            where = {OWN: "own test split", COMBINED: "all test splits"}.get(panel, panel)
            ax.set_title(f"{target}: tested on {where}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    save_figure(fig, path)
    return path


def _log_axes(ax, xticks: list[int] | None) -> None:
    """Log–log axes labelled with plain numbers: at 1, 2 and 5 per decade, or at ``xticks``
    (the training sizes), so that labels never run into each other."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for axis, scale in ((ax.xaxis, ax.set_xscale), (ax.yaxis, ax.set_yscale)):
        scale("log")
        axis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    if xticks:
        ax.set_xticks(xticks, [str(t) for t in xticks])
    ax.grid(True, which="both", alpha=0.3)


def cross_test_figure(
    table: dict[str, dict[str, float]], target: str, unit: str, size: int, path: Path
) -> Path:
    """Heat map of the cross-test matrix (trained on rows, tested on columns)."""
    plt = pyplot()
    rows, cols = list(table), list(next(iter(table.values())))
    values = np.array([[table[r][c] for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(1.3 * len(cols) + 2.5, 0.7 * len(rows) + 1.8), dpi=130)
    from matplotlib.colors import LogNorm

    positive = values[np.isfinite(values) & (values > 0)]
    norm = LogNorm(positive.min(), positive.max()) if len(positive) else None
    image = ax.imshow(values, cmap="viridis_r", aspect="auto", norm=norm)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(values[i, j]):
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.3g}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if values[i, j] > np.nanmedian(values) else "black",
                )
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("tested on")
    ax.set_ylabel("trained on")
    ax.set_title(f"{target}: MAE ({unit}), {size} training frames", fontsize=9)
    fig.colorbar(image, ax=ax)
    save_figure(fig, path)
    return path


def parity_figure(
    panels: list[tuple[str, np.ndarray, np.ndarray, str]], target: str, unit: str, path: Path
) -> Path:
    """Parity plots, up to :data:`PARITY_COLUMNS` in a row: (scheme, truth, prediction, title)
    each."""
    plt = pyplot()
    ncols = min(len(panels), PARITY_COLUMNS)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 4 * nrows), dpi=130, squeeze=False)
    label = f"{target} ({unit})"
    for ax, (_, truth, pred, title) in zip(axes.flat, panels, strict=False):
        draw_parity(ax, truth, pred, label, title)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    save_figure(fig, path)
    return path


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """Rows (dicts with the same keys) as CSV."""
    with open(path, "w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if not np.isfinite(value) else f"{value:.4g}"
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}
td,th{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#f2f2f2} td:first-child,th:first-child{text-align:left}
img{max-width:100%;margin:0.5em 0} .note{color:#555;font-size:0.9em}
"""


def write_html(report: dict[str, Any], out: Path, units: dict[str, str]) -> Path:
    """The whole report as one HTML file with every figure embedded; ``units`` of the
    targets."""
    s = report["settings"]
    parts = [
        f"<h1>curate compare: {html.escape(Path(report['store']).name)}</h1>",
        f"<p class=note>model <b>{html.escape(s['model'])}</b>, training sizes "
        f"{', '.join(map(str, s['sizes']))}, {s['seeds']} seeds, label set "
        f"<b>{html.escape(report['label_set'])}</b>; errors ranked on the "
        f"<b>{html.escape(report['headline_test_set'])}</b> test set"
        + (
            f" ({html.escape(report['reference']['store'])}, "
            f"{report['reference']['n_frames']} frames)"
            if report.get("reference")
            else ""
        )
        + ". MAE and RMSE lead: R² on a narrow set misleads.</p>",
    ]
    for target, ranked in report["rankings"].items():
        unit = units.get(target, "")
        parts.append(f"<h2>{html.escape(target)} ({html.escape(unit)})</h2>")
        rows = [
            [
                scheme,
                r["final_size"],
                r["final_mae"],
                r["final_mae_std"],
                r["final_rmse"],
                r["final_r2"],
                r["curve_area_mae"],
                r["size_to_goal"],
                r["calls_to_goal"],
                r["mae_at_budget"],
            ]
            for scheme, r in ranked["schemes"].items()
        ]
        parts.append(
            f"<p>On the {html.escape(ranked['test_set'])} test set; goal MAE "
            f"{_fmt(ranked['goal_mae'])} {html.escape(unit)} (the final error of the scheme that "
            f"ends worst); MAE at equal budget: at {_fmt(ranked['budget_calls'])} oracle calls, "
            "the most every scheme's curve reaches (— where a curve starts above it).</p>"
        )
        parts.append(
            _table(
                [
                    "scheme",
                    "largest size",
                    "MAE",
                    "± std",
                    "RMSE",
                    "R²",
                    "curve area (MAE)",
                    "frames to goal",
                    "oracle calls to goal",
                    "MAE at equal budget",
                ],
                rows,
            )
        )
        for figure in report["figures"].get(target, {}).values():
            parts.append(_image(out / figure))
        matrix = report["cross_test"][target]
        parts.append(f"<h3>Cross-test MAE at {matrix['size']} training frames</h3>")
        cols = list(next(iter(matrix["mae"].values())))
        parts.append(
            _table(
                ["trained on \\ tested on", *cols],
                [[r, *[matrix["mae"][r][c] for c in cols]] for r in matrix["mae"]],
            )
        )
        correlations = report["metric_correlations"].get(target, {})
        if correlations:
            parts.append("<h3>Do the diversity metrics predict the error?</h3>")
            parts.append(
                "<p class=note>Spearman rank correlation over schemes between each metric and "
                "the final MAE (positive: more of the metric, larger error); with few schemes "
                "only ±1 and ±0.5 are possible.</p>"
            )
            ranked_metrics = sorted(correlations.items(), key=lambda kv: -abs(kv[1]["rho"]))
            parts.append(
                _table(
                    ["metric", "ρ", "schemes"],
                    [[k, v["rho"], v["n_schemes"]] for k, v in ranked_metrics],
                )
            )
    if report.get("diversity"):
        names = list(DIVERSITY_METRICS)
        flat = {k: scalar_metrics(v) for k, v in report["diversity"].items()}
        parts.append("<h2>Diversity of each scheme</h2>")
        parts.append(
            _table(["scheme", *names], [[k, *[f.get(n) for n in names]] for k, f in flat.items()])
        )
    parts.append("<h2>Cost and failure ledger</h2>")
    parts.append(
        "<p class=note>Oracle calls and CPU-seconds each scheme spent: labels, the MD that "
        "produced AIMD frames, force constants and their renormalisation. A subset of n frames "
        "costs the fixed part plus n × the per-frame part.</p>"
    )
    ledger = [
        [
            scheme,
            c["frames"],
            c["total"]["calls"],
            c["total"]["cpu_s"],
            c["fixed"]["calls"],
            c["per_frame"]["calls"],
            c["per_frame"]["cpu_s"],
            c["failed_labels"],
            report["schemes"][scheme]["dropped"],
            report["schemes"][scheme]["closed_gap"],
            ", ".join(f"{k} {v['calls']:g}" for k, v in c["components"].items()) or "labels only",
        ]
        for scheme, c in report["costs"].items()
    ]
    parts.append(
        _table(
            [
                "scheme",
                "usable frames",
                "calls",
                "CPU s",
                "fixed calls",
                "calls/frame",
                "CPU s/frame",
                "failed labels",
                "frames without targets",
                "closed gap (left out)",
                "components",
            ],
            ledger,
        )
    )
    body = "\n".join(parts)
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>curate compare</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    path = out / "report.html"
    path.write_text(page)
    return path


def best_panels(
    rows: list[dict], results: dict, grid: Any, reference: Any, target: str, test_set: str
) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """For each scheme, the seed with the lowest MAE at its largest size on ``test_set``, with
    its truths and predictions there."""
    panels = []
    for scheme in grid.schemes:
        mine = [
            r
            for r in rows
            if r["target"] == target and r["scheme"] == scheme and r["test_set"] == test_set
        ]
        if not mine:
            continue
        size = max(r["size"] for r in mine)
        best = min((r for r in mine if r["size"] == size), key=lambda r: r["mae"])
        cell = Cell(scheme, target, size, best["seed"])
        truth, pred = on_test_set(grid, reference, cell, results[cell], test_set)
        title = f"trained on {scheme} ({size} frames, seed {best['seed']}): MAE {best['mae']:.3g}"
        panels.append((scheme, truth, pred, title))
    return panels
