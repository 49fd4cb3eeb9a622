"""Choose N frames of a pool, each way the field does, so that every choice can be scored by the
learning curves of ``curate compare``.

* ``random``: uniformly, without replacement;
* ``fps``: farthest-point sampling on per-frame descriptors (skmatter), from a seeded first frame;
* ``cur``: CUR decomposition of the per-frame descriptor matrix (skmatter): the frames that carry
  the most of its leading singular directions;
* ``kmeans``: k-means with N clusters of per-frame descriptors (scikit-learn), the member nearest
  each centre, the most populated clusters first;
* ``msc``: QUESTS's minimum set cover on every atomic environment (its own implementation): the
  frame whose environments are least covered by those chosen and richest in entropy, in turn;
* ``energy-uniform``: energies per atom spread evenly between the pool's lowest and highest,
  ordered farthest-point in energy (the lowest, the highest, then the middle of the widest gap);
* ``uncertainty``: the frames a committee disagrees on most (largest per-atom force deviation);
* ``stratified``: the same share of every value of a provenance column, random within each,
  the strata taking turns.

Frames come in the order chosen, and a choice's first frames are a choice of their own: the first
m of fps, cur, msc, uncertainty, random and stratified are what the method gives for m; those of
kmeans and energy-uniform spread over the clusters and energies of the full choice. So learning
curves on the first frames (``curate compare --order chosen``) score the method at every size.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curate.core.errors import InputError
from curate.store.label_sets import pick_label_set
from curate.store.zarr_store import Store

from .settings import SelectSettings
from .vectors import frame_vectors


@dataclass
class Choice:
    """The chosen frames (store indices, in the order chosen) and what decided them."""

    indices: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)


class Pool:
    """The frames of a store and their descriptors, each read or computed once however many
    choices are made from them."""

    def __init__(self, store: Store):
        self.store = store
        self._frames: list | None = None
        self._described: dict[str, Any] = {}

    def frames(self) -> list:
        if self._frames is None:
            self._frames = self.store.atoms()
        return self._frames

    def vectors(self, settings: SelectSettings) -> np.ndarray:
        """Per-frame descriptors for ``settings.descriptor``."""
        options = settings.soap if settings.descriptor == "soap" else settings.quests
        key = f"{settings.descriptor}:{options.model_dump_json()}"
        if key not in self._described:
            self._described[key] = frame_vectors(
                self.frames(), settings.descriptor, settings.quests, settings.soap
            )
        return self._described[key]

    def environments(self, settings: SelectSettings):
        """QUESTS descriptors of every atom."""
        from curate.metrics.descriptors import environments

        key = f"environments:{settings.quests.model_dump_json()}"
        if key not in self._described:
            self._described[key] = environments(self.frames(), settings.quests)
        return self._described[key]


def select_frames(store: Store, settings: SelectSettings, pool: Pool | None = None) -> Choice:
    """Choose ``settings.n`` frames of ``store`` with ``settings.method`` (``pool``: the store's
    frames and descriptors, shared by several choices)."""
    if settings.n > store.n_frames:
        raise InputError(
            f"cannot choose {settings.n} frames from {store.path}: it holds {store.n_frames}"
        )
    choose = METHODS[settings.method]
    choice = choose(pool if pool is not None else Pool(store), settings)
    choice.indices = np.asarray(choice.indices, dtype=np.int64)
    return choice


def _random(pool: Pool, settings: SelectSettings) -> Choice:
    order = np.random.default_rng(settings.seed).permutation(pool.store.n_frames)
    return Choice(order[: settings.n])


def _fps(pool: Pool, settings: SelectSettings) -> Choice:
    from skmatter.sample_selection import FPS

    x = pool.vectors(settings)
    start = int(np.random.default_rng(settings.seed).integers(pool.store.n_frames))
    selector = FPS(n_to_select=settings.n, initialize=start).fit(x)
    return Choice(selector.selected_idx_, {"start": start, "dimension": x.shape[1]})


def _cur(pool: Pool, settings: SelectSettings) -> Choice:
    from skmatter.sample_selection import CUR

    x = pool.vectors(settings)
    rank = int(np.linalg.matrix_rank(x))
    if settings.n > rank:
        raise InputError(
            f"cur can choose at most {rank} frames here (the rank of the {settings.descriptor} "
            f"descriptor matrix); use fps or kmeans for more"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zero columns once a direction is used up
        selector = CUR(n_to_select=settings.n).fit(x)
    return Choice(selector.selected_idx_, {"rank": rank, "dimension": x.shape[1]})


def _kmeans(pool: Pool, settings: SelectSettings) -> Choice:
    from sklearn.cluster import KMeans

    x = pool.vectors(settings)
    distinct = len(np.unique(x, axis=0))
    if settings.n > distinct:
        raise InputError(f"kmeans cannot make {settings.n} clusters of {distinct} distinct frames")
    model = KMeans(n_clusters=settings.n, random_state=settings.seed, n_init="auto").fit(x)
    population = np.bincount(model.labels_, minlength=settings.n)
    chosen = []
    for k in np.argsort(-population, kind="stable"):
        members = np.flatnonzero(model.labels_ == k)
        centre = model.cluster_centers_[k]
        chosen.append(int(members[np.argmin(np.linalg.norm(x[members] - centre, axis=1))]))
    return Choice(np.array(chosen), {"inertia": float(model.inertia_)})


def _msc(pool: Pool, settings: SelectSettings) -> Choice:
    from quests.compression.fps import msc
    from quests.entropy import entropy

    from curate.metrics.information import BATCH

    envs = pool.environments(settings)
    per_frame = [envs.x[envs.ptr[i] : envs.ptr[i + 1]] for i in range(len(envs))]
    entropies = np.array([entropy(x, h=settings.bandwidth, batch_size=BATCH) for x in per_frame])
    with np.errstate(divide="ignore"):  # −log of an underflowed kernel sum is +∞: fully new
        chosen = msc(per_frame, entropies, settings.n, h=settings.bandwidth, batch_size=BATCH)
    return Choice(np.array(chosen), {"bandwidth": settings.bandwidth})


def _energies(store: Store, settings: SelectSettings) -> tuple[np.ndarray, str]:
    """Energy per atom of every frame (NaN where not labelled ok) and the label set read."""
    from curate.core.labels import Status

    name = pick_label_set(store, settings.label_set)
    labels = store.labels(name)
    if "energy" not in labels.values:
        raise InputError(f"label set '{name}' of {store.path} has no energies")
    energy = np.where(labels.status == Status.OK, labels["energy"], np.nan)
    return energy / np.diff(store.atom_ptr()), name


def _energy_uniform(pool: Pool, settings: SelectSettings) -> Choice:
    energy, name = _energies(pool.store, settings)
    labelled = np.flatnonzero(np.isfinite(energy))
    if settings.n > len(labelled):
        raise InputError(
            f"energy-uniform needs {settings.n} frames with energies; label set '{name}' has "
            f"{len(labelled)}"
        )
    targets = np.linspace(energy[labelled].min(), energy[labelled].max(), settings.n)
    free = np.ones(len(labelled), bool)
    chosen = []
    for target in targets:
        gap = np.where(free, np.abs(energy[labelled] - target), np.inf)
        k = int(np.argmin(gap))
        free[k] = False
        chosen.append(int(labelled[k]))
    order = farthest_first(energy[chosen])
    return Choice(np.array(chosen)[order], {"label_set": name})


def farthest_first(values: np.ndarray) -> np.ndarray:
    """Order of 1-D ``values``: the lowest, then each time the value farthest from those
    already taken (ties to the first)."""
    order = [int(np.argmin(values))]
    gap = np.abs(values - values[order[0]])
    for _ in range(len(values) - 1):
        k = int(np.argmax(gap))
        order.append(k)
        gap = np.minimum(gap, np.abs(values - values[k]))
    return np.array(order)


def _uncertainty(pool: Pool, settings: SelectSettings) -> Choice:
    from pathlib import Path

    from curate.calculators.committee import committee_disagreement
    from curate.potentials.mace import committee_specs

    models = list(settings.committee)
    if len(models) == 1 and Path(models[0]).is_dir():
        models = committee_specs(models[0])
    disagreement = committee_disagreement(pool.frames(), models).max
    order = np.argsort(-disagreement, kind="stable")[: settings.n]
    return Choice(
        order,
        {"committee": models, "max_devi_f": disagreement[order].round(6).tolist()},
    )


def _stratified(pool: Pool, settings: SelectSettings) -> Choice:
    values = pool.store.provenance_column(settings.by)
    keys = [str(v) for v in values]
    strata = sorted(set(keys))
    members = {s: np.flatnonzero(np.array(keys) == s) for s in strata}
    turns = share_turns({s: len(m) for s, m in members.items()}, settings.n)
    rng = np.random.default_rng(settings.seed)
    drawn = {s: iter(rng.permutation(members[s])) for s in strata}
    chosen = [int(next(drawn[s])) for s in turns]
    share = {s: turns.count(s) for s in strata}
    return Choice(np.array(chosen), {"by": settings.by, "per_stratum": share})


def share_turns(sizes: dict[str, int], n: int) -> list[str]:
    """``n`` frames handed out as evenly as the strata's ``sizes`` allow: one at a time to the
    stratum with the fewest so far that has frames left (ties to the first in order); the
    stratum of each in turn, so that every prefix is as even a split as it can be."""
    share = dict.fromkeys(sizes, 0)
    turns = []
    for _ in range(n):
        open_ = [s for s in sizes if share[s] < sizes[s]]
        turn = min(open_, key=lambda s: share[s])
        share[turn] += 1
        turns.append(turn)
    return turns


METHODS: dict[str, Callable[[Pool, SelectSettings], Choice]] = {
    "random": _random,
    "fps": _fps,
    "cur": _cur,
    "kmeans": _kmeans,
    "msc": _msc,
    "energy-uniform": _energy_uniform,
    "uncertainty": _uncertainty,
    "stratified": _stratified,
}
