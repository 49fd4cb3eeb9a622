"""The Zarr store of configurations, provenance and label sets."""

from curate.store.zarr_store import FORMAT, VERSION, AppendResult, FrameArrays, LabelArrays, Store

__all__ = ["FORMAT", "VERSION", "AppendResult", "FrameArrays", "LabelArrays", "Store"]
