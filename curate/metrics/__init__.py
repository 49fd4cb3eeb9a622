"""Diversity, coverage, correlation and physicality of sets of configurations."""

from curate.metrics.autocorrelation import IntegratedTime, autocorrelation, integrated_time
from curate.metrics.descriptors import DescriptorSettings, Environments, environments
from curate.metrics.diversity import DiversitySettings, diversity_report
from curate.metrics.information import Coverage, Information, coverage, information, novelty
from curate.metrics.kernels import nearest_neighbour_similarity, structure_kernel
from curate.metrics.physicality import beyond_thermal, contact_scan
from curate.metrics.trajectories import ordered_runs, rms_displacement, run_correlation
from curate.metrics.vendi import vendi_score

__all__ = [
    "Coverage",
    "DescriptorSettings",
    "DiversitySettings",
    "Environments",
    "Information",
    "IntegratedTime",
    "autocorrelation",
    "beyond_thermal",
    "contact_scan",
    "coverage",
    "diversity_report",
    "environments",
    "information",
    "integrated_time",
    "nearest_neighbour_similarity",
    "novelty",
    "ordered_runs",
    "rms_displacement",
    "run_correlation",
    "structure_kernel",
    "vendi_score",
]
