"""Labelling a store: the worker side (frames in, one result per frame out) and the run on Dask
that streams results into the store."""
