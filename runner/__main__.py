"""`python -m runner` runs the same CLI as the `runner` console script."""

from runner.cli import main

raise SystemExit(main())
