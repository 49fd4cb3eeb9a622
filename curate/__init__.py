"""curate: build and judge training sets for interatomic potentials and property GNNs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("curate")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
