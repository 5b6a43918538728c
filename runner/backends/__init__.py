"""Backends, one module each behind :class:`runner.backends.base.Backend`."""
