"""``python -m tierscope.demo``."""

from .cli import standalone_main

raise SystemExit(standalone_main())
