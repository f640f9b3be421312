"""JSON responses through msgspec (C), not Python's pure-Python encoder: a report is a few hundred values, and
encoding it with `json.dumps` cost more per request than routing, parsing the form and the rate limit together.
Request bodies are still read by Flask's standard decoder (its error handling is what the views expect)."""

from __future__ import annotations

from typing import Any

import msgspec
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider


class MsgspecJSONProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return msgspec.json.encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return Response(msgspec.json.encode(obj), mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    app.json = MsgspecJSONProvider(app)
