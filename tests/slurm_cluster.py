"""A single-node SLURM cluster for the tests: Debian's slurmctld and slurmd on this machine, as
root and without systemd, configured in a temporary folder (``SLURM_CONF``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "munged")


def unavailable() -> str | None:
    """Why a SLURM cluster cannot be started here, or None."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        return (
            f"SLURM is not installed ({', '.join(missing)} missing; make test installs it as root)"
        )
    if os.geteuid() != 0:
        return "starting slurmctld and slurmd needs root"
    return None


def configuration(folder: Path) -> str:
    host = socket.gethostname()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return f"""ClusterName=curate-tests
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
NodeName={host} CPUs={os.cpu_count()} RealMemory={int(memory * 0.8)} State=UNKNOWN
PartitionName=tests Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def slurm_cluster(folder: Path) -> Iterator[dict[str, str]]:
    """Start munge, slurmctld and slurmd; yield the environment that reaches them; shut them
    down afterwards."""
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "slurm.conf"
    conf.write_text(configuration(folder))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
        subprocess.run(["service", "munge", "start"], check=True, capture_output=True)
    subprocess.run(["slurmctld"], env=env, check=True)
    subprocess.run(["slurmd"], env=env, check=True)
    try:
        deadline = time.monotonic() + 30
        while "idle" not in sinfo(env):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the SLURM node did not come up: {sinfo(env)}")
            time.sleep(0.5)
        yield env
    finally:
        subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True)


def sinfo(env: dict[str, str]) -> str:
    done = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return done.stdout.strip()


def jobs(env: dict[str, str], states: str = "all") -> list[tuple[str, str]]:
    """(job id, state) of this cluster's jobs, finished ones included (they stay ``MinJobAge``)."""
    done = subprocess.run(
        ["squeue", "-h", "-t", states, "-o", "%i %T"], env=env, capture_output=True, text=True
    )
    return [tuple(line.split()) for line in done.stdout.splitlines() if line.strip()]
