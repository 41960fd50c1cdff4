"""How a plugin offers one of its parts to handlers through Litestar's dependency injection."""

from __future__ import annotations

from typing import Any

from litestar.di import Provide


def provide_value(value: Any) -> Provide:
    """A dependency that is always ``value`` (made once, by ``create_app`` or a plugin)."""

    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)
