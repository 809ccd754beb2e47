"""``python -m roadlite.params cells [--check]``: see :mod:`roadlite.params.cells`."""

from roadlite.params.cells import main

raise SystemExit(main())
