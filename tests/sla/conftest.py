"""The stores the SLA tests run on: both, as in the store contract suite."""

from tests.stores.conftest import backend  # noqa: F401
