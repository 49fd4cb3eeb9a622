"""Samplers: the registry (:mod:`curate.samplers.registry`), the contract (:mod:`.base`), one
module per scheme, the MD and phonopy engines (:mod:`.engines`) and the sampling stage
(:mod:`.batch`)."""
