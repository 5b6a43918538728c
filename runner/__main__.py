"""`python -m runner` runs the same CLI as the `runner` console script."""

import signal


def _before_start(signum: int, frame: object) -> None:
    """A signal while the runner is still importing: nothing is measured yet, so exit quietly."""
    raise SystemExit(130)


signal.signal(signal.SIGINT, _before_start)
signal.signal(signal.SIGTERM, _before_start)

from runner.cli import main  # noqa: E402 - after the handlers, so an early Ctrl-C prints no traceback

raise SystemExit(main())
