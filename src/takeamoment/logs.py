"""Logging that never writes a token, wherever in a line it is.

Tokens travel in URLs — ``/ws/me?token=...`` and the feed URLs ``/feeds/{feed_token}.ics`` — and
access logs (uvicorn's ``"GET /feeds/....ics"`` lines) and messages would otherwise keep them.
Redacting by the parameter's name or the path misses ``?tok%65n=...``, a feed URL mistyped as
``/FEEDS/...`` or ``/feed/...`` (a 404 still gets its access line), or a token pasted anywhere
else; so :func:`redact` goes by the token's own shape (``services/tokens.py``: ``tam…_`` and
base64url), even when percent-escapes hide part of it. :class:`RedactTokens`, installed on every
handler — uvicorn's through :func:`uvicorn_log_config`, the app's (root, ``litestar``,
``takeamoment.*``) through :func:`app_logging_config` — applies it to the message and to each
of its string arguments (uvicorn passes the path as an argument, and its access formatter needs
the arguments to stay a tuple).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from litestar.logging.config import LoggingConfig
from uvicorn.config import LOGGING_CONFIG

from takeamoment.services.tokens import TOKEN_SHAPE

REDACTED = "[redacted]"
_FILTER_ID = "redact_tokens"
_FILTER = {"()": "takeamoment.logs.RedactTokens"}
_MAX_UNQUOTES = 3  # ``%2574`` is ``%74`` is ``t``: escapes of escapes, a few levels deep


def _unescaped(text: str) -> str:
    for _ in range(_MAX_UNQUOTES):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def redact(text: str) -> str:
    """``text`` with every token in it replaced by ``[redacted]``. A line whose token shows
    only once its percent-escapes are decoded is written decoded, with the token redacted."""
    text = TOKEN_SHAPE.sub(REDACTED, text)
    if "%" in text:
        decoded = _unescaped(text)
        if TOKEN_SHAPE.search(decoded):
            return TOKEN_SHAPE.sub(REDACTED, decoded)
    return text


def _redact_arg(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments through :func:`redact`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
        return True


def _with_filter(handlers: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {**handler, "filters": [*handler.get("filters", []), _FILTER_ID]}
        for name, handler in handlers.items()
    }


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with :class:`RedactTokens` on each of its handlers
    (the level still comes from ``uvicorn.run(log_level=...)``)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {_FILTER_ID: _FILTER}
    config["handlers"] = _with_filter(config["handlers"])
    return config


def app_logging_config() -> LoggingConfig:
    """Litestar's default logging (root and ``litestar`` to stderr through a queue) with
    :class:`RedactTokens` on each handler."""
    defaults = LoggingConfig()
    return LoggingConfig(filters={_FILTER_ID: _FILTER}, handlers=_with_filter(defaults.handlers))
