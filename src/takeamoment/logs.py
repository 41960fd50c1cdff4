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

With ``TAKEAMOMENT_LOG_FORMAT=json`` every handler also gets :class:`JsonLines`: one JSON object a
line, with the current request's id (``request_id.py``), stamped by :class:`StampRequestId` in the
thread that logs.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from litestar.logging.config import LoggingConfig
from uvicorn.config import LOGGING_CONFIG

from takeamoment.request_id import current_request_id
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


def uvicorn_log_config(*, json_lines: bool = False) -> dict[str, Any]:
    """uvicorn's default logging config with :class:`RedactTokens` on each of its handlers
    (the level still comes from ``uvicorn.run(log_level=...)``); JSON lines if asked."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {_FILTER_ID: _FILTER}
    config["handlers"] = _with_filter(config["handlers"])
    if json_lines:
        config["filters"][_STAMP_ID] = _STAMP
        config["formatters"] = dict.fromkeys(config["formatters"], _JSON_FORMATTER)
        config["handlers"] = _with_stamp(config["handlers"])
    return config


def app_logging_config(*, json_lines: bool = False, level: str = "info") -> LoggingConfig:
    """Litestar's default logging (root and ``litestar`` to stderr through a queue) with
    :class:`RedactTokens` on each handler; JSON lines if asked, and the access lines of
    ``api/observe.py`` at ``level``."""
    defaults = LoggingConfig()
    loggers = {**defaults.loggers, "takeamoment.access": {"level": level.upper()}}
    if not json_lines:
        return LoggingConfig(
            filters={_FILTER_ID: _FILTER}, handlers=_with_filter(defaults.handlers), loggers=loggers
        )
    return LoggingConfig(
        filters={_FILTER_ID: _FILTER, _STAMP_ID: _STAMP},
        formatters={"standard": _JSON_FORMATTER},
        handlers=_with_stamp(_with_filter(defaults.handlers)),
        loggers=loggers,
    )


_STAMP_ID = "stamp_request_id"
_STAMP = {"()": "takeamoment.logs.StampRequestId"}
_JSON_FORMATTER = {"()": "takeamoment.logs.JsonLines"}
# What every LogRecord has; anything else on a record is a field someone passed in ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
    "request_id",
}


def _with_stamp(handlers: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {**handler, "filters": [*handler.get("filters", []), _STAMP_ID]}
        for name, handler in handlers.items()
    }


class StampRequestId(logging.Filter):
    """Puts the current request's id on the record while still in the thread that logs it
    (a queue handler may format it in another thread, where the request is unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(key): _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request id (inside a request),
    the fields given in ``extra`` and the traceback; every string through :func:`redact`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id is not None:
            line["request_id"] = request_id
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(_redacted(line))
