"""Machine-learned interatomic potentials and active learning: MACE committees
(:mod:`curate.potentials.mace`), the calibration of their force disagreement
(:mod:`curate.potentials.uncertainty`), the choice of frames to label
(:mod:`curate.potentials.selection`) and the loop (:mod:`curate.potentials.active`).

Nothing here imports MACE at module level: ``import mace`` changes how the whole process loads
torch files, so MACE runs in subprocesses or behind calculator specs.
"""
