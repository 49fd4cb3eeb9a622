"""Machine-learned interatomic potentials for active learning: MACE committees
(:mod:`curate.potentials.mace`), their force disagreement and its calibration
(:mod:`curate.potentials.uncertainty`), and the choice of frames to label (:mod:`curate.potentials.selection`).

Nothing here imports MACE at module level: ``import mace`` changes how the whole process loads
torch files, so MACE runs in subprocesses or behind calculator specs.
"""
