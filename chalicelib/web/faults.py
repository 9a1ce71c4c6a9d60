"""Which exceptions are a failing AWS service rather than a bug: they answer 503
``errors.ServiceUnavailable`` (with ``Retry-After``) instead of a 500 (docs/reliability.md, "Fault
injection"). A refusal DynamoDB gives for a reason of the request (a failed condition, a validation
error) is not one: it stays what it was.

Example::

    try:
        ...
    except Exception as error:
        if service_fault(error):
            return error_response(ServiceUnavailable())
        raise
"""

from __future__ import annotations

#: Error codes of AWS answers that say the service, not the request, failed (or throttled): trying
#: again later succeeds.
SERVICE_FAULT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceUnavailableError",
        "Throttling",
        "ThrottlingException",
        "ThrottlingError",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflict",
        "TransactionInProgressException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
    }
)


def _codes(error: BaseException) -> list[str]:
    """The AWS error codes an exception carries: botocore's, PynamoDB's cause, a cancelled
    transaction's reasons."""
    codes = []
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            codes.append(str(code))
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if isinstance(status, int) and status >= 500:
            codes.append("InternalError")
    for reason in getattr(error, "cancellation_reasons", None) or ():
        if reason is not None and getattr(reason, "code", None):
            codes.append(str(reason.code))
    return codes


def service_fault(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is an AWS service failing or unreachable."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (BotoConnectionError, HTTPClientError)):
            return True
        # A cancelled transaction is judged by its reasons (one per action, "None" for those not
        # at fault): any real refusal among them (a failed condition) makes it the request's fault.
        codes = [c for c in _codes(current) if c not in ("None", "TransactionCanceledException")]
        if codes:
            return all(code in SERVICE_FAULT_CODES for code in codes)
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
    return False
