"""Calculator registry: specs, backends and the labeller that runs them."""

from curate.calculators.backends import build_calculator, require_backend
from curate.calculators.spec import CalculatorSpec, parse_kwargs, parse_spec

__all__ = ["CalculatorSpec", "build_calculator", "parse_kwargs", "parse_spec", "require_backend"]
