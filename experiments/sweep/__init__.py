"""Running the model many times: experiment files and their designs, one run, pools of runs, and
the sweep engine with its resumable folder (store) and per-shard locks.

Uses ``common`` and ``migov.model``; never ``analysis``, ``claims``, ``dashboard`` or ``cli``.
"""
