"""Dagster wiring: partitions, assets, resources, IO manager, sensor, schedule."""
