"""Copy frames from one store into another together with the labels already paid for, and take
labels other stores hold for the same frames, so that a label is never computed twice."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curate.core.labels import LabelResult, Status
from curate.core.provenance import Provenance
from curate.store.zarr_store import Store


def copy_frames(
    source: Store,
    dest: Store,
    label_sets: Sequence[str],
    retag: Callable[[Provenance], Provenance] | None = None,
    indices: Sequence[int] | np.ndarray | None = None,
    again: bool = False,
) -> dict[str, int]:
    """Append frames of ``source`` (all, or ``indices`` in that order) to ``dest`` (provenance
    passed through ``retag``) and write the source's results of each of ``label_sets`` (ok or
    failed) where ``dest`` has none yet. Frames ``dest`` already holds are not added twice (a
    re-run after an interruption finishes the labels), unless ``again``: then every frame is
    appended, as when two selections of one pool choose the same frame. Counts of frames added
    and labels copied."""
    idx = np.arange(source.n_frames) if indices is None else np.asarray(indices, dtype=np.int64)
    provenance = source.provenance(idx)
    if retag is not None:
        provenance = [retag(p) for p in provenance]
    added = dest.append(source.atoms(idx), provenance, on_duplicate="keep" if again else "skip")
    if again:
        target = added.indices
    else:
        where = {int(uid): i for i, uid in enumerate(dest.uids())}
        target = np.array([where[int(uid)] for uid in source.uids()[idx]], dtype=np.int64)
    copied = 0
    for label_set in label_sets:
        info = source.label_set_info(label_set)
        if label_set not in dest.label_sets():
            meta = {k: v for k, v in info.items() if k not in ("calculator", "properties")}
            dest.create_label_set(label_set, info["calculator"], info["properties"], **meta)
        labels = source.labels(label_set, idx)
        pending = dest.labels(label_set, target).status == Status.PENDING
        results = [
            result_of(labels, i, int(target[i]))
            for i in np.flatnonzero(pending & (labels.status != Status.PENDING))
        ]
        dest.write_labels(label_set, results)
        copied += len(results)
    return {"added": len(added.indices), "labels": copied}


def write_subset(
    source: Store, path: Path, indices: Sequence[int] | np.ndarray, record: dict[str, Any]
) -> dict[str, int]:
    """A new store at ``path`` holding ``indices`` of ``source`` (in that order) with every
    label set's results and provenance, and ``record`` (what chose them, with the source's path,
    commit and the indices) appended to its curation history. Written beside ``path`` and moved
    there when complete, so an interrupted run leaves nothing at ``path``."""
    from curate.core.errors import StoreError

    path = Path(path)
    if path.exists():
        raise StoreError(f"{path} already exists; choose another --out")
    if path.resolve() == source.path.resolve():
        raise StoreError("the output store must not be the source store")
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    idx = np.asarray(indices, dtype=np.int64)
    with Store.create(partial) as dest:
        counts = copy_frames(source, dest, source.label_sets(), indices=idx)
        for entry in source.history():
            dest.add_history(entry)
        dest.add_history(
            {
                **record,
                "source": str(source.path),
                "source_commit": source.commit,
                "source_frames": source.n_frames,
                "indices": idx.tolist(),
            }
        )
    partial.rename(path)
    return counts


def reuse_labels(dest: Store, label_set: str, spec: str, sources: Sequence[Store]) -> int:
    """Write into ``dest``'s ``label_set`` the results that any source holds, under a label set
    made with the same calculator and settings (``spec``, canonical JSON), for frames of the
    same content uid (their cost and host kept as they were paid): ``ok`` labels for frames
    with none yet, and physics failures (the same input fails the same way) for frames not
    tried yet, which ``--retry-failed`` computes again. Returns how many frames were taken."""
    status = dest.labels(label_set).status
    wanted = {int(uid): i for i, uid in enumerate(dest.uids()) if status[i] != Status.OK}
    matching = [
        (source.labels(name), source.uids())
        for source in (sources if wanted else ())
        for name in source.label_sets()
        if source.label_set_info(name).get("spec") == spec
    ]
    results = []
    for kind in (Status.OK, Status.FAILED_PHYSICS):  # a label anywhere beats a failure
        for labels, uids in matching:
            for j in np.flatnonzero(labels.status == kind):
                frame = wanted.get(int(uids[j]))
                if frame is not None and (kind == Status.OK or status[frame] == Status.PENDING):
                    del wanted[int(uids[j])]
                    results.append(result_of(labels, int(j), frame))
    dest.write_labels(label_set, results)
    return len(results)


def result_of(labels, i: int, frame: int) -> LabelResult:
    """Frame ``i`` of ``labels`` as the result of labelling store frame ``frame``."""
    return LabelResult(
        frame=frame,
        status=Status(labels.status[i]),
        values=labels.frame(i),
        error=str(labels.error[i]),
        wall_s=float(labels.wall_s[i]),
        cpu_s=float(labels.cpu_s[i]),
        host=str(labels.host[i]),
    )
