"""Readers: one module per kernel interface. They take a root path, return frozen dataclasses in
base units and never import prometheus_client, so tests can point them at fixture trees."""


class NoData(Exception):
    """This board has no sensor of this class (no hwmon, no vcgencmd...): DEBUG, not an error.

    Defined beside the readers so a reader that finds its sensor class absent (vcgencmd not
    installed) can say so directly; collectors raise it too, and the registry reports it as
    ``edge_collector_success`` 0 without counting an error."""
