"""HTTP helpers: cacheable public responses with ETag / If-None-Match."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from app.core.jsonutil import dumps


def etag_for(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cached_bytes_response(request: Request, body: bytes, max_age: int, public: bool = True) -> Response:
    tag = etag_for(body)
    headers = {
        "ETag": tag,
        "Cache-Control": f"{'public' if public else 'private'}, max-age={max_age}",
        "Vary": "Accept-Encoding, Accept-Language",
    }
    inm = request.headers.get("if-none-match")
    if inm and tag in {t.strip() for t in inm.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def cacheable(request: Request, payload: BaseModel | Any, max_age: int = 60, public: bool = True) -> Response:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else jsonable_encoder(payload)
    return cached_bytes_response(request, dumps(data), max_age, public)
