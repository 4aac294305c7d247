"""Alembic revisions of the database schema, shipped inside the package.

`storage.db.init_db` runs `upgrade head` programmatically (no alembic.ini at run time), so a
database written by an older release is upgraded in place the first time a newer one opens
it. A new revision for a change to `storage.schema` is written with Alembic's API, e.g.
`alembic.command.revision(storage.db.migrations_config(url), "what changed", autogenerate=True)`
against a database at head, then checked by hand (autogenerate sees no CHECK constraints).
"""
