"""Shared fixtures for users of each role."""

from __future__ import annotations

import pytest

from app.auth.models import User
from tests.factories import Factory


@pytest.fixture
async def admin(factory: Factory) -> User:
    return await factory.user("admin")


@pytest.fixture
async def admin_headers(factory: Factory, admin: User) -> dict[str, str]:
    return factory.headers(admin)


@pytest.fixture
async def farmer(factory: Factory) -> User:
    return await factory.user("farmer")


@pytest.fixture
async def farmer_headers(factory: Factory, farmer: User) -> dict[str, str]:
    return factory.headers(farmer)
