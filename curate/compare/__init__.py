"""Learning curves that score the samplers: the grid of cells, the model families that train
them, the scores, the costs and the report."""
