"""The OpenAPI schema, generated from the API handlers' docstrings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.schemas import SchemaGenerator

schemas = SchemaGenerator(
    {"openapi": "3.0.0", "info": {"title": "DIT supervision platform API", "version": "1.0"},
     "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
     "security": [{"bearer": []}]}
)


async def openapi(request: Request) -> JSONResponse:
    api = [route for route in request.app.routes if isinstance(route, Mount) and route.name == "api"]
    return JSONResponse(schemas.get_schema(routes=api))
