"""A migov sweep on a SLURM cluster through dask-jobqueue (pip install 'migov[cluster]').

    python docs/cluster/dask_slurm.py experiments/library/sobol_small.yaml /scratch/$USER/sobol --jobs 4

Starts a Dask SLURMCluster (one worker process per core of each job), then runs the sweep on
it. The same sweep can also be pointed at any running scheduler from the command line:
``migov sweep EXPERIMENT --scheduler tcp://HOST:8786``.
"""

import argparse
from pathlib import Path

from dask_jobqueue import SLURMCluster
from migov.experiments.sweep.engine import run_sweep
from migov.experiments.sweep.loaded import load_experiment

ap = argparse.ArgumentParser()
ap.add_argument("experiment")
ap.add_argument("out", type=Path)
ap.add_argument("--jobs", type=int, default=4)
ap.add_argument("--cores", type=int, default=8)
args = ap.parse_args()

cluster = SLURMCluster(cores=args.cores, processes=args.cores, memory=f"{args.cores}GB", walltime="02:00:00")
cluster.scale(jobs=args.jobs)
print("scheduler:", cluster.scheduler_address)
report = run_sweep(load_experiment(args.experiment), args.out, workers=args.jobs * args.cores, executor="dask",
                   scheduler=cluster.scheduler_address)
print(f"{report.ran} runs, {report.failed} failed")
cluster.close()
