"""The claims registry (``claims.yaml``): each claim as an experiment with arms, a verdict with its
effect size and interval, scenario discovery (``where``), and the claims report.

Uses ``analysis``, ``sweep``, ``common`` and ``migov.model``; never ``dashboard`` or ``cli``.
"""
