"""Chunk reads without Zarr's event loop (``curate.store.chunks.ChunkReader``) give exactly what
Zarr's own indexing gives: every dtype and codec curate stores, plain and sharded, partial last
chunks and shards, chunks never written, and damage; arrays it cannot read directly fall back to
Zarr."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from curate.store.chunks import ChunkReader

ROWS, CHUNK, SHARD = 1000, 96, 4 * 96
RANGES = [(0, ROWS), (0, 1), (95, 97), (96, 192), (10, 950), (990, ROWS), (500, 500), (900, 2000)]


def _arrays(root: zarr.Group, shards: bool = False) -> dict[str, zarr.Array]:
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
            shards=(SHARD, *data.shape[1:]) if shards else None,
            compressors=codecs,
            fill_value=fill,
        )
        array[:] = data
        out[name] = array
    return out


@pytest.fixture
def arrays(tmp_path):
    return _arrays(zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3))


@pytest.fixture
def sharded(tmp_path):
    return _arrays(zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3), shards=True)


def _block(reader: ChunkReader, index: int) -> np.ndarray:
    ((got, rows),) = reader.blocks([index])
    assert got == index
    return rows


@pytest.mark.parametrize("layout", ["arrays", "sharded"])
def test_rows_and_blocks_equal_zarrs_own_reads(request, layout):
    for name, array in request.getfixturevalue(layout).items():
        reader = ChunkReader(array)
        assert reader.fast, name
        for lo, hi in RANGES:
            assert np.array_equal(reader.rows(lo, hi), array[lo:hi]), (name, lo, hi)
        # One chunk of a shard, a few (ranged reads), most of one (the whole shard file).
        for indices in ([0], [5], [ROWS // CHUNK], [1, 3, 6], [4, 5, 6, 7], range(ROWS // CHUNK)):
            for index, rows in reader.blocks(list(indices)):
                start = index * CHUNK
                expected = array[start : min(start + CHUNK, ROWS)]
                assert np.array_equal(rows[: len(expected)], expected), (name, index)


@pytest.mark.parametrize("shards", [None, (2 * CHUNK,)])
def test_a_chunk_never_written_reads_as_the_fill_value(tmp_path, shards):
    array = zarr.create_array(
        tmp_path / "grown.zarr",
        shape=(CHUNK,),
        dtype="f8",
        chunks=(CHUNK,),
        shards=shards,
        fill_value=np.nan,
    )
    array[:] = 1.0
    array.resize((5 * CHUNK,))  # chunks 1…4 (a shard's second half, two shards) only in the shape
    reader = ChunkReader(array)
    got = reader.rows(CHUNK - 2, 5 * CHUNK)
    assert np.array_equal(got, array[CHUNK - 2 :], equal_nan=True)
    assert np.isnan(got[2:]).all() and (got[:2] == 1).all()
    assert np.isnan(_block(reader, 1)).all() and np.isnan(_block(reader, 3)).all()


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


def _damaged(tmp_path, damage) -> tuple[zarr.Array, ChunkReader]:
    shard = tmp_path / "s.zarr" / "positions" / "c" / "0" / "0"
    data = bytearray(shard.read_bytes())
    shard.write_bytes(bytes(damage(data)))
    array = zarr.open_array(tmp_path / "s.zarr" / "positions", mode="r")
    return array, ChunkReader(array)


def _flip(data: bytearray, at: int) -> bytearray:
    data[at] ^= 0xFF
    return data


def test_a_damaged_chunk_of_a_shard_fails_alone(tmp_path, sharded):
    array, reader = _damaged(tmp_path, lambda d: _flip(d, 10))  # inside the shard's first chunk
    with pytest.raises(Exception, match=r"(?i)checksum|crc"):
        reader.rows(0, 2)
    with pytest.raises(Exception, match=r"(?i)checksum|crc"):
        reader.rows(0, SHARD)  # the whole shard file at once
    assert np.array_equal(reader.rows(CHUNK, 2 * CHUNK), array[CHUNK : 2 * CHUNK])


@pytest.mark.parametrize(
    "damage",
    [lambda d: _flip(d, len(d) - 8), lambda d: d[: len(d) // 2], lambda d: bytearray()],
    ids=["index flipped", "truncated", "emptied"],
)
def test_a_shard_with_a_damaged_index_fails_every_read_of_it(tmp_path, sharded, damage):
    array, reader = _damaged(tmp_path, damage)
    for lo, hi in ((0, 2), (CHUNK, CHUNK + 1), (0, SHARD)):
        with pytest.raises(Exception):  # noqa: B017 - a checksum, or an index of the wrong size
            reader.rows(lo, hi)
    assert np.array_equal(reader.rows(SHARD, ROWS), array[SHARD:])  # the next shard reads


@pytest.mark.filterwarnings("ignore:Combining a `sharding_indexed` codec")
def test_arrays_it_cannot_read_directly_fall_back_to_zarr(tmp_path):
    from zarr.codecs import BytesCodec, ShardingCodec, TransposeCodec

    data = np.arange(ROWS * 3, dtype="f8").reshape(ROWS, 3)
    index_first = ShardingCodec(
        chunk_shape=(CHUNK, 3), codecs=[BytesCodec()], index_location="start"
    )
    for name, codecs in (
        ("index-first", {"serializer": index_first}),
        ("transposed", {"filters": [TransposeCodec(order=(1, 0))]}),
    ):
        array = zarr.create_array(
            tmp_path / f"{name}.zarr",
            shape=data.shape,
            dtype="f8",
            chunks=(4 * CHUNK, 3) if name == "index-first" else (CHUNK, 3),
            **codecs,
        )
        array[:] = data
        reader = ChunkReader(array)
        assert not reader.fast, name
        for lo, hi in RANGES:
            assert np.array_equal(reader.rows(lo, hi), data[lo:hi])
        size = reader.size
        assert np.array_equal(_block(reader, 2), data[2 * size : 3 * size]), name
