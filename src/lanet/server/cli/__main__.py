"""``python -m lanet.server.cli``: what the ``lanet-server`` entry point runs."""

import sys

from lanet.server.cli import main

sys.exit(main())
