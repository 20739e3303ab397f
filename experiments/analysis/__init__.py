"""Turning results into knowledge: figures of one run, comparisons of scenarios over replicates,
and sensitivity analyses of sweeps (Morris, Sobol, correlations, replicate noise) with reports.

Uses ``sweep``, ``common`` and ``migov.model``; never ``claims``, ``dashboard`` or ``cli``.
"""
