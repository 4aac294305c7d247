"""One dynamic partition per folder of PDFs, and the rule that a key names one folder.

A key is derived from a folder's name, so two folders can ask for the same key (`/a/2024`
and `/b/2024`). Running both under one key would silently process one and, run one after
the other, each would replace the other's rows. So keys are checked before a run: within
one request, and against the folder the database recorded for the key on its last run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from dagster import DynamicPartitionsDefinition
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from pdf_assets.core.errors import ConfigError
from pdf_assets.core.folders import partition_key_for
from pdf_assets.storage.db import engine_scope
from pdf_assets.storage.schema import PartitionRow

PARTITIONS_NAME = "pdf_folders"

folder_partitions = DynamicPartitionsDefinition(name=PARTITIONS_NAME)
#: Folders per run, for backfills, the sensor, the schedule and the CLI alike: enough for full
#: batches on every model, few enough that one run's values fit in memory and a failed run
#: costs little to redo.
MAX_PARTITIONS_PER_RUN = int(os.environ.get("PDF_ASSETS_MAX_PARTITIONS_PER_RUN", "50"))


class PartitionKeyConflict(ConfigError):
    """Two folders ask for one partition key, or a key is already bound to another folder."""


def recorded_folders(db_url: str) -> dict[str, str]:
    """The folder each partition key was last written from (empty when there is no database
    yet); reading never creates tables."""
    with engine_scope(db_url, init=False) as engine:
        try:
            if not inspect(engine).has_table(PartitionRow.__tablename__):
                return {}
            with engine.connect() as conn:
                return {key: folder for key, folder in conn.execute(select(PartitionRow.key, PartitionRow.folder))}
        except SQLAlchemyError:
            return {}


def key_folders(folders: Sequence[Path]) -> dict[str, Path]:
    """`{key: folder}` for a request, refusing names that cannot be keys and two folders with
    one key (the message names both folders and how to tell them apart)."""
    keyed: dict[str, Path] = {}
    bad: list[str] = []
    clashes: list[str] = []
    for folder in folders:
        key = partition_key_for(folder.name)
        if key is None:
            bad.append(str(folder))
        elif key in keyed and keyed[key] != folder:
            clashes.append(f"{key!r}: {keyed[key]} and {folder}")
        else:
            keyed[key] = folder
    if bad:
        raise PartitionKeyConflict(f"folder names cannot become partition keys: {', '.join(bad)}")
    if clashes:
        raise PartitionKeyConflict(
            "two folders would share one partition key (a key is the folder's name); rename one: " + "; ".join(clashes)
        )
    return keyed


def check_bindings(keyed: Mapping[str, Path], recorded: Mapping[str, str], rebind: bool = False) -> None:
    """Refuse a key whose rows were last written from another folder, unless `rebind`:
    running it would replace that folder's rows with this folder's."""
    taken = [
        f"{key!r} is bound to {recorded[key]}, not {folder}"
        for key, folder in keyed.items()
        if key in recorded and Path(recorded[key]).resolve() != folder.resolve()
    ]
    if taken and not rebind:
        raise PartitionKeyConflict(
            "partition keys already hold another folder's rows: "
            + "; ".join(taken)
            + " (rename the folder, or pass --rebind to replace those rows)"
        )
