"""The stores the adapter tests ingest into where de-duplication matters: both."""

from tests.stores.conftest import backend  # noqa: F401
