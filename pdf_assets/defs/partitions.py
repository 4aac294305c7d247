"""One dynamic partition per inbox folder."""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition

PARTITIONS_NAME = "pdf_folders"

folder_partitions = DynamicPartitionsDefinition(name=PARTITIONS_NAME)
