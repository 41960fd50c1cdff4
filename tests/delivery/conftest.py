"""Delivery tests: the app with email and Web Push on, against a real SMTP server and a push
service written in the tests (``receivers.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from takeamoment.app import create_app
from takeamoment.settings import Settings
from tests.delivery.receivers import MailCatcher, PushService
from tests.helpers import Client, auth, ok


@pytest.fixture
def mail_catcher() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    yield service
    service.stop()


@pytest.fixture
def settings(settings: Settings, mail_catcher: MailCatcher) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": mail_catcher.url,
            "mail_from": "takeamoment <notices@takeamoment.test>",
            "outbound_allow_private": True,
            "delivery_poll_seconds": 0.5,
        }
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def until(predicate: Callable[[], Awaitable[bool] | bool], limit: float = 60) -> None:
    """Wait for a condition (never for a fixed time)."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        result = predicate()
        if await result if not isinstance(result, bool) else result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def subscribe(client: Client, service: PushService, token: str, mode: str = "ok") -> Any:
    """A browser subscription of the person's, registered through the API."""
    key = (await ok(await client.get("/api/push/key")))["public_key"]
    service.expected_key = key
    sub = service.subscribe(mode)
    response = await client.post(
        "/api/me/push-subscriptions", json=sub.json(service.url), headers=auth(token)
    )
    await ok(response, 201)
    return sub
