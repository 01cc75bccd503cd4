"""The event store: Parquet files by UTC day that DuckDB (and later Spark) read in place."""

from ashiato.store.layout import StoreLayout
from ashiato.store.tables import Store

__all__ = ["Store", "StoreLayout"]
