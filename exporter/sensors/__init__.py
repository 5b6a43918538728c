"""Readers: one module per kernel interface. They take a root path, return frozen dataclasses in
base units and never import prometheus_client, so tests can point them at fixture trees."""
