"""SQLAlchemy 2.0 schema and repository functions (no dagster, no torch)."""
