"""Whole-chunk reads through an array's own Zarr codecs, without Zarr's event loop.

Zarr-python 3.1 sends every chunk through asyncio and a thread hop: about 0.5–1 ms per chunk on
the project's 2-core machines whatever its size, which dominates reads that touch many chunks for
a few rows each (frames at random indices). Reading a chunk's bytes through the store's
synchronous ``get_sync`` and running the array's codecs' synchronous decoders (Zarr's public
``SupportsGetSync`` and ``SupportsSyncCodec`` protocols) costs a tenth of that, checksums
included. Arrays this cannot read (sharded, array-to-array codecs, stores without synchronous
reads) are read through Zarr's indexing instead.
"""

from __future__ import annotations

import numpy as np
import zarr
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec, SupportsSyncCodec
from zarr.abc.store import SupportsGetSync
from zarr.codecs import ShardingCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid


class ChunkReader:
    """Reads rows of a zarr array chunked along its first axis only (the curate layout)."""

    def __init__(self, array: zarr.Array):
        self.array = array
        self._inner = array._async_array  # the zarr.AsyncArray: its metadata, store and config
        self._prototype = default_buffer_prototype()
        self.fast = self._supported(array)
        if self.fast:  # one spec serves every chunk of a regular grid
            coords = (0,) * len(array.shape)
            self._spec = self._inner.metadata.get_chunk_spec(
                coords, self._inner.config, self._prototype
            )

    def _supported(self, array: zarr.Array) -> bool:
        metadata = self._inner.metadata
        if getattr(metadata, "zarr_format", 2) != 3:
            return False
        codecs = list(metadata.codecs)
        return (
            isinstance(self._inner.store_path.store, SupportsGetSync)
            and isinstance(metadata.chunk_grid, RegularChunkGrid)
            and tuple(array.chunks[1:]) == tuple(array.shape[1:])
            and bool(codecs)
            and isinstance(codecs[0], ArrayBytesCodec)
            and not isinstance(codecs[0], ShardingCodec)
            and all(isinstance(c, BytesBytesCodec) for c in codecs[1:])
            and all(isinstance(c, SupportsSyncCodec) for c in codecs)
        )

    def chunk(self, index: int) -> np.ndarray:
        """Chunk ``index`` as stored (padded to the full chunk shape); its fill value where the
        chunk was never written. Codec and checksum errors propagate."""
        metadata, store_path, spec = self._inner.metadata, self._inner.store_path, self._spec
        coords = (index,) + (0,) * (len(self.array.shape) - 1)
        key = "/".join(p for p in (store_path.path, metadata.encode_chunk_key(coords)) if p)
        data = store_path.store.get_sync(key, prototype=self._prototype)
        if data is None:
            return np.full(self.array.chunks, self.array.fill_value, dtype=self.array.dtype)
        codecs = list(metadata.codecs)
        for codec in reversed(codecs[1:]):
            data = codec._decode_sync(data, spec)
        return codecs[0]._decode_sync(data, spec).as_numpy_array()

    def block(self, index: int) -> np.ndarray:
        """The rows of chunk ``index`` (read-only; past the array's end when it is the last)."""
        if self.fast:
            return self.chunk(index)
        size = self.array.chunks[0]
        return self.array[index * size : min((index + 1) * size, self.array.shape[0])]

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """``array[lo:hi]`` (a new array)."""
        hi = min(hi, self.array.shape[0])
        if not self.fast:
            return self.array[lo:hi]
        if hi <= lo:
            return np.empty((0, *self.array.shape[1:]), dtype=self.array.dtype)
        size = self.array.chunks[0]
        first, last = lo // size, (hi - 1) // size
        if first == last:
            return self.chunk(first)[lo - first * size : hi - first * size].copy()
        out = np.empty((hi - lo, *self.array.shape[1:]), dtype=self.array.dtype)
        for index in range(first, last + 1):
            start = index * size
            a, b = max(lo, start), min(hi, start + size)
            out[a - lo : b - lo] = self.chunk(index)[a - start : b - start]
        return out
