"""Diversity, coverage, correlation and physicality of sets of configurations."""
