"""Logging that never writes a secret carried in a URL.

Tokens travel in URLs in two places: ``/ws/me?token=...`` and the feed URLs
``/feeds/{feed_token}.ics``. Access logs (uvicorn's ``"WebSocket /ws/me?token=..."`` and
``"GET /feeds/....ics"`` lines) and any message of ours would otherwise keep them.
:class:`RedactTokens`, installed on every handler — uvicorn's through :func:`uvicorn_log_config`,
the app's (root, ``litestar``, ``takeamoment.*``) through :func:`app_logging_config` — rewrites
``token=<value>`` to ``token=[redacted]`` and ``/feeds/<anything>`` to ``/feeds/[redacted].ics``
in the message and in each of its string arguments (uvicorn passes the path as an argument, and
its access formatter needs the arguments to stay a tuple).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

from litestar.logging.config import LoggingConfig
from uvicorn.config import LOGGING_CONFIG

REDACTED = "[redacted]"
_FILTER_ID = "redact_tokens"
_FILTER = {"()": "takeamoment.logs.RedactTokens"}

# A ``token`` query parameter, whatever its case, up to the next parameter or the URL's end.
_QUERY_TOKEN = re.compile(r"(?i)([?&;]token=)[^&;#\s\"']*")
# A feed URL's last segment (the feed token), with or without ``.ics``, up to any query.
_FEED_PATH = re.compile(r"/feeds/[^/?#\s\"']+")


def redact(text: str) -> str:
    """``text`` without query-string tokens or feed tokens."""
    if "token" in text.lower():
        text = _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    if "/feeds/" in text:
        text = _FEED_PATH.sub(f"/feeds/{REDACTED}.ics", text)
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
