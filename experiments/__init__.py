"""migov's experiments: everything around the model, in rooms that depend one way::

    cli  ->  dashboard | claims  ->  analysis  ->  sweep  ->  common  ->  migov.model

``cli`` (one module per command), ``dashboard`` (SolaraViz app), ``claims`` (registry, verdicts,
report), ``analysis`` (figures, comparisons, sensitivity), ``sweep`` (experiments, designs, runs,
the resumable engine), ``common`` (output folders, storage, processes). ``migov.model`` never
imports from here; tests/test_architecture.py holds the rooms to this order.
"""

from importlib import metadata

try:
    __version__ = metadata.version("migov")
except metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
