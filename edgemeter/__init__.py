"""edgemeter: what an edge board did while it ran a model, prompt by prompt or span by span.

One import package: ``edgemeter.exporter`` (the Prometheus exporter: board sensors read at
scrape time, power integrated into energy) and ``edgemeter.runner`` (prompts through an engine,
measured, kept and pushed; export and report). The folders ``exporter/`` and ``runner/`` of the
repository are mapped onto them (``pyproject.toml``), so the console scripts ``exporter`` and
``runner`` and ``python -m edgemeter.exporter`` / ``python -m edgemeter.runner`` are the ways in.

``edgemeter.span()`` measures any block of Python code (edgemeter/measure.py).

``__version__`` comes from the installed distribution's metadata, the one place it is set
(``pyproject.toml``); it is looked up on first use, so importing the package costs nothing
(``python -m edgemeter.runner`` must reach its signal handlers within milliseconds).
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("edgemeter")
    except PackageNotFoundError:  # a checkout on sys.path without an install
        return "0+unknown"


def __getattr__(name: str) -> object:  # no imports at the top: a Ctrl-C must find our handlers fast
    if name == "__version__":
        return version()
    if name in ("span", "Span"):  # the Python API (edgemeter/measure.py), imported on first use
        from importlib import import_module

        return getattr(import_module("edgemeter.measure"), name)
    raise AttributeError(f"edgemeter has no attribute {name!r}")
