"""Lambda@Edge (CloudFront origin request) in front of the API: the deployed twin of the local
gateway's body withholding (infra/local/gateway.py).

API Gateway refuses bodies over 10 MB and Lambda events over 6 MB, so an upload above the app's inline
limit must reach the function *without its body*: this handler replaces the body of such a request with
nothing and passes the client's Content-Length on as ``X-Shelf-Content-Length``; the app answers 307 to
a presigned S3 PUT (chalicelib/content/large.py). Any client-sent ``X-Shelf-Content-Length`` is dropped.

Standard library only: CloudFormation inlines this file (``MAX_INLINE_UPLOAD`` is replaced by the app's
limit when the template is generated, see infra/cloudformation.py); Lambda@Edge has no environment
variables.
"""

MAX_INLINE_UPLOAD = 4718592
HEADER = "x-shelf-content-length"


def handler(event, context):
    """Forward ``request`` as is, or without its body (and with its length in ``HEADER``)."""
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    headers.pop(HEADER, None)
    if request["method"] not in ("PUT", "POST"):
        return request
    values = headers.get("content-length") or [{"value": ""}]
    length = values[0]["value"].strip()
    if length.isascii() and length.isdigit() and int(length) > MAX_INLINE_UPLOAD:
        headers[HEADER] = [{"key": "X-Shelf-Content-Length", "value": length}]
        request["body"] = {"action": "replace", "encoding": "text", "data": ""}
    return request
