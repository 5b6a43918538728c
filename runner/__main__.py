"""`python -m edgemeter.runner` runs the same CLI as the `runner` console script."""

import signal

_signalled: list[int] = []


def _before_start(signum: int, frame: object) -> None:
    """A signal while the runner is still importing: remembered (raising here could land inside
    the import machinery and print a traceback), and honoured as soon as main() starts."""
    _signalled.append(signum)


signal.signal(signal.SIGINT, _before_start)
signal.signal(signal.SIGTERM, _before_start)

from edgemeter.runner.cli import main  # noqa: E402 - after the handlers, so an early Ctrl-C prints no traceback

raise SystemExit(main(None, signalled=bool(_signalled)))
