"""Curation of existing pools: choose N frames each way the field does, filter by stated rules,
drop near-duplicates; each result is a new store that records how it was made."""
