"""``python -m floodsim`` is the same as the ``floodsim`` command."""

import sys

from .cli import main

sys.exit(main())
