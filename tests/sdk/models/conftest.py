from __future__ import annotations

import kiroku
import pytest
from kiroku.settings import Settings

from tests.sdk.conftest import FAST
from tests.sdk.models.fake_registry import TOKEN, FakeRegistry


@pytest.fixture
def fake():
    server = FakeRegistry()
    yield server
    server.close()


@pytest.fixture
def fake_settings(fake, kiroku_dir) -> Settings:
    return Settings(url=fake.url, token=TOKEN, project="vision", dir=kiroku_dir, **FAST)


@pytest.fixture
def api(fake_settings):
    client = kiroku.Api(settings=fake_settings)
    yield client
    client.close()
