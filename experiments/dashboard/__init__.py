"""The classroom dashboard: Mesa's SolaraViz page over a live model (``app``), served by
``migov dashboard`` in its own supervised process.

Uses ``analysis``, ``sweep``, ``common`` and ``migov.model``; never ``claims`` or ``cli``.
"""
