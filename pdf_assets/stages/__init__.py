"""Pipeline stages: domain objects in, domain objects out (no dagster, no torch)."""
