"""``curate sample``: draw configurations of a system with a sampling scheme into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import (
    AllowClose,
    BrFraction,
    Json,
    MinDistance,
    OccupationSeed,
    OutStore,
    Supercell,
    given,
)
from curate.cli.output import emit, key_values, log


def command(
    system: Annotated[str, typer.Option(help="Built-in system (Ag3SBr, Ag3SI, Ag3SBrI) or file.")],
    out: OutStore,
    n: Annotated[int, typer.Option("-n", "--n", help="Number of configurations.")],
    scheme: Annotated[str, typer.Option(help="Sampling scheme (see the sampler registry).")] = (
        "random"
    ),
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same frames.")
    ] = 0,
    amplitude: Annotated[
        str | None,
        typer.Option(help="random: displacement bound a in Å, or lo:hi to draw a per frame."),
    ] = None,
    temperature: Annotated[
        str | None,
        typer.Option(help="phonon, aimd, mlip-md: temperature in K (MD: or 200,400,600)."),
    ] = None,
    statistics: Annotated[
        str | None, typer.Option(help="phonon: quantum (Bose–Einstein, default) or classical.")
    ] = None,
    imaginary: Annotated[
        str | None,
        typer.Option(
            help="phonon: auto (default: harmonic if stable, else renormalize), renormalize "
            "(fit to MD at T), abs (|ω|) or skip."
        ),
    ] = None,
    calculator: Annotated[
        str | None,
        typer.Option(help="phonon: for the force constants; aimd: the MD force field (chgnet)."),
    ] = None,
    contact_fraction: Annotated[
        float | None,
        typer.Option(
            help="phonon: redraw frames with a pair under this share of its shortest "
            "distance in the reference (0.8; 0 keeps all)."
        ),
    ] = None,
    self_consistent: Annotated[
        int | None,
        typer.Option(
            help="phonon: refit the force constants to forces on their own samples, at most "
            "this many rounds (0)."
        ),
    ] = None,
    thermalize: Annotated[
        int | None,
        typer.Option(help="phonon: MD steps with --calculator from each drawn frame (0)."),
    ] = None,
    mlip: Annotated[
        list[str] | None,
        typer.Option(help="mlip-md: potential spec (mace:PATH); repeat for a committee."),
    ] = None,
    stride: Annotated[
        int | None, typer.Option(help="aimd, mlip-md: MD steps between kept frames.")
    ] = None,
    timestep: Annotated[
        float | None, typer.Option(help="aimd, mlip-md: timestep in fs (4).")
    ] = None,
    equilibration: Annotated[
        int | None, typer.Option(help="aimd, mlip-md: MD steps before the first frame (200).")
    ] = None,
    thermostat: Annotated[
        str | None, typer.Option(help="aimd, mlip-md: langevin (default) or nose-hoover.")
    ] = None,
    std: Annotated[float | None, typer.Option(help="mc-rattle: Å per move (0.05).")] = None,
    iterations: Annotated[
        int | None, typer.Option(help="mc-rattle: sweeps over all atoms (10).")
    ] = None,
    d_min: Annotated[
        float | None, typer.Option(help="mc-rattle: Å (default 85 % of the shortest distance).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            help="Any parameter of the scheme's own model as KEY=VALUE (YAML value), e.g. "
            "md_snapshots=120; repeat for more. See docs/sampling.md."
        ),
    ] = None,
    supercell: Supercell = None,
    br_fraction: BrFraction = 0.5,
    occupation_seed: OccupationSeed = 0,
    min_distance: MinDistance = 0.5,
    allow_close: AllowClose = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="phonon: write the band structure and DOS (harmonic and effective)."),
    ] = None,
    relax: Annotated[
        str | None,
        typer.Option(help="Relax the system first with this calculator (cached), e.g. chgnet."),
    ] = None,
    json_: Json = False,
) -> None:
    """Draw N configurations of SYSTEM with SCHEME and append them to the store OUT."""
    from curate.calculators import parse_spec, require_backend
    from curate.samplers.batch import sample_into_store
    from curate.samplers.settings import SampleSettings

    relax_with = parse_spec(relax) if relax else None
    if relax_with is not None:
        require_backend(relax_with)
    options = {
        "amplitude": amplitude,
        "temperature": temperature,
        "statistics": statistics,
        "imaginary": imaginary,
        "calculator": calculator,
        "mlip": mlip or None,
        "stride": stride,
        "timestep": timestep,
        "equilibration": equilibration,
        "thermostat": thermostat,
        "contact_fraction": contact_fraction,
        "self_consistent": self_consistent,
        "thermalize": thermalize,
        "std": std,
        "iterations": iterations,
        "d_min": d_min,
    }
    params = {key: value for key, value in options.items() if value is not None}
    params |= key_values(param or [])
    values = locals() | {"params": params}
    settings = SampleSettings.build("curate sample", **given(SampleSettings, values))
    outcome = sample_into_store(out, settings, relax_with, log)
    payload = outcome.as_dict()
    if plot is not None and scheme == "phonon":
        from curate.samplers.engines.force_constants import plot_sampled_phonons

        figure = plot_sampled_phonons(outcome.first_params, plot / "phonons.png")
        payload["figures"] = [str(figure)]
        log(f"wrote {figure}")

    def render(console):
        groups = payload["space_groups"]
        if groups["built"] is not None:
            relaxed = f", {groups['sampled']} after relaxation" if relax_with else ""
            console.print(f"space group {groups['built']}{relaxed}")
        console.print(
            f"added {payload['added']} {scheme} frames to {out} "
            f"({payload['duplicates']} duplicates skipped; {payload['n_frames']} frames in all)"
        )

    emit(payload, json_, render)
