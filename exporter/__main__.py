"""`python -m edgemeter.exporter` runs the same CLI as the `exporter` console script."""

from edgemeter.exporter.cli import main

raise SystemExit(main())
