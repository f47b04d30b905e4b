"""``python -m transom``: the same as the ``transom`` command."""

import sys

from transom.cli import main

sys.exit(main())
