"""Domain errors. Each maps to one HTTP status and renders as ``{"message": ...}``."""

from __future__ import annotations


class ShelfError(Exception):
    """Base of every error a client may see."""

    status = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ShelfError):
    status = 400


class Unauthorized(ShelfError):
    status = 401

    def __init__(self, message: str = "This resource requires authentication"):
        super().__init__(message, {"WWW-Authenticate": 'Basic realm="Shelf"'})


class Forbidden(ShelfError):
    status = 403


class NotFound(ShelfError):
    status = 404


class MethodNotAllowed(ShelfError):
    status = 405


class Conflict(ShelfError):
    status = 409


class RequestTimeout(ShelfError):
    status = 408


class TooManyRequests(ShelfError):
    status = 429


class ServiceUnavailable(ShelfError):
    """An AWS service (DynamoDB, S3, SQS, KMS) failed or could not be reached: nothing is lost, the
    client tries again (``chalicelib/web/faults.py`` maps such failures to this)."""

    status = 503
    MESSAGE = "A storage service is unavailable; try again in a moment"

    def __init__(self, message: str = MESSAGE, retry_after: int = 1):
        super().__init__(message, {"Retry-After": str(retry_after)})
