"""``python -m tierscope``: the same command line as the ``tierscope`` script."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
