"""Frames copied between stores keep the labels already paid for: nothing is labelled twice."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from gnn_data import labelled_store, strained_frames

from curate.calculators import parse_spec
from curate.core.labels import LabelResult, Status
from curate.labelling.run import label_store
from curate.store import Store
from curate.store.transfer import copy_frames


def test_copied_frames_keep_their_labels_and_are_not_relabelled(tmp_path):
    frames = strained_frames("Cu", 6, seed=1)
    source = labelled_store(tmp_path / "a.zarr", frames, n_ok=5, cpu_s=3.0)
    with Store.open(source, "a") as store:
        store.write_labels("emt", [LabelResult(5, Status.FAILED_PHYSICS, error="SCF diverged")])
    dest = tmp_path / "sets.zarr"
    labelled_store(dest, strained_frames("Cu", 2, seed=7))  # other frames already there

    def retag(p):
        return replace(p, scheme="active", params={**p.params, "role": "seed"})

    with Store.open(source) as a, Store.open(dest, "a") as b:
        assert copy_frames(a, b, ["emt"], retag) == {"added": 6, "labels": 6}
        assert copy_frames(a, b, ["emt"], retag) == {"added": 0, "labels": 0}  # a re-run
    with Store.open(source) as a, Store.open(dest) as b:
        assert b.n_frames == 8 and b.scheme_counts() == {"random": 2, "active": 6}
        assert b.provenance([2])[0].params["role"] == "seed"
        was, now = a.labels("emt"), b.labels("emt", np.arange(2, 8))
        assert np.array_equal(was.status, now.status)
        assert now.error[5] == "SCF diverged" and (now.cpu_s[:5] == 3.0).all()
        for prop in ("energy", "forces", "stress"):
            assert np.array_equal(was[prop], now[prop], equal_nan=True)
    # The labeller finds the copied frames done: only the failed one is tried again on request.
    summary = label_store(dest, parse_spec("emt"), client_options={"workers": 1})
    assert summary.submitted == 0
