"""The sampling stage: a checked batch of configurations drawn from a system with a registered
sampler, appended to a store with the labels its frames carry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ase import Atoms

from curate.calculators import CalculatorSpec, parse_spec
from curate.core.errors import InputError
from curate.core.labels import LabelResult, Status
from curate.core.provenance import Provenance
from curate.samplers.base import SamplingStopped
from curate.samplers.registry import get_sampler
from curate.samplers.settings import SampleSettings
from curate.store import AppendResult, Store
from curate.store.label_sets import check_label_set, create_label_set
from curate.systems.builtin import build_system
from curate.systems.relax import relaxed_system
from curate.systems.structures import check_atoms, check_frames
from curate.systems.symmetry import space_group


@dataclass
class SampleBatch:
    """Frames ready to append, their provenance, and how many have atoms closer than the
    minimum distance (only non-zero when close contacts were allowed)."""

    frames: list[Atoms]
    provenance: list[Provenance]
    n_close: int
    labels_from: CalculatorSpec | None = None
    """The calculator whose energies/forces/stress the frames carry (MD schemes)."""
    stopped: str | None = None
    """Why the sampler stopped early (the frames are those it made before), or None."""
    space_groups: dict[str, str | None] | None = None
    """The system's space group as built and as sampled from (after any relaxation)."""


def sample_system(
    settings: SampleSettings, relax_with: CalculatorSpec | None = None
) -> SampleBatch:
    """Build the system (relaxed with ``relax_with`` if given), draw the frames and check every
    one of them. A sampler that stops early (MD blowing up) gives the frames it made before, with
    the reason in ``stopped``.

    A frame with atoms closer than ``min_distance`` is refused (InputError) unless
    ``allow_close``, in which case it is kept and counted.
    """
    s = settings
    sampler = get_sampler(s.scheme, s.params)
    reference, spec = build_system(s.system, **s.system_args())
    check_atoms(reference, min_distance=s.min_distance, label=f"system {spec.name}")
    space_groups = {"built": space_group(reference, label=f"system {spec.name}")}
    if relax_with is not None:
        reference = relaxed_system(reference, spec, relax_with)
        spec = replace(spec, relaxed_with=relax_with.text)
    space_groups["sampled"] = space_group(reference, label=f"system {spec.name}")
    stopped = None
    try:
        frames, provenance = sampler.sample(reference, s.n, s.seed, system=spec.name)
    except SamplingStopped as exc:
        frames, provenance, stopped = exc.frames, exc.provenance, str(exc)
    n_close = check_frames(
        frames, min_distance=s.min_distance, allow_close=s.allow_close, label=s.scheme
    )
    provenance = [replace(p, params={**p.params, "system": spec.as_dict()}) for p in provenance]
    labels_from = getattr(sampler, "labels_from", None)
    labels_spec = parse_spec(labels_from) if labels_from else None
    return SampleBatch(frames, provenance, n_close, labels_spec, stopped, space_groups)


@dataclass
class SampleOutcome:
    """What a sampling run added to its store."""

    store: str
    scheme: str
    added: int
    duplicates: int
    close_frames: int
    n_frames: int
    schemes: dict[str, int]
    space_groups: dict[str, str | None]
    """The system's space group as built and as sampled from (after any relaxation)."""
    first_params: dict[str, Any]
    """The first frame's sampler record (phonon: the force constants' summary)."""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["first_params"]
        return out


def sample_into_store(
    out: str | Path,
    settings: SampleSettings,
    relax_with: CalculatorSpec | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> SampleOutcome:
    """Draw the frames of ``settings`` and append them (with any labels they carry) to the store
    at ``out``, created if need be. Warnings go to ``log``. A sampler that stopped early keeps the
    frames it made and raises one InputError saying so; one that made none writes nothing."""
    batch = sample_system(settings, relax_with)
    if not batch.frames:
        reason = batch.stopped or f"the {settings.scheme} sampler stopped"
        raise InputError(f"{reason}; no frame was made")
    first = batch.provenance[0].params
    if first.get("n_imaginary") and first.get("imaginary") != "skip":
        log(
            f"warning: {first['n_imaginary']} imaginary modes sampled at |ω| "
            f"(imaginary: {first['imaginary']}): these modes are not thermal"
        )
    if batch.n_close:
        log(
            f"warning: {batch.n_close} of {settings.n} frames have atoms closer than "
            f"{settings.min_distance} Å"
        )
    with Store.open_or_create(out) as store:
        added = append_batch(store, batch)
        outcome = SampleOutcome(
            str(out),
            settings.scheme,
            len(added.indices),
            added.n_duplicates,
            batch.n_close,
            store.n_frames,
            store.scheme_counts(),
            batch.space_groups,
            first,
        )
    if batch.stopped:
        raise InputError(
            f"{batch.stopped}; kept the {outcome.added} new frames made before in {out}"
        )
    return outcome


def append_batch(store: Store, batch: SampleBatch) -> AppendResult:
    """Append a batch; labels the frames carry go into their calculator's label set."""
    added = store.append(batch.frames, batch.provenance)
    spec = batch.labels_from
    if spec is None or not len(added.indices):
        return added
    name = spec.default_label_set
    if not check_label_set(store, spec, name):
        create_label_set(store, spec, name)
    results = []
    for index, k in zip(added.indices, added.kept, strict=True):
        carried = batch.frames[k].calc.results
        values = {p: carried[p] for p in ("energy", "forces", "stress") if p in carried}
        results.append(LabelResult(int(index), Status.OK, values))
    store.write_labels(name, results)
    return added


def rebuild_reference(provenance: Provenance) -> Atoms:
    """The reference structure a frame was sampled from, built again from its provenance
    (relaxation from the cache when there); checked against the frame's parent uid."""
    from curate.core.identity import atoms_uid

    recorded = dict(provenance.params.get("system", {}))
    if not recorded:
        raise InputError(f"frames of scheme '{provenance.scheme}' do not record their system")
    relaxed_with = recorded.pop("relaxed_with", None)
    name = recorded.get("source") or recorded["name"]
    reference, spec = build_system(
        name,
        recorded["supercell"],
        recorded.get("br_fraction", 0.5),
        recorded.get("occupation_seed", 0),
    )
    if relaxed_with is not None:
        reference = relaxed_system(reference, spec, parse_spec(relaxed_with))
    if provenance.parent and atoms_uid(reference) != provenance.parent:
        raise InputError(
            f"system '{spec.name}' built again does not match the frames' parent structure "
            "(its file or cached relaxation changed)"
        )
    return reference
