"""The API reference at ``/schema``: Swagger UI from pinned local files, under the site's CSP.

Litestar's render plugins load their viewer from a CDN and start it with an inline script, so
``/schema`` was blank without the network and could not run under our Content-Security-Policy.
Here the viewer's files come from the ``swagger-ui-bundle-v2`` package (pinned in
``pyproject.toml``), are served under ``/schema/assets/<version>/``, and the page starts it with
a script of our own (``/static/openapi.js``): no inline script or style, nothing from elsewhere.
``/schema/openapi.json`` stays as it was.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from litestar import Request, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from litestar.router import Router

SWAGGER_UI_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))
SWAGGER_UI_VERSION = SWAGGER_UI_DIR.name.removeprefix("swagger-ui-")
ASSETS_PATH = f"/assets/{SWAGGER_UI_VERSION}"
# What the page loads, and nothing else of the package (its demo page points at a petstore).
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


@get(
    f"{ASSETS_PATH}/{{file:str}}",
    name="swagger-ui-asset",
    include_in_schema=False,
    sync_to_thread=False,
    # The path names the version: the files under it never change.
    cache_control=CacheControlHeader(public=True, max_age=365 * 24 * 3600),
)
def swagger_ui_asset(file: FromPath[str]) -> File:
    """One of Swagger UI's files, from the installed package."""
    if file not in ASSETS:
        raise NotFoundException(detail=f"no such file of the API reference: {file!r}")
    return File(
        path=SWAGGER_UI_DIR / file, media_type=ASSETS[file], content_disposition_type="inline"
    )


class LocalSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI at ``/schema`` and ``/schema/swagger``, from :data:`ASSETS`."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        css, js = (
            escape(request.app.route_reverse("swagger-ui-asset", file=file))
            for file in ("swagger-ui.css", "swagger-ui-bundle.js")
        )
        title = escape(f"{openapi_schema['info']['title']} API reference")
        spec_url = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{spec_url}"></div>
  <script src="{js}"></script>
  <script src="/static/openapi.js"></script>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        router.register(swagger_ui_asset)
