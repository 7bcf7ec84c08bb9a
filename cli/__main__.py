"""``python -m cli``: the ``billing`` console script."""

import sys

from cli import main

sys.exit(main())
