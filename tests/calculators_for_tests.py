"""ASE's EMT with the failure modes labelling must survive, importable by Dask workers
(``ase:calculators_for_tests.FailingEMT``)."""

from __future__ import annotations

import subprocess
import sys
import time

from ase.calculators.emt import EMT


class FailingEMT(EMT):
    """EMT that raises, like an unconverged SCF, whenever atom 0 has moved to negative x."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        if atoms is not None and atoms.positions[0, 0] < 0:
            raise RuntimeError("SCF not converged after 100 iterations")
        super().calculate(atoms, properties, system_changes)


class SlowEMT(EMT):
    """EMT that takes ``delay`` seconds per calculation, so a run can be killed midway."""

    def __init__(self, delay: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        time.sleep(self.delay)
        super().calculate(atoms, properties, system_changes)


class NonFiniteEMT(EMT):
    """EMT whose ``broken`` result (``energy``, ``forces`` or ``stress``) comes back as NaN (or
    +inf with ``infinite``), as a diverged calculation can return it."""

    def __init__(self, broken: str = "energy", infinite: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.broken, self.value = broken, float("inf") if infinite else float("nan")

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        if self.broken in self.results:
            self.results[self.broken] = self.results[self.broken] * 0 + self.value


class ChildProcessEMT(EMT):
    """EMT that first keeps a child process busy for ``busy`` CPU-seconds, as an oracle that
    computes in a shell process of its own (CP2K's) does."""

    def __init__(self, busy: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.busy = busy

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        burn = (
            "import time\nt = time.process_time()\n"
            f"while time.process_time() - t < {self.busy}: pass"
        )
        subprocess.run([sys.executable, "-c", burn], check=True)
        super().calculate(atoms, properties, system_changes)
