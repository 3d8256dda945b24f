"""``python -m dreamgym``: the ``dreamgym`` command."""

import sys

from .cli import main

sys.exit(main())
