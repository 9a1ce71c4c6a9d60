"""Route of the event stream (the spec's Stream API), served by long polling (see services.py)."""

from __future__ import annotations

import base64
import gzip
import re
from typing import Any

from chalice import Response

from chalicelib.auth.policy import Need, Right, require
from chalicelib.config import settings
from chalicelib.stream import services
from chalicelib.web import schemas
from chalicelib.web.context import Ctx
from chalicelib.web.routing import Api

api = Api(__name__)

RECONNECT_HEADER = "X-Bintray-Stream-Reconnect-Id"
#: Newline-delimited JSON: one event per line, an empty line as keep-alive.
CONTENT_TYPE = "application/x-ndjson"
#: The observed refusal of another subject's stream.
FORBIDDEN = "Forbidden"
_NO_GZIP = re.compile(r"q\s*=\s*0(\.0*)?")


class BytesResponse(Response):
    """A response whose bytes body travels base64-encoded (API Gateway decodes it), whatever the
    app's binary types: gzip-compressed lines."""

    def to_dict(self, binary_types: list[str] | None = None) -> dict[str, Any]:
        out = super().to_dict(None)
        if isinstance(self.body, bytes):
            out["body"] = base64.b64encode(self.body).decode("ascii")
            out["isBase64Encoded"] = True
        return out


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header asks for gzip (named, without ``q=0``)."""
    for part in (header or "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            return not _NO_GZIP.fullmatch(params.strip())
    return False


def stream_response(answer: services.Answer, accept_encoding: str | None) -> Response:
    """The answer's lines, ``\\r\\n``-terminated (an empty line when there is none), gzip when asked."""
    text = "".join(line + "\r\n" for line in answer.lines) or "\r\n"
    headers = {"Content-Type": CONTENT_TYPE, RECONNECT_HEADER: answer.reconnect_id, "Vary": "Accept-Encoding"}
    if accepts_gzip(accept_encoding):
        headers["Content-Encoding"] = "gzip"
        return BytesResponse(gzip.compress(text.encode("utf-8"), mtime=0), headers, 200)
    return Response(text, headers, 200)


@api.route("/stream/{subject}", ["GET"], Need.AUTHENTICATED, response=schemas.NDJSON)
def read_stream(ctx: Ctx, subject: str) -> Response:
    """The subject's events since the reconnect id (its admins only: others 403 ``Forbidden``)."""
    require(ctx, Right.ADMIN, FORBIDDEN)
    answer = services.poll(subject, ctx.headers.get(RECONNECT_HEADER), settings().stream_wait_seconds)
    return stream_response(answer, ctx.headers.get("accept-encoding"))
