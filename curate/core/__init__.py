"""Foundations every stage shares: errors, the label contract, provenance, content identity,
caches, neighbour geometry and Dask clients. Imports nothing else of curate."""
