"""Fixtures for the account tests: the process runner of the security tests, a fast hasher."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tests.security.conftest import run_processes

__all__ = ["fast_hasher", "run_processes"]


@pytest.fixture
def fast_hasher() -> PasswordHasher:
    """A cheap argon2id hasher: these tests are about rules and storage, not hashing cost."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
