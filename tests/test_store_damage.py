"""Stores that detect damage: checksummed chunks, ``curate check`` naming damaged arrays and the
frames they hold, and one line (exit 2) from every reader of a damaged store."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import zarr

import curate.store.zarr_store as zarr_store
from curate.store import Store

POSITIONS = "atoms/positions/c/0/0"
"""The one chunk file of 12 frames' positions."""


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_every_array_carries_a_checksum_and_a_clean_store_checks_clean(cli, random_store):
    # EMT has no parameters for Ag, S and Br: a label set of failures, its arrays all written
    assert cli("label", random_store, "--calculator", "emt", "--workers", "1").exit_code == 3
    with Store.open(random_store) as store:
        for path, array, _ in store.chunked_arrays():
            codecs = [type(c).__name__ for c in array.metadata.codecs]
            assert "Crc32cCodec" in codecs, path
    report = cli.json("check", random_store)
    assert report["damaged"] == [] and report["chunks_read"] > 10


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "deleted"])
def test_a_damaged_chunk_is_named_with_its_frames(cli, random_store, damage):
    chunk = random_store / POSITIONS
    if damage == "truncated":
        chunk.write_bytes(b"")
    elif damage == "flipped byte":
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2] ^= 0xFF
        chunk.write_bytes(bytes(data))
    else:
        chunk.unlink()
    result = cli("check", random_store, "--json")
    assert result.exit_code == 2
    (found,) = json.loads(result.stdout)["damaged"]
    assert found["array"] == "atoms/positions" and found["frames"] == [0, 11]
    if damage == "deleted":
        assert "missing" in found["reason"]
    else:
        line = one_error_line(cli("export", random_store, "--out", random_store.parent / "o.xyz"))
        assert "atoms/positions cannot be read" in line and "curate check" in line


def test_a_store_missing_a_group_is_one_line_for_every_reader(cli, random_store):
    shutil.rmtree(random_store / "atoms")
    for args in (["info", random_store], ["export", random_store, "--out", "o.xyz"]):
        assert "is damaged: it has no atoms/" in one_error_line(cli(*args))


def test_stores_of_schema_1_0_without_checksums_still_open_and_grow(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(zarr_store, "CHUNK_CODECS", (zarr.codecs.ZstdCodec(),))
    monkeypatch.setattr(zarr_store, "VERSION", "1.0")
    path = tmp_path / "old.zarr"
    cli.json("sample", "--system", "Ag3SBr", "-n", "3", "--seed", "1", "--out", path)
    monkeypatch.undo()
    assert zarr.open_group(path).attrs["curate_format_version"] == "1.0"
    added = cli.json("sample", "--system", "Ag3SBr", "-n", "3", "--seed", "2", "--out", path)
    assert added["n_frames"] == 6
    assert cli.json("check", path)["damaged"] == []
    with Store.open(path) as store:
        assert np.isfinite(store.arrays().positions).all()
