"""Where a configuration came from: the per-frame provenance every store row carries."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """How one frame was made.

    ``parent`` is the content uid of the structure the frame was derived from (0: none);
    ``round`` is the active-learning iteration that added it (0: the initial set).
    """

    scheme: str
    system: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    parent: int = 0
    temperature: float | None = None
    round: int = 0

    def params_json(self) -> str:
        """Parameters as canonical JSON (sorted keys), the form the store keeps."""
        return json.dumps(dict(self.params), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_columns(
        cls,
        scheme: str,
        system: str,
        params: str,
        seed: int,
        parent: int,
        temperature: float,
        round: int,
    ) -> Provenance:
        """Rebuild from the store's column encoding (seed −1 and NaN temperature mean none)."""
        return cls(
            scheme=scheme,
            system=system,
            params=json.loads(params) if params else {},
            seed=None if seed < 0 else int(seed),
            parent=int(parent),
            temperature=None if math.isnan(temperature) else float(temperature),
            round=int(round),
        )
