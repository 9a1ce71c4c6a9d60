"""Lambda@Edge (CloudFront origin request) in front of the API: the deployed twin of the local
gateway's body withholding (infra/local/gateway.py).

API Gateway refuses bodies over 10 MB and Lambda events over 6 MB, so an upload above the app's inline
limit must reach the function *without its body*: this handler replaces the body of such a request with
nothing and passes the client's Content-Length on as ``X-Shelf-Content-Length``; the app answers 307 to
a presigned S3 PUT (chalicelib/content/large.py). Any client-sent ``X-Shelf-Content-Length`` is dropped.

It also keeps bodies byte-exact through the HTTP API: an HTTP API has no binary media types and hands
the function a body whose Content-Type is text (``text/*``, JSON, XML, JavaScript) as a UTF-8 string,
which bytes that are not UTF-8 would not survive. So a ``PUT``/``POST``/``PATCH`` travels on as
``Content-Type: application/octet-stream`` (base64-encoded by API Gateway, decoded by Chalice) with the
client's Content-Type in ``X-Shelf-Content-Type``, which the app restores (chalicelib/web/httpapi.py).
Any client-sent ``X-Shelf-Content-Type`` is dropped.

Standard library only: CloudFormation inlines this file (``MAX_INLINE_UPLOAD`` is replaced by the app's
limit when the template is generated, see infra/cloudformation.py); Lambda@Edge has no environment
variables.
"""

MAX_INLINE_UPLOAD = 4718592
HEADER = "x-shelf-content-length"
TYPE_HEADER = "x-shelf-content-type"
BODY_METHODS = ("PUT", "POST", "PATCH")
UPLOAD_METHODS = ("PUT", "POST")
BINARY = "application/octet-stream"


def handler(event, context):
    """Forward ``request`` as is, or without its body (and with its length in ``HEADER``), its
    Content-Type in ``TYPE_HEADER``."""
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    headers.pop(HEADER, None)
    headers.pop(TYPE_HEADER, None)
    if request["method"] not in BODY_METHODS:
        return request
    content_type = headers.get("content-type")
    if content_type:
        headers[TYPE_HEADER] = [{"key": "X-Shelf-Content-Type", "value": content_type[0]["value"]}]
        headers["content-type"] = [{"key": "Content-Type", "value": BINARY}]
    values = headers.get("content-length") or [{"value": ""}]
    length = values[0]["value"].strip()
    withhold = request["method"] in UPLOAD_METHODS
    if withhold and length.isascii() and length.isdigit() and int(length) > MAX_INLINE_UPLOAD:
        headers[HEADER] = [{"key": "X-Shelf-Content-Length", "value": length}]
        request["body"] = {"action": "replace", "encoding": "text", "data": ""}
    return request
