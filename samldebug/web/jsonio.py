"""JSON through msgspec (C), not Python's pure-Python encoder: a report is a few hundred values, and encoding it with
`json.dumps` cost more per request than routing, parsing the form and the rate limit together. Request bodies are
decoded by msgspec too (a pasted response and its metadata are a 10-20 KB body; a BOM or UTF-16/32 text is decoded
first, as json.loads would): its DecodeError is a ValueError, so Flask's `get_json` handles a malformed body as
before, and JSON nested beyond the recursion limit still raises RecursionError. Like RFC 8259 it reads no NaN or
Infinity."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider


class MsgspecJSONProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return msgspec.json.encode(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:  # the session cookie's serializer passes an object_hook, which msgspec has no equivalent of
            return super().loads(s, **kwargs)
        if isinstance(s, bytes | bytearray) and (encoding := json.detect_encoding(s)) != "utf-8":
            s = s.decode(encoding)  # a BOM or UTF-16/32 (PowerShell 5.1 writes one), as json.loads accepts them
        return msgspec.json.decode(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return Response(msgspec.json.encode(obj), mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    app.json = MsgspecJSONProvider(app)
