"""Real time: committed changes → the bus (Litestar Channels) → each process's hub → WebSockets."""

from __future__ import annotations
