"""Chunk reads without Zarr's event loop (``curate.store.chunks.ChunkReader``) give exactly what
Zarr's own indexing gives: every dtype and codec curate stores, partial last chunks, chunks never
written, and damage; arrays it cannot read directly fall back to Zarr."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from curate.store.chunks import ChunkReader

ROWS, CHUNK = 1000, 96
RANGES = [(0, ROWS), (0, 1), (95, 97), (96, 192), (10, 950), (990, ROWS), (500, 500), (900, 2000)]


def _arrays(root: zarr.Group) -> dict[str, zarr.Array]:
    rng = np.random.default_rng(0)
    values = {
        "positions": (rng.normal(size=(ROWS, 3)), (Crc32cCodec(),), np.nan),
        "numbers": (rng.integers(1, 90, ROWS).astype("u1"), (ZstdCodec(), Crc32cCodec()), 0),
        "cell": (rng.normal(size=(ROWS, 3, 3)), (ZstdCodec(), Crc32cCodec()), np.nan),
        "pbc": (rng.random((ROWS, 3)) < 0.5, (ZstdCodec(), Crc32cCodec()), False),
        "params": (
            np.array([f'{{"t": {i}}}' * (i % 4) for i in range(ROWS)], dtype=object),
            (ZstdCodec(), Crc32cCodec()),
            "",
        ),
    }
    out = {}
    for name, (data, codecs, fill) in values.items():
        array = root.create_array(
            name,
            shape=data.shape,
            dtype=str if data.dtype == object else data.dtype,
            chunks=(CHUNK, *data.shape[1:]),
            compressors=codecs,
            fill_value=fill,
        )
        array[:] = data
        out[name] = array
    return out


@pytest.fixture
def arrays(tmp_path):
    return _arrays(zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3))


def test_rows_and_blocks_equal_zarrs_own_reads(arrays):
    for name, array in arrays.items():
        reader = ChunkReader(array)
        assert reader.fast, name
        for lo, hi in RANGES:
            assert np.array_equal(reader.rows(lo, hi), array[lo:hi]), (name, lo, hi)
        for index in (0, 5, ROWS // CHUNK):
            start = index * CHUNK
            expected = array[start : min(start + CHUNK, ROWS)]
            assert np.array_equal(reader.block(index)[: len(expected)], expected), name


def test_a_chunk_never_written_reads_as_the_fill_value(tmp_path):
    array = zarr.create_array(
        tmp_path / "grown.zarr", shape=(CHUNK,), dtype="f8", chunks=(CHUNK,), fill_value=np.nan
    )
    array[:] = 1.0
    array.resize((3 * CHUNK,))  # chunks 1 and 2 exist only in the shape
    reader = ChunkReader(array)
    got = reader.rows(CHUNK - 2, 3 * CHUNK)
    assert np.array_equal(got, array[CHUNK - 2 :], equal_nan=True)
    assert np.isnan(got[2:]).all() and (got[:2] == 1).all()


def test_a_damaged_chunk_raises_as_zarr_does(tmp_path, arrays):
    chunk = tmp_path / "a.zarr" / "positions" / "c" / "1" / "0"
    data = bytearray(chunk.read_bytes())
    data[10] ^= 0xFF
    chunk.write_bytes(bytes(data))
    array = zarr.open_array(tmp_path / "a.zarr" / "positions", mode="r")
    with pytest.raises(Exception):  # noqa: B017 - zarr's own error type for a checksum
        array[CHUNK : 2 * CHUNK]
    reader = ChunkReader(array)
    with pytest.raises(Exception, match=r"(?i)checksum|crc"):
        reader.rows(0, 2 * CHUNK)
    assert np.array_equal(reader.rows(0, CHUNK), array[:CHUNK])  # the intact chunk still reads


def test_arrays_it_cannot_read_directly_fall_back_to_zarr(tmp_path):
    data = np.arange(ROWS * 3, dtype="f8").reshape(ROWS, 3)
    sharded = zarr.create_array(
        tmp_path / "sharded.zarr",
        shape=data.shape,
        dtype="f8",
        chunks=(CHUNK, 3),
        shards=(4 * CHUNK, 3),
    )
    sharded[:] = data
    reader = ChunkReader(sharded)
    assert not reader.fast
    for lo, hi in RANGES:
        assert np.array_equal(reader.rows(lo, hi), data[lo:hi])
    assert np.array_equal(reader.block(2), data[2 * CHUNK : 3 * CHUNK])
