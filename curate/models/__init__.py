"""Property models: radius graphs, the networks, training, evaluation, explanation and
hyperparameter search."""
