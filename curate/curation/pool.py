"""Several selections of one pool side by side: each becomes a scheme of a new store, so that
``curate compare`` draws their learning curves against each other."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from curate.core.provenance import Provenance
from curate.store.transfer import copy_frames
from curate.store.zarr_store import Store

from .selectors import Pool, select_frames
from .settings import SelectSettings


def as_choice(name: str, indices: list[int]) -> Callable[[Provenance], Provenance]:
    """Provenance of the frames at ``indices`` (called in that order) as scheme ``name``, with
    the pool's scheme and index kept in ``params``."""
    order = iter(indices)

    def retag(p: Provenance) -> Provenance:
        params = {**p.params, "selected_from": p.scheme, "pool_index": next(order)}
        return replace(p, scheme=name, params=params)

    return retag


def curate_pool(
    pool: Path,
    dest: Path,
    choices: Sequence[tuple[str, SelectSettings]],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write every choice's frames of ``pool``, with their labels, as scheme ``name`` of a new
    store ``dest`` (replacing one left by an earlier run). A frame two choices take is held
    twice; its provenance keeps where it came from (``selected_from``: the pool's scheme,
    ``pool_index``). Returns the frames each choice took."""
    partial = dest.with_name(dest.name + ".partial")
    for stale in (partial, dest):
        if stale.exists():
            shutil.rmtree(stale)
    taken: dict[str, list[int]] = {}
    with Store.open(pool) as source, Store.create(partial) as out:
        described = Pool(source)  # descriptors computed once for every choice that needs them
        for k, (name, settings) in enumerate(choices):
            indices = select_frames(source, settings, described).indices
            retag = as_choice(name, indices.tolist())
            copy_frames(source, out, source.label_sets(), retag, indices, again=True)
            taken[name] = indices.tolist()
            if progress is not None:
                progress(k + 1, len(choices))
        out.add_history(
            {
                "step": "select",
                "summary": ", ".join(f"{name} ({len(v)})" for name, v in taken.items()),
                "choices": {name: s.model_dump(mode="json") for name, s in choices},
                "source": str(pool),
                "source_commit": source.commit,
                "source_frames": source.n_frames,
                "indices": taken,
            }
        )
    partial.rename(dest)
    return {name: len(v) for name, v in taken.items()}
