"""``python -m migov`` is the ``migov`` command."""

import sys

from migov.experiments.cli import main

sys.exit(main())
