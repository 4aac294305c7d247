"""One error hierarchy for the project.

Item-level problems (a broken PDF, a region a model chokes on) are caught and recorded as
`ItemFailure`s; everything that derives from `SystemicError` means the run cannot go on
(no device, model weights missing) and is raised to the orchestrator.
"""

from __future__ import annotations


class PdfAssetsError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(PdfAssetsError, ValueError):
    """A setting is invalid (unknown backend, bad device string, bad partition key)."""


class SystemicError(PdfAssetsError):
    """The stage cannot run at all; retrying single items would not help."""


class DeviceUnavailableError(SystemicError):
    """The configured device (e.g. `cuda:1`) does not exist on this machine."""


class ModelLoadError(SystemicError):
    """Model weights could not be loaded; the message says which model and how to provide it."""


class ModelContractError(SystemicError):
    """A backend broke the batch contract (one output per item, a list of outputs): every
    batch would fail the same way, so recording each item as a failure would only hide it."""


class RepeatedItemError(SystemicError):
    """Every item of a batch failed alone with the same error: the model, not the items, is broken."""


class WorkerLostError(SystemicError):
    """A model worker process died or stopped answering; its last error is in the message."""


class DatabaseUnavailableError(SystemicError):
    """The database cannot be reached or written; the message names it with the password masked."""


class DeviceOutOfMemoryError(PdfAssetsError):
    """A batch did not fit in device memory. The batch runner halves the batch and retries."""


class DocumentError(PdfAssetsError):
    """A PDF could not be opened or rendered; it is recorded and its folder carries on."""


class NotATableError(PdfAssetsError):
    """A region called a table holds no table (a table of contents, a boxed paragraph, no
    grid at all); the tables stage records it and falls back to the region's text."""


class TableTooComplexError(PdfAssetsError):
    """A table region's page has more vector drawing than the table finder is allowed to
    consider (one pathological page must not stall a run); recorded as an item failure."""
