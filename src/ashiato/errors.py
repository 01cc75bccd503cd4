"""The one exception hierarchy. Bad input records are data (rejections), not exceptions;
these are for bad configuration and bugs, and their messages name the file and line or the id."""


class AshiatoError(Exception):
    """Base of every error ashiato raises on purpose."""


class InventoryError(AshiatoError):
    """An inventory file is missing, unreadable or invalid; the message names file and line."""


class StoreError(AshiatoError):
    """The event store is missing, damaged, or not a store."""


class IngestError(AshiatoError):
    """An input cannot be ingested at all (not found, unknown format); records never raise this."""


class DetectError(AshiatoError):
    """A detector or its parameters are misconfigured."""
