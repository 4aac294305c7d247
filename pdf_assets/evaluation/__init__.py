"""Quality evaluation: score what the pipeline stored against the shared corpus's ground truth.

`evaluate` runs the pipeline over a corpus (or reads an existing database), scores every
document (text, olmOCR rules, tables, layout, charts, failures) and returns a JSON-ready
report; `report.render_markdown` turns it into the Markdown of `docs/quality.md`, and
`golden` writes and compares the reviewed per-document snapshots in `tests/golden/`.
Scorers are pure functions in `text`, `tables`, `layout` and `charts`.

Nothing is imported here, so the CLI can build its parser without loading pandas.
"""
