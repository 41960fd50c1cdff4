"""A ``since`` that is no seq at all closes the stream with 4400 and a reason, after the
handshake, on both streams: never an HTTP 403 at the handshake."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect

from tests.api.builders import event_with_channels
from tests.conftest import ONE_BACKEND
from tests.helpers import Client, make_person, publish

pytestmark = ONE_BACKEND  # parsing a stream's since

NOT_A_SEQ = [str(2**31), str(2**63), str(10**30), "-1", "1.5", "two", ""]


@pytest.mark.parametrize("since", NOT_A_SEQ)
async def test_my_stream_closes_4400_for_a_since_that_is_no_seq(
    client: Client, host_token: str, since: str
) -> None:
    ana = await make_person(client, host_token, "ana")
    ws = await client.websocket_connect(f"/ws/me?token={ana['token']}&since={since}")
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=10)
    assert closed.value.code == 4400, closed.value
    assert "since" in closed.value.detail


@pytest.mark.parametrize("since", NOT_A_SEQ)
async def test_the_event_stream_closes_4400_for_a_since_that_is_no_seq(
    client: Client, host_token: str, since: str
) -> None:
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    ws = await client.websocket_connect(f"/ws/events/tam?since={since}")
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=10)
    assert closed.value.code == 4400, closed.value
    assert "since" in closed.value.detail


async def test_the_largest_seq_is_still_a_since(client: Client, host_token: str) -> None:
    ana = await make_person(client, host_token, "ana")
    with await client.websocket_connect(f"/ws/me?token={ana['token']}&since={2**31 - 1}") as ws:
        ws.send_text("ping")  # the stream is open: nothing is owed after that seq
    await event_with_channels(client, host_token)
    await publish(client, host_token)
    with await client.websocket_connect(f"/ws/events/tam?since={2**31 - 1}") as ws:
        assert ws.receive_json(timeout=10)["type"] == "snapshot"  # ahead of the log
