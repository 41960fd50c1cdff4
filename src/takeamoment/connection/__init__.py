"""What HTTP requests and WebSockets share about who is at the other end of a connection.

The peer address every per-address limit counts by (``address.py``), the bearer token or the
host console's session cookie a caller is known by (``credentials.py``, ``session.py``), and the
limit on failed authentications per address (``auth_limits.py``). Both ``api``/``web`` (HTTP) and
``realtime`` (WebSockets) import this package; it imports only ``services`` and below.
"""

from __future__ import annotations
