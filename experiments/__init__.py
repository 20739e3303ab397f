"""migov's experiments: running scenarios, storing results, figures and the command line.

This package uses ``model``; ``model`` never imports from here.
"""

from importlib import metadata

try:
    __version__ = metadata.version("migov")
except metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
