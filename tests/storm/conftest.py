"""Storm scenarios run on both stores: ``backend`` is the store contract suite's fixture."""

from __future__ import annotations

from tests.stores.conftest import backend

__all__ = ["backend"]
