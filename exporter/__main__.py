"""`python -m exporter` runs the same CLI as the `exporter` console script."""

from exporter.cli import main

raise SystemExit(main())
