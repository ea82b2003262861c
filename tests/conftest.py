"""Fixtures live in tests/fixtures.py (loaded for every app by the root conftest.py)."""

from tests.fixtures import _unavailable

__all__ = ["_unavailable"]
