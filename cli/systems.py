"""``curate systems``: list the built-in systems, or show and write one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from curate.cli.options import BrFraction, Json, OccupationSeed, Supercell
from curate.cli.output import emit

from curate.core.errors import InputError


def command(
    name: Annotated[
        str | None, typer.Argument(help="Built-in system or structure file; omit to list.")
    ] = None,
    supercell: Supercell = None,
    br_fraction: BrFraction = 0.5,
    occupation_seed: OccupationSeed = 0,
    write: Annotated[
        Path | None, typer.Option(help="Write the structure here (format from the extension).")
    ] = None,
    json_: Json = False,
) -> None:
    """List the built-in systems, or describe one (and write it with --write)."""
    from curate.core.geometry import shortest_distance
    from curate.systems.builtin import BUILTIN_SYSTEMS, build_system
    from curate.systems.structures import check_atoms, write_structure
    from curate.systems.symmetry import space_group

    if write is not None and name is None:
        raise InputError("--write needs a system name")
    names = [name] if name else list(BUILTIN_SYSTEMS)
    rows = []
    for system in names:
        atoms, spec = build_system(system, supercell, br_fraction, occupation_seed)
        check_atoms(atoms, min_distance=0.0, label=f"system {spec.name}")
        rows.append(
            {
                **spec.as_dict(),
                "formula": atoms.get_chemical_formula(),
                "n_atoms": len(atoms),
                "cell_lengths": [round(x, 6) for x in atoms.cell.lengths().tolist()],
                "shortest_distance": round(shortest_distance(atoms, 6.0), 6),
                "space_group": space_group(atoms, label=f"system {spec.name}"),
            }
        )
    if write is not None:
        write_structure(write, atoms)
        rows[0]["written"] = str(write)

    def render(console):
        from rich.table import Table

        table = Table("system", "formula", "atoms", "cell (Å)", "shortest d (Å)", "space group")
        for row in rows:
            table.add_row(
                row["name"],
                row["formula"],
                str(row["n_atoms"]),
                "×".join(f"{x:.3f}" for x in row["cell_lengths"]),
                f"{row['shortest_distance']:.3f}",
                row["space_group"] or "-",
            )
        console.print(table)
        if write is not None:
            console.print(f"wrote {write}")

    emit({"systems": rows}, json_, render)
