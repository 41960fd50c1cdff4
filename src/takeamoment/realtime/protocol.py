"""The names both ends of a stream agree on: message types, close codes, limits.

Only the standard library: ``takeamoment watch``, the CLI and tests import this without the
server's dependencies. The server sends these (``ws.py``, ``stream.py``, ``limits.py``); clients
read them. Change messages carry the change's own type (``slot.updated``, ``booking.removed``…),
as written to the change log by ``services/``.
"""

from __future__ import annotations

from typing import Final

# Message types a stream sends besides changes.
SNAPSHOT: Final = "snapshot"  # /ws/events: the whole schedule at a seq
NOTIFICATION: Final = "notification"  # /ws/me: one notice to a person
SLOT_DELETED: Final = "slot.deleted"  # the one change that carries no slot, only its id

# Close codes. RFC 6455's own:
CLOSE_TOO_BIG: Final = 1009
CLOSE_TRY_AGAIN: Final = 1013  # "try again later": too many connections, or a store is away
# Ours (RFC 6455 leaves 4000-4999 to applications):
CLOSE_TOO_SLOW: Final = 4008  # the backlog overflowed: reconnect with ?since=<last seq seen>
CLOSE_BAD_REQUEST: Final = 4400
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_NOT_FOUND: Final = 4404
CLOSE_TOO_MANY_FAILURES: Final = 4429  # this address failed to authenticate too often
TOO_SLOW_REASON: Final = "too far behind: reconnect with ?since=<last seq>"

# The largest message a client may send (the server closes with CLOSE_TOO_BIG past it).
MAX_INCOMING_BYTES: Final = 64 * 1024

# An ASGI scope extension that says: a send completes without suspending, or suspends before
# it writes anything. The hub writes to a viewer in place only then (``stream.py``): with a
# server whose send writes and then suspends (Granian's), it would send the message twice.
# ``wsprotocol.py`` (the uvicorn protocol ``serve`` runs) sets it.
IN_PLACE_SEND: Final = "takeamoment.in_place_send"
