"""The command line as users call it, and every bad input: one line, exit 2, store unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import zarr
from ase.io import write

from curate.core.errors import InputError
from curate.systems.builtin import build_system


def test_documented_invocations(cli, tmp_path):
    store, xyz, copy = tmp_path / "S.zarr", tmp_path / "S.xyz", tmp_path / "T.zarr"
    documented = "sample --system Ag3SBr --scheme random -n 40 --amplitude 0.1:0.8 --seed 1 --out"
    sampled = cli.json(*documented.split(), store)
    assert sampled["added"] == 40 and sampled["schemes"] == {"random": 40}
    info = cli.json("info", store)
    assert info["n_frames"] == 40 and info["schemes"] == {"random": 40}
    assert info["label_sets"] == {}
    exported = cli.json("export", store, "--format", "extxyz", "--out", xyz)
    assert exported["n_frames"] == 40
    imported = cli.json("import", xyz, "--out", copy)
    assert imported["added"] == 40
    assert cli.json("info", copy)["schemes"] == {"random": 40}
    # Same seed again: identical frames, so the append adds nothing; a new seed appends.
    assert cli.json(*documented.split(), store)["duplicates"] == 40
    assert (
        cli.json("sample", "--system", "Ag3SBr", "-n", "5", "--seed", "2", "--out", store)[
            "n_frames"
        ]
        == 45
    )


def test_info_reports_label_set_counts(cli, tmp_path):
    from curate.core.labels import LabelResult, Status
    from curate.store import Store

    path = tmp_path / "S.zarr"
    cli("sample", "--system", "Ag3SI", "-n", "4", "--out", path)
    with Store.open(path, "a") as store:
        store.create_label_set("chgnet", "chgnet", ["energy"])
        store.write_labels(
            "chgnet",
            [
                LabelResult(0, Status.OK, {"energy": -1.0}),
                LabelResult(1, Status.FAILED_INFRA, error="worker killed"),
            ],
        )
    entry = cli.json("info", path)["label_sets"]["chgnet"]
    assert entry["calculator"] == "chgnet"
    assert (entry["counts"]["ok"], entry["counts"]["failed"], entry["counts"]["pending"]) == (
        1,
        1,
        2,
    )


def test_json_stdout_is_one_document_and_human_output_is_not_json(cli, random_store):
    result = cli("info", random_store, "--json")
    assert json.loads(result.stdout)["n_frames"] == 12
    human = cli("info", random_store)
    assert human.exit_code == 0 and "12 frames" in human.stdout


def test_help_is_fast_because_heavy_modules_stay_unimported():
    code = (
        "import sys, curate.cli.app; "
        "print(sorted(m for m in ('ase', 'zarr', 'torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def cu_file(tmp_path: Path) -> Path:
    """A 32-atom fcc Cu cell (EMT knows Cu)."""
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / "cu.xyz"
    write(path, bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2))
    return path


def bad_extxyz(tmp_path: Path, symbol: str = "Ag", x: str = "0.0") -> Path:
    return write_text(
        tmp_path / "bad.xyz",
        f'2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
        f"{symbol} {x} 0.0 0.0\nS 2.6 0.0 0.0\n",
    )


BAD_INPUTS = {
    "missing store": (lambda p: ["info", p / "nope.zarr"], "no store at"),
    "corrupt store": (
        lambda p: ["info", write_text(p / "S.zarr" / "zarr.json", "{oops")],
        "not a readable curate store",
    ),
    "other schema version": (lambda p: ["info", p / "S.zarr"], "schema version 9.1"),
    "not a structure": (
        lambda p: ["import", write_text(p / "notes.txt", "hello\n"), "--out", p / "S.zarr"],
        "cannot read a structure",
    ),
    "structure file missing": (
        lambda p: ["sample", "--system", p / "none.cif", "-n", "2", "--out", p / "S.zarr"],
        "unknown system",
    ),
    "unknown element": (
        lambda p: ["import", bad_extxyz(p, symbol="X"), "--out", p / "S.zarr"],
        "unknown element",
    ),
    "unknown element symbol": (
        lambda p: [
            "sample",
            "--system",
            write_text(p / "POSCAR", POSCAR_XX),
            "-n",
            "2",
            "--out",
            p / "S.zarr",
        ],
        "cannot read a structure",
    ),
    "NaN coordinates": (lambda p: ["import", bad_extxyz(p, x="nan"), "--out", p / "S.zarr"], "NaN"),
    "overlapping atoms": (
        lambda p: ["import", bad_extxyz(p, x="2.3"), "--out", p / "S.zarr"],
        "closer than",
    ),
    "sampler stops before its first frame": (
        lambda p: [
            "sample",
            "--system",
            cu_file(p),
            "--scheme",
            "aimd",
            "--calculator",
            "emt",
            "-n",
            "5",
            "--temperature",
            "2000000",
            "--timestep",
            "10",
            "--equilibration",
            "100",
            "--out",
            p / "S.zarr",
        ],
        "no frame was made",
    ),
    "zero frames": (
        lambda p: ["sample", "--system", "Ag3SBr", "-n", "0", "--out", p / "S.zarr"],
        "-n must be at least 1",
    ),
    "unknown scheme": (
        lambda p: [
            "sample",
            "--system",
            "Ag3SBr",
            "--scheme",
            "md",
            "-n",
            "2",
            "--out",
            p / "S.zarr",
        ],
        "unknown scheme 'md'",
    ),
    "bad amplitude": (
        lambda p: [
            "sample",
            "--system",
            "Ag3SBr",
            "-n",
            "2",
            "--amplitude",
            "0:x",
            "--out",
            p / "S.zarr",
        ],
        "random sampler",
    ),
    "too close after sampling": (
        lambda p: [
            "sample",
            "--system",
            "Ag3SBr",
            "-n",
            "20",
            "--amplitude",
            "2.5",
            "--out",
            p / "S.zarr",
        ],
        "closer than",
    ),
    "unknown label set": (
        lambda p: ["export", p / "S.zarr", "--label-set", "dft", "--out", p / "o.xyz"],
        "no label set 'dft'",
    ),
    "unknown export format": (
        lambda p: ["export", p / "S.zarr", "--format", "cif", "--out", p / "o.cif"],
        "unknown format",
    ),
    "output is not a store": (
        lambda p: [
            "sample",
            "--system",
            "Ag3SBr",
            "-n",
            "2",
            "--out",
            write_text(p / "file.txt", "x"),
        ],
        "not an empty folder",
    ),
    "sample into a path that cannot exist": (
        lambda p: ["sample", "--system", "Ag3SBr", "-n", "2", "--out", "/proc/curate/S.zarr"],
        "/proc/curate",
    ),
    "export to a path that cannot exist": (
        lambda p: ["export", p / "S.zarr", "--out", "/proc/curate/o.xyz"],
        "/proc/curate",
    ),
    "zip to a path that cannot exist": (
        lambda p: ["export", p / "S.zarr", "--format", "zip", "--out", "/proc/curate/o.zip"],
        "/proc/curate",
    ),
    "campaign into a path that cannot exist": (
        lambda p: ["run", "quickstart", "--out", "/proc/curate"],
        "/proc/curate",
    ),
    "figures into a path that cannot exist": (
        lambda p: ["diversity", p / "S.zarr", "--plot", "/proc/curate"],
        "/proc/curate",
    ),
    "malformed calculator arguments": (
        lambda p: ["label", p / "S.zarr", "--calculator", "emt", "--kwargs", "{bad json"],
        "at line 1, column 10",
    ),
}

POSCAR_XX = """Xx
1.0
5 0 0
0 5 0
0 0 5
Xx
1
Direct
0 0 0
"""


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_one_line_exit_2_and_changes_nothing(cli, random_store, snapshot, case):
    tmp = random_store.parent
    if case == "other schema version":
        zarr.open_group(random_store, mode="r+").attrs["curate_format_version"] = "9.1"
    make_args, message = BAD_INPUTS[case]
    args = make_args(tmp)
    before = snapshot(random_store)
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error:") and message in lines[0], lines
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert snapshot(random_store) == before


def test_close_atoms_can_be_allowed_with_a_warning(cli, tmp_path):
    result = cli(
        "import", bad_extxyz(tmp_path, x="2.3"), "--out", tmp_path / "T.zarr", "--allow-close"
    )
    assert result.exit_code == 0 and "warning: 1 frames have atoms closer" in result.stderr


def test_second_writer_refused_from_the_command_line(cli, random_store):
    from curate.store import Store

    with Store.open(random_store, "a"):
        result = cli(
            "sample", "--system", "Ag3SBr", "-n", "2", "--seed", "9", "--out", random_store
        )
    assert result.exit_code == 2 and "open for writing by pid" in result.stderr
    assert Store.open(random_store).n_frames == 12


def test_sample_from_a_structure_file_with_a_supercell(cli, tmp_path):
    cell, _ = build_system("Ag3SBr", supercell=1)
    write(tmp_path / "POSCAR", cell, format="vasp")
    out = cli.json(
        "sample",
        "--system",
        tmp_path / "POSCAR",
        "--supercell",
        "3",
        "-n",
        "2",
        "--out",
        tmp_path / "S.zarr",
    )
    assert out["added"] == 2
    assert cli.json("info", tmp_path / "S.zarr")["atoms_per_frame"] == [135, 135]


def test_cli_reference_in_docs_is_current(tmp_path):
    """docs/cli.md is what `make docs` generates from the commands' help."""
    out = tmp_path / "cli.md"
    typer = Path(sys.executable).parent / "typer"
    subprocess.run(
        [typer, "curate.cli.app", "utils", "docs", "--name", "curate", "--output", out],
        check=True,
        capture_output=True,
    )
    docs = Path(__file__).parents[1] / "docs" / "cli.md"
    assert out.read_text() == docs.read_text(), "docs/cli.md is stale: run make docs"


def test_sample_reaches_every_sampler_parameter_with_the_recipes_checks(cli, tmp_path):
    from curate.pipelines.recipe import validate_recipe

    from curate.store import Store

    out = tmp_path / "S.zarr"
    rattle = ["sample", "--system", "Ag3SBr", "--scheme", "mc-rattle", "-n", "2"]
    cli.json(*rattle, "--param", "width=0.2", "--param", "iterations=2", "--out", out)
    params = Store.open(out).provenance()[0].params
    assert params["width"] == 0.2 and params["iterations"] == 2
    bad = cli(*rattle, "--param", "width=-1", "--out", tmp_path / "T.zarr")
    assert bad.exit_code == 2 and not (tmp_path / "T.zarr").exists()
    message = bad.stderr.strip().removeprefix("curate: error: ")
    recipe = {
        "name": "x",
        "system": "Ag3SBr",
        "sets": [{"scheme": "mc-rattle", "n": 2, "params": {"width": -1}}],
    }
    with pytest.raises(InputError) as raised:
        validate_recipe(recipe)
    assert str(raised.value) == f"recipe <recipe>: sets.0.params: {message}"
