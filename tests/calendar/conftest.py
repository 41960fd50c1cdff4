"""The festival most feed tests read: built through the API on each database in turn."""

from __future__ import annotations

import pytest

from tests.calendar.builders import Festival, build_festival
from tests.helpers import Client


@pytest.fixture
async def festival(client: Client, host_token: str) -> Festival:
    return await build_festival(client, host_token)
