"""Chunk reads through an array's own Zarr codecs, without Zarr's event loop.

Zarr-python 3.1 sends every chunk through asyncio and a thread hop: about 0.5–1 ms per chunk on
the project's 2-core machines whatever its size, which dominates reads that touch many chunks for
a few rows each (frames at random indices). Reading a chunk's bytes through the store's
synchronous ``get_sync`` and running the array's codecs' synchronous decoders (Zarr's public
``SupportsGetSync`` and ``SupportsSyncCodec`` protocols) costs a tenth of that, checksums
included.

Sharded arrays (Zarr v3's ``sharding_indexed`` codec: many small chunks in one file, with an
index of where each lies at the file's end) are read the same way: a few rows cost the shard's
index and the one small chunk that holds them (two ranged reads), a long run reads whole shard
files once. Arrays this cannot read (array-to-array codecs, an index at the start, stores without
synchronous reads) are read through Zarr's indexing instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

import numpy as np
import zarr
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec, SupportsSyncCodec
from zarr.abc.store import RangeByteRequest, SuffixByteRequest, SupportsGetSync
from zarr.codecs import ShardingCodec
from zarr.codecs.sharding import ShardingCodecIndexLocation
from zarr.core.array_spec import ArrayConfig, ArraySpec
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.dtype import UInt64

EMPTY = 2**64 - 1
"""Offset and length of a chunk a shard does not hold (it reads as the fill value)."""
WHOLE_SHARD = 0.25
"""Share of a shard's chunks above which one read of the whole shard file beats ranged reads."""


def _sync_pipeline(codecs: tuple) -> bool:
    """An array-to-bytes codec then bytes-to-bytes codecs, all with synchronous decoders."""
    return (
        bool(codecs)
        and isinstance(codecs[0], ArrayBytesCodec)
        and all(isinstance(c, BytesBytesCodec) for c in codecs[1:])
        and all(isinstance(c, SupportsSyncCodec) for c in codecs)
    )


def _decode(codecs: tuple, data: Buffer, spec: ArraySpec) -> np.ndarray:
    for codec in reversed(codecs[1:]):
        data = codec._decode_sync(data, spec)
    return codecs[0]._decode_sync(data, spec).as_numpy_array()


class ChunkReader:
    """Reads rows of a zarr array chunked along its first axis only (the curate layout).

    A *chunk* is the unit a read decodes and a checksum covers: ``array.chunks[0]`` rows, the
    inner chunk of a sharded array.
    """

    def __init__(self, array: zarr.Array):
        self.array = array
        self._inner = array._async_array  # the zarr.AsyncArray: its metadata, store and config
        self._prototype = default_buffer_prototype()
        self.size = array.chunks[0]
        self.fast = self._supported(array)
        if not self.fast:
            return
        metadata = self._inner.metadata
        coords = (0,) * len(array.shape)
        outer = metadata.get_chunk_spec(coords, self._inner.config, self._prototype)
        codec = metadata.codecs[0]
        if isinstance(codec, ShardingCodec):
            self._codecs = tuple(codec.codecs)
            self._per_shard = outer.shape[0] // codec.chunk_shape[0]
            self._spec = ArraySpec(
                codec.chunk_shape, outer.dtype, outer.fill_value, outer.config, outer.prototype
            )
            self._index_codecs = tuple(codec.index_codecs)
            self._index_spec = ArraySpec(
                (self._per_shard, *(1,) * (len(array.shape) - 1), 2),
                UInt64(endianness="little"),
                EMPTY,
                ArrayConfig(order="C", write_empty_chunks=False),
                self._prototype,
            )
            self._index_nbytes = 16 * self._per_shard
            for c in self._index_codecs[1:]:
                self._index_nbytes = c.compute_encoded_size(self._index_nbytes, self._index_spec)
        else:
            self._codecs, self._per_shard, self._spec = tuple(metadata.codecs), None, outer

    def _supported(self, array: zarr.Array) -> bool:
        metadata = self._inner.metadata
        if getattr(metadata, "zarr_format", 2) != 3:
            return False
        codecs = tuple(metadata.codecs)
        if (
            not isinstance(self._inner.store_path.store, SupportsGetSync)
            or not isinstance(metadata.chunk_grid, RegularChunkGrid)
            or tuple(array.chunks[1:]) != tuple(array.shape[1:])
            or not codecs
        ):
            return False
        if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
            codec = codecs[0]
            return (
                codec.index_location == ShardingCodecIndexLocation.end
                and _sync_pipeline(tuple(codec.codecs))
                and _sync_pipeline(tuple(codec.index_codecs))
                and all(hasattr(c, "compute_encoded_size") for c in codec.index_codecs)
            )
        return not isinstance(codecs[0], ShardingCodec) and _sync_pipeline(codecs)

    def _key(self, index: int) -> str:
        """Store key of the file of chunk (or shard) ``index``."""
        metadata, store_path = self._inner.metadata, self._inner.store_path
        coords = (index,) + (0,) * (len(self.array.shape) - 1)
        return "/".join(p for p in (store_path.path, metadata.encode_chunk_key(coords)) if p)

    def _get(self, key: str, byte_range=None) -> Buffer | None:
        store = self._inner.store_path.store
        return store.get_sync(key, prototype=self._prototype, byte_range=byte_range)

    def _fill(self) -> np.ndarray:
        return np.full(self.array.chunks, self.array.fill_value, dtype=self.array.dtype)

    def _unpack(self, data: Buffer | None) -> np.ndarray:
        return self._fill() if data is None else _decode(self._codecs, data, self._spec)

    def _shard_index(self, tail: Buffer) -> np.ndarray:
        """(offset, length) of each chunk of a shard, from the shard's last bytes."""
        if len(tail) != self._index_nbytes:
            raise ValueError(f"shard index is {len(tail)} bytes, expected {self._index_nbytes}")
        return _decode(self._index_codecs, tail, self._index_spec).reshape(self._per_shard, 2)

    def chunk(self, index: int) -> np.ndarray:
        """Chunk ``index`` as stored (padded to the full chunk shape); its fill value where the
        chunk was never written. Codec and checksum errors propagate."""
        return next(self.chunks([index]))[1]

    def chunks(self, indices) -> Iterator[tuple[int, np.ndarray]]:
        """(index, chunk) for each of the sorted chunk ``indices``: of a sharded array, one read
        of a shard's file where they cover enough of it, else its index once and each chunk's
        byte range."""
        if self._per_shard is None:
            yield from ((int(i), self._unpack(self._get(self._key(int(i))))) for i in indices)
            return
        for shard, members in groupby((int(i) for i in indices), lambda i: i // self._per_shard):
            members = list(members)
            key = self._key(shard)
            if len(members) > WHOLE_SHARD * self._per_shard:
                data = self._get(key)
                tail = None if data is None else data[len(data) - self._index_nbytes :]
            else:
                data, tail = None, self._get(key, SuffixByteRequest(self._index_nbytes))
            if tail is None:
                yield from ((i, self._fill()) for i in members)
                continue
            offsets = self._shard_index(tail)
            for i in members:
                start, length = (int(v) for v in offsets[i % self._per_shard])
                if start == EMPTY:
                    yield i, self._fill()
                elif data is not None:
                    yield i, self._unpack(data[start : start + length])
                else:
                    yield i, self._unpack(self._get(key, RangeByteRequest(start, start + length)))

    def blocks(self, indices) -> Iterator[tuple[int, np.ndarray]]:
        """(index, rows) of each of the sorted chunk ``indices`` (read-only; past the array's end
        for the last chunk)."""
        if self.fast:
            yield from self.chunks(indices)
            return
        size, n = self.size, self.array.shape[0]
        yield from ((int(i), self.array[i * size : min((i + 1) * size, n)]) for i in indices)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """``array[lo:hi]`` (a new array)."""
        hi = min(hi, self.array.shape[0])
        if not self.fast:
            return self.array[lo:hi]
        if hi <= lo:
            return np.empty((0, *self.array.shape[1:]), dtype=self.array.dtype)
        size = self.size
        first, last = lo // size, (hi - 1) // size
        if first == last:
            return self.chunk(first)[lo - first * size : hi - first * size].copy()
        out = np.empty((hi - lo, *self.array.shape[1:]), dtype=self.array.dtype)
        for index, chunk in self.chunks(range(first, last + 1)):
            start = index * size
            a, b = max(lo, start), min(hi, start + size)
            out[a - lo : b - lo] = chunk[a - start : b - start]
        return out
