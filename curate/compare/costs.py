"""What each scheme of a store spent on its calculators: labels, the MD that produced AIMD frames,
force constants and their renormalisation, thermalisation; split into a fixed part (paid once,
whatever the number of frames) and a per-frame part, so that a subset of ``n`` frames costs
``fixed + n × per frame``.

Samplers record their cost in each frame's provenance (``params["cost"]``, pairs of
``<component>_calls`` and ``<component>_cpu_s``); frames of one run repeat the run's cost, so
each component is counted once per run: once per force-constant set for the phonon scheme's
fitting, once per MD run, once per frame for thermalisation. Labels cost what the label set
recorded for each frame the labeller computed (failed frames included: they were paid for).
Calls of a calculator other than the oracle (the MLIP driving MLIP-MD) are kept apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.core.labels import Status
from curate.store import Store

FIXED = {
    "force_constant": "harmonic_force_constants",
    "renormalization_md": "force_constants",
    "self_consistent": "force_constants",
}
"""Components paid once per set of force constants (provenance key naming the set)."""


@dataclass
class Spend:
    """Oracle calls and CPU-seconds."""

    calls: float = 0.0
    cpu_s: float = 0.0

    def add(self, calls: float, cpu_s: float) -> None:
        self.calls += calls
        self.cpu_s += cpu_s if np.isfinite(cpu_s) else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"calls": self.calls, "cpu_s": round(self.cpu_s, 3)}


@dataclass
class SchemeCost:
    """A scheme's spending; ``frames`` is the number of usable (ok) frames it bought."""

    scheme: str
    frames: int = 0
    fixed: Spend = field(default_factory=Spend)
    per_run: Spend = field(default_factory=Spend)
    labels: Spend = field(default_factory=Spend)
    failed_labels: int = 0
    components: dict[str, Spend] = field(default_factory=lambda: defaultdict(Spend))
    other: dict[str, Spend] = field(default_factory=lambda: defaultdict(Spend))

    @property
    def total(self) -> Spend:
        return Spend(
            self.fixed.calls + self.per_run.calls + self.labels.calls,
            self.fixed.cpu_s + self.per_run.cpu_s + self.labels.cpu_s,
        )

    def per_frame(self) -> Spend:
        """Everything but the fixed part, shared out over the usable frames."""
        n = max(self.frames, 1)
        return Spend(
            (self.per_run.calls + self.labels.calls) / n,
            (self.per_run.cpu_s + self.labels.cpu_s) / n,
        )

    def at(self, n: int) -> Spend:
        """What a subset of ``n`` frames of this scheme cost."""
        each = self.per_frame()
        return Spend(self.fixed.calls + n * each.calls, self.fixed.cpu_s + n * each.cpu_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "total": self.total.as_dict(),
            "fixed": self.fixed.as_dict(),
            "per_frame": self.per_frame().as_dict(),
            "labels": self.labels.as_dict(),
            "failed_labels": self.failed_labels,
            "components": {k: v.as_dict() for k, v in sorted(self.components.items())},
            "other_calculators": {k: v.as_dict() for k, v in sorted(self.other.items())},
        }


def combined_cost(name: str, costs: list[SchemeCost]) -> SchemeCost:
    """What a set drawn from every scheme together cost: all their fixed parts, and their
    per-frame parts shared out over all their usable frames."""
    total = SchemeCost(name)
    for cost in costs:
        total.frames += cost.frames
        total.failed_labels += cost.failed_labels
        for mine, theirs in (
            (total.fixed, cost.fixed),
            (total.per_run, cost.per_run),
            (total.labels, cost.labels),
        ):
            mine.add(theirs.calls, theirs.cpu_s)
        for mine, theirs in ((total.components, cost.components), (total.other, cost.other)):
            for key, spend in theirs.items():
                mine[key].add(spend.calls, spend.cpu_s)
    return total


def _run_identity(component: str, index: int, seed: int | None, params: dict) -> tuple:
    """Frames sharing this identity share one payment of ``component``."""
    if component in FIXED:
        return (component, params.get(FIXED[component]))
    if component == "md":
        return (component, seed, params.get("run"), params.get("calculator"))
    return (component, index)


def scheme_costs(store: Store, label_set: str) -> dict[str, SchemeCost]:
    """Spending of every scheme of ``store``, in calls of ``label_set``'s calculator."""
    oracle = store.label_set_info(label_set)["calculator"]
    labels = store.labels(label_set)
    schemes = store.categorical("scheme")
    costs: dict[str, SchemeCost] = {}
    seen: set[tuple] = set()
    for i, prov in enumerate(store.provenance()):
        cost = costs.setdefault(schemes[i], SchemeCost(schemes[i]))
        status = labels.status[i]
        cost.frames += int(status == Status.OK)
        if np.isfinite(labels.cpu_s[i]) or np.isfinite(labels.wall_s[i]):
            cost.labels.add(1, float(labels.cpu_s[i]))
            cost.failed_labels += int(status in (Status.FAILED_PHYSICS, Status.FAILED_INFRA))
        params = dict(prov.params)
        spent = params.get("cost", {})
        for component in sorted({k.rsplit("_", 1)[0] for k in spent if k.endswith("_calls")}):
            identity = (schemes[i], *_run_identity(component, i, prov.seed, params))
            if identity in seen:
                continue
            seen.add(identity)
            calls = float(spent[f"{component}_calls"])
            cpu_s = float(spent.get(f"{component}_cpu_s", np.nan))
            calculator = params.get("calculator", oracle)
            if calculator != oracle:
                cost.other[f"{calculator} ({component})"].add(calls, cpu_s)
                continue
            cost.components[component].add(calls, cpu_s)
            (cost.fixed if component in FIXED else cost.per_run).add(calls, cpu_s)
    return costs
