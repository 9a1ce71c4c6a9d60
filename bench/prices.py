"""AWS list prices used by the cost models (``make cost``, ``bench/cost.py``; ``make bench``'s download
statistics, ``bench/stats.py``), in US dollars.

Source: the public pricing pages of each service (aws.amazon.com/<service>/pricing), region us-east-1
(N. Virginia), first pricing tier, no free tier, no savings plan; as known on 2026-12-02 when this
table was written (DynamoDB on-demand after its November 2024 price reduction). Re-check the pages
before relying on a figure: only this module needs editing.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-12-02"
REGION = "us-east-1"

MILLION = 1_000_000

#: API Gateway REST API: per million requests (first 333 million a month). Shelf's API is an HTTP API
#: since issue #14; kept for comparison.
API_GATEWAY_REST_PER_MILLION = 3.50
#: API Gateway HTTP API: per million requests (first 300 million a month), each request metered in
#: 512 KB increments: one of up to 512 KB counts once, one of 1.2 MB three times.
API_GATEWAY_HTTP_PER_MILLION = 1.00
API_GATEWAY_HTTP_METERING_BYTES = 512 * 1024
#: Lambda@Edge (the CDN's upload front runs on every request to the API through CloudFront): per million
#: requests, and per GB-second (billed per millisecond; 128 MB).
LAMBDA_EDGE_PER_MILLION_REQUESTS = 0.60
LAMBDA_EDGE_PER_GB_SECOND = 0.00005001
#: Lambda (x86): per million requests, and per GB-second of duration (billed per millisecond).
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_PER_GB_SECOND = 0.0000166667
#: DynamoDB on-demand, Standard table class: per million write / read request units. A write unit is
#: one write of up to 1 KB (two for a transactional write); a read unit one strongly consistent read
#: of up to 4 KB (half for an eventually consistent one, two for a transactional one).
DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_PER_MILLION_RRU = 0.125
#: DynamoDB Standard table class: storage per GB-month (beyond the first 25 GB).
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25
#: SQS standard queue: per million requests (each 64 KB chunk of a payload is one request).
SQS_PER_MILLION_REQUESTS = 0.40
#: S3 Standard: PUT, COPY, POST, LIST per million; GET, SELECT and others per million.
S3_PUT_PER_MILLION = 5.00
S3_GET_PER_MILLION = 0.40
#: CloudFront (United States, Mexico and Canada): HTTPS requests per million, and data transfer out to
#: the internet per GB (first 10 TB a month). Origin fetches from S3 carry no transfer charge.
CLOUDFRONT_HTTPS_PER_MILLION = 1.00
CLOUDFRONT_TRANSFER_PER_GB = 0.085
#: S3 data transfer out to the internet per GB (first 10 TB a month): a redirect download from S3.
S3_TRANSFER_PER_GB = 0.09
#: AWS CodeArtifact, the comparison: requests per million, data transfer out per GB.
CODEARTIFACT_PER_MILLION_REQUESTS = 5.00
CODEARTIFACT_TRANSFER_PER_GB = 0.09


def http_api_requests(size: int) -> int:
    """How many requests an HTTP API bills for one request of ``size`` bytes (512 KB increments)."""
    return max(1, -(-size // API_GATEWAY_HTTP_METERING_BYTES))
