"""Property GNNs selected by name: the paper's ``paper-1`` … ``paper-6`` GraphConv networks and
``schnet``, the default, which learns energies the GraphConv networks do not."""

from __future__ import annotations

from curate.core.errors import InputError
from curate.models.networks.base import OUTPUTS, PropertyModel
from curate.models.networks.paper import ARCHITECTURES, PaperGNN
from curate.models.networks.schnet import SchNet
from curate.models.settings import DEFAULT_MODEL, model_defaults

MODELS = (*ARCHITECTURES, "schnet")
READOUTS = ("mean", "sum")


def build_model(
    name: str,
    hidden: int = 64,
    dropout: float = 0.0,
    output: str = "linear",
    cutoff: float = 5.5,
    readout: str = "mean",
) -> PropertyModel:
    """A freshly initialised model. ``readout`` (per-atom mean or sum) and ``cutoff`` apply to
    ``schnet``; the paper's networks pool as their architecture says."""
    if name not in MODELS:
        raise InputError(f"unknown model '{name}' (models: {', '.join(MODELS)})")
    if output not in OUTPUTS:
        raise InputError(f"unknown output activation '{output}' ({', '.join(OUTPUTS)})")
    if readout not in READOUTS:
        raise InputError(f"unknown readout '{readout}' ({', '.join(READOUTS)})")
    if hidden < 2 or not 0 <= dropout < 1:
        raise InputError(f"need hidden ≥ 2 and 0 ≤ dropout < 1, got {hidden} and {dropout}")
    if name == "schnet":
        return SchNet(hidden=hidden, cutoff=cutoff, readout=readout, dropout=dropout, output=output)
    return PaperGNN(name, hidden=hidden, dropout=dropout, output=output)


__all__ = ["DEFAULT_MODEL", "MODELS", "PropertyModel", "build_model", "model_defaults"]
