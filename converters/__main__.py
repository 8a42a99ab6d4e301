"""``python -m converters``: see converters.cli."""

from converters.cli import main

raise SystemExit(main())
