"""The merge template of the deployed stage, generated from what the code declares.

``python -m infra.cloudformation`` rewrites ``infra/resources.json``; ``make package`` merges it into
``chalice package --stage prod`` (functions, API) and writes the deployable template (README, "Deploying").
A test fails when the file is out of date with the code. What comes from where:

- tables: one per PynamoDB model (``db.all_models()``);
- queues: ``queues.ALL_QUEUES``, each consumed queue with a dead-letter queue (``queues.DEAD_LETTER_QUEUES``
  names declared ones; the others get ``<queue>-dlq``), visibility timeouts from the consuming
  function's timeout (``.chalice/config.json``), encrypted with the stack's KMS key;
- buckets: ``config.BUCKET_VARIABLES`` (per-stack names, passed to every function in those variables);
- functions: the app's own (``app.py``), for their environment and their least-privilege IAM policies,
  scoped to this stack's tables, queues, bucket and key;
- the CDN: CloudFront in front of the API (the upload front ``infra/edge/upload_front.py``) and of the
  bucket's ``dl/`` copies (origin access control, failover to the API), logging to the log bucket.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

RESOURCES = Path(__file__).with_name("resources.json")
ROOT = Path(__file__).resolve().parent.parent
STAGE = "prod"
PROD_PREFIX = "shelf-prod-"
#: The API handler's function and role in Chalice's template (other functions: CamelCase of their name).
API_HANDLER = "api_handler"
#: CloudFront's managed policies (ids are fixed by AWS).
ORIGIN_REQUEST_ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
#: How long CloudFront and S3 lifecycle keep things.
STAGED_UPLOAD_DAYS = 2
INCOMPLETE_MULTIPART_DAYS = 1
LOG_DAYS = 30
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
#: The CDN copies (chalicelib/cdn): ``dl/<subject>/<repo>/<path>`` in the content bucket.
CDN_PREFIX = "dl/"
CDN_LOG_PREFIX = "cloudfront/"


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def arn(name: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, "Arn"]}


def camel(name: str) -> str:
    """``upload-events`` / ``upload_events`` -> ``UploadEvents`` (Chalice's resource names)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


# --- tables ------------------------------------------------------------------------------------------


def _key_schema(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(entries, key=lambda e: e["KeyType"] != "HASH")


def table_resource(model: Any) -> dict[str, Any]:
    """The ``AWS::DynamoDB::Table`` resource of one model."""
    schema = model._get_schema()
    properties: dict[str, Any] = {
        "TableName": model.Meta.table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(schema["attribute_definitions"], key=lambda a: a["AttributeName"]),
        "KeySchema": _key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    for kind, name in (
        ("global_secondary_indexes", "GlobalSecondaryIndexes"),
        ("local_secondary_indexes", "LocalSecondaryIndexes"),
    ):
        indexes = [
            {
                "IndexName": index["index_name"],
                "KeySchema": _key_schema(index["key_schema"]),
                "Projection": index["projection"],
            }
            for index in schema.get(kind, [])
        ]
        if indexes:
            properties[name] = sorted(indexes, key=lambda i: i["IndexName"])
    ttl = model._ttl_attribute()
    if ttl is not None:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl.attr_name, "Enabled": True}
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def tables() -> dict[str, dict[str, Any]]:
    from chalicelib.db import all_models

    return {
        f"{camel(model.Meta.table_name[len(PROD_PREFIX) :])}Table": table_resource(model)
        for model in all_models()
    }


# --- functions (what Chalice will generate) ----------------------------------------------------------


def functions() -> dict[str, dict[str, Any]]:
    """The app's functions: ``{name: {"logical", "role", "queue" (consumed, or None), "timeout"}}``."""
    from chalice.app import SQSEventConfig
    from chalice.config import Config

    import app as shelf

    disk = json.loads((ROOT / ".chalice" / "config.json").read_text())

    def timeout(name: str) -> int:
        config = Config(chalice_stage=STAGE, function_name=name, config_from_disk=disk)
        return int(config.lambda_timeout or 60)

    found: dict[str, dict[str, Any]] = {
        API_HANDLER: {"logical": "APIHandler", "role": "ApiHandlerRole", "queue": None},
    }
    for function in shelf.app.pure_lambda_functions:
        found[function.name] = {"queue": None}
    for source in shelf.app.event_sources:
        queue = source.queue if isinstance(source, SQSEventConfig) else None
        found[source.name] = {"queue": queue}
    for name, spec in found.items():
        spec.setdefault("logical", camel(name))
        spec.setdefault("role", f"{camel(name)}Role")
        spec["timeout"] = timeout(name)
    return found


# --- queues --------------------------------------------------------------------------------------------


def queue_logical(short: str) -> str:
    return f"{camel(short)}Queue"


def queues(consumers: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Every declared queue (``consumers``: deployed queue name -> the consuming function's timeout),
    each consumed queue with its dead-letter queue."""
    from chalicelib import queues as q

    declared_dlqs = set(q.DEAD_LETTER_QUEUES.values())
    resources: dict[str, dict[str, Any]] = {}

    def queue(short: str, **properties: Any) -> None:
        resources[queue_logical(short)] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": PROD_PREFIX + short,
                "KmsMasterKeyId": ref("DataKey"),
                **properties,
            },
        }

    for short in q.ALL_QUEUES:
        if short in declared_dlqs:
            queue(short, MessageRetentionPeriod=DLQ_RETENTION_SECONDS)
            continue
        dlq = q.DEAD_LETTER_QUEUES.get(short) or f"{short}-dlq"
        if dlq not in declared_dlqs:
            queue(dlq, MessageRetentionPeriod=DLQ_RETENTION_SECONDS)
        # AWS: at least the consumer's timeout; six times it leaves room for retries within a batch.
        visibility = min(43200, max(30, 6 * consumers.get(PROD_PREFIX + short, 5)))
        queue(
            short,
            VisibilityTimeout=visibility,
            RedrivePolicy={"deadLetterTargetArn": arn(queue_logical(dlq)), "maxReceiveCount": q.MAX_RECEIVES},
        )
    return resources


# --- buckets ---------------------------------------------------------------------------------------------

#: A per-stack suffix: the stack id's UUID (lowercase, unique; bucket names must be both).
STACK_SUFFIX = {"Fn::Select": [2, {"Fn::Split": ["/", ref("AWS::StackId")]}]}


def bucket_name(kind: str) -> dict[str, Any]:
    return {"Fn::Join": ["-", ["shelf", kind, STACK_SUFFIX]]}


def bucket_arn(kind: str, path: str = "") -> dict[str, Any]:
    """The ARN of bucket ``kind`` built from its name (no Ref: the queue policy must exist before the
    bucket's notification, so it cannot refer to the bucket)."""
    return {"Fn::Join": ["", [sub("arn:${AWS::Partition}:s3:::"), bucket_name(kind), path]]}


def bucket_logical(kind: str) -> str:
    return f"{camel(kind)}Bucket"


def _hardened_bucket(kind: str) -> dict[str, Any]:
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": bucket_name(kind),
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    }


def buckets() -> dict[str, dict[str, Any]]:
    """One hardened bucket per ``config.BUCKET_VARIABLES`` entry; the content bucket also expires staged
    uploads and incomplete multipart uploads and reports staged uploads to the ``upload-events`` queue;
    the log bucket takes CloudFront's standard logs (which need ACLs) and expires them."""
    from chalicelib import queues as q
    from chalicelib import storage
    from chalicelib.config import BUCKET_VARIABLES

    resources = {bucket_logical(kind): _hardened_bucket(kind) for kind in BUCKET_VARIABLES}
    content = resources[bucket_logical("content")]
    content["DependsOn"] = ["UploadEventsQueuePolicy"]
    content["Properties"]["LifecycleConfiguration"] = {
        "Rules": [
            {
                "Id": "staged-uploads",
                "Status": "Enabled",
                "Prefix": storage.UPLOAD_PREFIX,
                "ExpirationInDays": STAGED_UPLOAD_DAYS,
            },
            {
                "Id": "incomplete-multipart-uploads",
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": INCOMPLETE_MULTIPART_DAYS},
            },
        ]
    }
    content["Properties"]["NotificationConfiguration"] = {
        "QueueConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Queue": arn(queue_logical(q.UPLOAD_EVENTS)),
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": storage.UPLOAD_PREFIX}]}},
            }
        ]
    }
    logs = resources[bucket_logical("logs")]
    logs["Properties"]["OwnershipControls"] = {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    logs["Properties"]["LifecycleConfiguration"] = {
        "Rules": [{"Id": "expire-logs", "Status": "Enabled", "ExpirationInDays": LOG_DAYS}]
    }
    deny_plain_http = {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    for kind in BUCKET_VARIABLES:
        logical = bucket_logical(kind)
        statements: list[dict[str, Any]] = [
            {**deny_plain_http, "Resource": [arn(logical), {"Fn::Sub": f"${{{logical}.Arn}}/*"}]}
        ]
        if kind == "content":
            statements.append(
                {
                    "Sid": "CdnReadsPublicCopies",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": f"${{{logical}.Arn}}/{CDN_PREFIX}*"},
                    "Condition": {
                        "StringEquals": {
                            "AWS:SourceArn": sub(
                                "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Cdn}"
                            )
                        }
                    },
                }
            )
        resources[f"{logical}Policy"] = {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": ref(logical),
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            },
        }
    resources["UploadEventsQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(queue_logical(q.UPLOAD_EVENTS))],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ContentBucketNotifies",
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": arn(queue_logical(q.UPLOAD_EVENTS)),
                        "Condition": {
                            "ArnLike": {"aws:SourceArn": bucket_arn("content")},
                            "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")},
                        },
                    }
                ],
            },
        },
    }
    return resources


# --- the KMS key ------------------------------------------------------------------------------------------


def keys() -> dict[str, dict[str, Any]]:
    """The stack's data key: it encrypts the queues (S3 may use it to notify the upload queue)."""
    return {
        "DataKey": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": sub("Shelf ${AWS::StackName}: queue encryption"),
                "EnableKeyRotation": True,
                "PendingWindowInDays": 7,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "S3NotifiesEncryptedQueue",
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        },
                    ],
                },
            },
        },
        "DataKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": sub("alias/${AWS::StackName}-data"), "TargetKeyId": ref("DataKey")},
        },
    }


# --- the API -----------------------------------------------------------------------------------------------

#: API Gateway HTTP API: the integration's timeout (its maximum, as REST's) and the routes, all to the
#: API function, which routes them itself (chalicelib/web/httpapi.py).
HTTP_API_TIMEOUT_MS = 30000
HTTP_API_ROUTES = {"HttpApiProxyRoute": "ANY /{proxy+}", "HttpApiRootRoute": "ANY /"}
#: What ``chalice package`` generates for its REST API and ``http-api`` removes (the HTTP API replaces it).
CHALICE_REST_API = "RestAPI"
CHALICE_REST_API_PERMISSION = "APIHandlerInvokePermission"


def http_api() -> dict[str, dict[str, Any]]:
    """The API: an API Gateway HTTP API ($1.00 per million requests; REST $3.50) with ``ANY /{proxy+}``
    and ``ANY /`` to the API function, payload format 1.0 (REST's event shape), its ``$default`` stage
    deployed on every change, and the permission to invoke the function. No binary media types (HTTP
    APIs have none: bodies that are not text arrive base64-encoded; CloudFront's upload front labels
    request bodies binary), throttling and logging as the REST stage had them: the account's defaults."""
    resources: dict[str, dict[str, Any]] = {
        "HttpApi": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": sub("${AWS::StackName}-api"),
                "ProtocolType": "HTTP",
                "Description": "Shelf: every route to the API function (CloudFront in front: CdnUrl)",
            },
        },
        "HttpApiIntegration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": ref("HttpApi"),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": arn("APIHandler"),
                "PayloadFormatVersion": "1.0",
                "TimeoutInMillis": HTTP_API_TIMEOUT_MS,
            },
        },
        "HttpApiStage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": ref("HttpApi"), "StageName": "$default", "AutoDeploy": True},
        },
        "HttpApiInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": ref("APIHandler"),
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"
                ),
            },
        },
    }
    for logical, key in HTTP_API_ROUTES.items():
        resources[logical] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": ref("HttpApi"),
                "RouteKey": key,
                "Target": {"Fn::Join": ["/", ["integrations", ref("HttpApiIntegration")]]},
            },
        }
    return resources


def _refers_to(value: Any, logical: str) -> bool:
    """Does template fragment ``value`` refer to resource ``logical`` (Ref, GetAtt or Sub)?"""
    if isinstance(value, dict):
        if value.get("Ref") == logical:
            return True
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute[:1] == [logical]:
            return True
        return any(_refers_to(v, logical) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, logical) for v in value)
    if isinstance(value, str):
        return f"${{{logical}}}" in value or f"${{{logical}." in value
    return False


def drop_rest_api(path: Path) -> None:
    """Remove from the packaged template at ``path`` the REST API ``chalice package`` generates (its
    ~440 KB definition, its invoke permission, its outputs): the merge template's HTTP API replaces it.
    Fails if anything else still refers to it."""
    template = json.loads(path.read_text())
    resources, outputs = template["Resources"], template.get("Outputs", {})
    resources.pop(CHALICE_REST_API, None)
    permission = resources.get(CHALICE_REST_API_PERMISSION, {})
    if _refers_to(permission, CHALICE_REST_API):
        del resources[CHALICE_REST_API_PERMISSION]
    for name in [name for name, output in outputs.items() if _refers_to(output, CHALICE_REST_API)]:
        del outputs[name]  # RestAPIId, EndpointURL
    left = [name for name, value in {**resources, **outputs}.items() if _refers_to(value, CHALICE_REST_API)]
    if left:
        raise SystemExit(f"{path}: still referring to {CHALICE_REST_API}: {', '.join(left)}")
    path.write_text(json.dumps(template, indent=2) + "\n")


# --- the CDN -----------------------------------------------------------------------------------------------


def upload_front_code() -> str:
    """The Lambda@Edge source with the app's inline-upload limit."""
    from chalicelib.content.large import MAX_INLINE_UPLOAD

    source = (Path(__file__).parent / "edge" / "upload_front.py").read_text()
    return re.sub(
        r"^MAX_INLINE_UPLOAD = \d+$", f"MAX_INLINE_UPLOAD = {MAX_INLINE_UPLOAD}", source, flags=re.M
    )


#: The origin secret, resolved by CloudFormation (never in the template): CloudFront sends it to the API,
#: and the API handler trusts the viewer address in X-Forwarded-For only with it (chalicelib/web/client.py).
ORIGIN_SECRET_VALUE = sub("{{resolve:secretsmanager:${OriginSecret}:SecretString}}")


def cache_policy(name: str, max_ttl: int) -> dict[str, Any]:
    """A CloudFront cache policy forwarding Authorization and every query string, cached only as long as
    the answer's Cache-Control says (at most ``max_ttl`` seconds)."""
    return {
        "Type": "AWS::CloudFront::CachePolicy",
        "Properties": {
            "CachePolicyConfig": {
                "Name": sub("${AWS::StackName}-" + name),
                "MinTTL": 0,
                "DefaultTTL": 0,
                "MaxTTL": max_ttl,
                "ParametersInCacheKeyAndForwardedToOrigin": {
                    "EnableAcceptEncodingGzip": False,
                    "EnableAcceptEncodingBrotli": False,
                    "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]},
                    "CookiesConfig": {"CookieBehavior": "none"},
                    "QueryStringsConfig": {"QueryStringBehavior": "all"},
                },
            }
        },
    }


#: API paths whose requests carry no upload (a JSON body at most; tests/test_deploy_template.py checks
#: the app's routes against them): CloudFront sends them to the API without the upload front, whose
#: Lambda@Edge costs $0.60 per million requests and its duration. Everything else (``/content``,
#: ``/maven``, ``/npm``, ``/api``, a subject's root paths) gets the front.
NO_UPLOAD_PATHS = (
    "packages/*", "repo*", "orgs/*", "users/*", "search/*", "usage*", "products/*", "subjects/*",
    "webhooks/*", "licenses*", "stream/*", "signed_url/*", "files/*", "file_*", "calc_metadata/*",
    "gpg/*", "maven_central_sync/*", "openapi.json",
)  # fmt: skip


def cdn() -> dict[str, dict[str, Any]]:
    """CloudFront: everything to the API (no caching; the upload front on every request but those of
    ``NO_UPLOAD_PATHS``), ``/dl/*`` from the bucket's copies first and from the API when there is none
    (private, restricted, unknown)."""
    retain = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Condition": "UploadFrontHere"}
    api_behaviour = {
        "TargetOriginId": "api",
        "ViewerProtocolPolicy": "https-only",
        "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        "CachedMethods": ["GET", "HEAD"],
        "CachePolicyId": ref("ApiCachePolicy"),
        "OriginRequestPolicyId": ORIGIN_REQUEST_ALL_VIEWER_EXCEPT_HOST,
        "Compress": False,
    }
    edge = {
        "Fn::If": [
            "UploadFrontHere",
            [
                {
                    "EventType": "origin-request",
                    "IncludeBody": True,
                    "LambdaFunctionARN": ref("UploadFrontVersion"),
                }
            ],
            ref("AWS::NoValue"),
        ]
    }
    return {
        "OriginSecret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Description": sub("Shelf ${AWS::StackName}: CloudFront's origin header to the API"),
                "GenerateSecretString": {"PasswordLength": 40, "ExcludePunctuation": True},
            },
        },
        "CdnOriginAccessControl": {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {
                "OriginAccessControlConfig": {
                    "Name": sub("${AWS::StackName}-content"),
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            },
        },
        # TTLs 0 unless the answer says otherwise (the API sends no Cache-Control): nothing is cached;
        # a cache policy that names Authorization is what makes CloudFront forward it.
        "ApiCachePolicy": cache_policy("api", max_ttl=1),
        # Copies carry Cache-Control (chalicelib/cdn); the API's answers carry none: not cached.
        "DownloadsCachePolicy": cache_policy("downloads", max_ttl=31536000),
        "UploadFrontRole": {
            "Type": "AWS::IAM::Role",
            **retain,
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
                ],
            },
        },
        "UploadFrontFunction": {
            "Type": "AWS::Lambda::Function",
            **retain,
            "Properties": {
                "Description": "Shelf: large uploads reach the API without their body (307 to S3)",
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "MemorySize": 128,
                "Timeout": 5,
                "Role": arn("UploadFrontRole"),
                "Code": {"ZipFile": upload_front_code()},
            },
        },
        "UploadFrontVersion": {
            "Type": "AWS::Lambda::Version",
            **retain,
            "Properties": {"FunctionName": ref("UploadFrontFunction")},
        },
        "Cdn": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {
                "DistributionConfig": {
                    "Comment": sub("Shelf ${AWS::StackName}"),
                    "Enabled": True,
                    "HttpVersion": "http2and3",
                    "IPV6Enabled": True,
                    "PriceClass": "PriceClass_100",
                    "Origins": [
                        {
                            "Id": "content",
                            "DomainName": {"Fn::GetAtt": ["ContentBucket", "RegionalDomainName"]},
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                            "OriginAccessControlId": {"Fn::GetAtt": ["CdnOriginAccessControl", "Id"]},
                        },
                        {
                            "Id": "api",
                            "DomainName": sub("${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
                            "OriginCustomHeaders": [
                                {"HeaderName": "X-Shelf-Origin-Secret", "HeaderValue": ORIGIN_SECRET_VALUE}
                            ],
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                                "OriginReadTimeout": 30,
                            },
                        },
                    ],
                    "OriginGroups": {
                        "Quantity": 1,
                        "Items": [
                            {
                                "Id": "downloads",
                                "FailoverCriteria": {"StatusCodes": {"Quantity": 2, "Items": [403, 404]}},
                                "Members": {
                                    "Quantity": 2,
                                    "Items": [{"OriginId": "content"}, {"OriginId": "api"}],
                                },
                            }
                        ],
                    },
                    "DefaultCacheBehavior": {**api_behaviour, "LambdaFunctionAssociations": edge},
                    "CacheBehaviors": [
                        *({"PathPattern": pattern, **api_behaviour} for pattern in NO_UPLOAD_PATHS),
                        {
                            "PathPattern": f"{CDN_PREFIX}*",
                            "TargetOriginId": "downloads",
                            "ViewerProtocolPolicy": "redirect-to-https",
                            "AllowedMethods": ["GET", "HEAD"],
                            "CachedMethods": ["GET", "HEAD"],
                            "CachePolicyId": ref("DownloadsCachePolicy"),
                            "Compress": False,
                        },
                    ],
                    "CustomErrorResponses": [
                        {"ErrorCode": code, "ErrorCachingMinTTL": 0} for code in (400, 403, 404, 405, 500)
                    ],
                    "Logging": {
                        "Bucket": {"Fn::GetAtt": ["LogsBucket", "DomainName"]},
                        "Prefix": CDN_LOG_PREFIX,
                        "IncludeCookies": False,
                    },
                }
            },
        },
    }


# --- what the functions get: environment and least-privilege policies ------------------------------------


def environment(name: str) -> dict[str, Any]:
    """The variables the stack adds to function ``name`` (the API handler gets no CDN id: the
    distribution refers to the API, which refers to the handler)."""
    from chalicelib.config import BUCKET_VARIABLES

    variables: dict[str, Any] = {
        variable: ref(bucket_logical(kind)) for kind, variable in BUCKET_VARIABLES.items()
    }
    if name == API_HANDLER:
        variables["SHELF_CDN_ORIGIN_SECRET"] = ORIGIN_SECRET_VALUE
    else:
        variables["SHELF_CDN_DISTRIBUTION_ID"] = ref("Cdn")
        variables["SHELF_CDN_LOG_PREFIX"] = CDN_LOG_PREFIX
    return variables


def policy(name: str, spec: dict[str, Any], queue_names: list[str]) -> dict[str, Any]:
    """The IAM policy of function ``name``: this stack's tables, bucket, queues and key, and its own
    consumed queue; the CDN (invalidations, logs) for the background functions."""
    # Every table of the stage shares its prefix: two patterns instead of 2 ARNs per table (an inline
    # policy is at most 10,240 characters, and the table list grows with every domain).
    tables = f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{PROD_PREFIX}*"
    table_arns = [sub(tables), sub(tables + "/index/*")]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Tables",
            "Effect": "Allow",
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DescribeTable",
            ],
            "Resource": table_arns,
        },
        {
            "Sid": "Content",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": {"Fn::Sub": "${ContentBucket.Arn}/*"},
        },
        {
            "Sid": "ContentListing",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": arn("ContentBucket"),
        },
        {
            "Sid": "SendToQueues",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
            "Resource": [arn(queue) for queue in queue_names],
        },
        {
            "Sid": "QueueAndGpgKeyEncryption",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": [arn("DataKey"), arn("GpgKmsKey")],
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": sub(
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${AWS::StackName}-*"
            ),
        },
        {
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
    ]
    if spec["queue"]:
        short = spec["queue"][len(PROD_PREFIX) :]
        statements.append(
            {
                "Sid": "ConsumeOwnQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": arn(queue_logical(short)),
            }
        )
    if name != API_HANDLER:
        statements += [
            {
                "Sid": "CdnInvalidations",
                "Effect": "Allow",
                "Action": "cloudfront:CreateInvalidation",
                "Resource": sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Cdn}"),
            },
            {
                "Sid": "CdnLogs",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:DeleteObject"],
                "Resource": {"Fn::Sub": f"${{LogsBucket.Arn}}/{CDN_LOG_PREFIX}*"},
            },
            {
                "Sid": "UsageAlertEmails",
                "Effect": "Allow",
                "Action": "ses:SendEmail",
                "Resource": sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"),
            },
            {
                "Sid": "CdnLogListing",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": arn("LogsBucket"),
            },
        ]
    return {
        "PolicyName": f"{spec['role']}Policy",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
    }


def function_overrides(specs: dict[str, dict[str, Any]], queue_names: list[str]) -> dict[str, dict[str, Any]]:
    """Partial resources merged into Chalice's: each function's environment, each role's policy."""
    resources: dict[str, dict[str, Any]] = {}
    for name, spec in specs.items():
        resources[spec["logical"]] = {"Properties": {"Environment": {"Variables": environment(name)}}}
        resources[spec["role"]] = {"Properties": {"Policies": [policy(name, spec, queue_names)]}}
    return resources


def outputs() -> dict[str, Any]:
    return {
        "ApiUrl": {
            "Description": "The API (API Gateway HTTP API, its $default stage)",
            "Value": {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]},
        },
        "CdnUrl": {
            "Description": "The API and public downloads through CloudFront",
            "Value": sub("https://${Cdn.DomainName}"),
        },
        "CdnDistributionId": {"Value": ref("Cdn")},
        "BootstrapFunctionName": {
            "Description": "Invoke once to create the system administrator",
            "Value": ref("BootstrapAdmin"),
        },
        "ContentBucketName": {"Value": ref("ContentBucket")},
        "LogsBucketName": {"Value": ref("LogsBucket")},
    }


def template() -> dict[str, Any]:
    """The whole merge template (names under the prod prefix)."""
    os.environ["SHELF_TABLE_PREFIX"] = PROD_PREFIX
    from chalicelib.config import settings

    settings.cache_clear()
    specs = functions()
    consumers = {spec["queue"]: spec["timeout"] for spec in specs.values() if spec["queue"]}
    table_resources = tables()
    queue_resources = queues(consumers)
    resources: dict[str, dict[str, Any]] = {
        **table_resources,
        **keys(),
        **kms_resources(),
        **queue_resources,
        **buckets(),
        **http_api(),
        **cdn(),
        **function_overrides(specs, sorted(queue_resources)),
    }
    return {
        "Conditions": {"UploadFrontHere": {"Fn::Equals": [ref("AWS::Region"), "us-east-1"]}},
        "Resources": resources,
        "Outputs": outputs(),
    }


def kms_resources() -> dict[str, Any]:
    """The KMS key that seals GPG secret keys at rest (chalicelib/gpg/keystore.py), and its alias."""
    return {
        "GpgKmsKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": "Shelf: GPG secret keys at rest",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                },
            },
        },
        "GpgKmsKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": f"alias/{PROD_PREFIX}gpg", "TargetKeyId": {"Ref": "GpgKmsKey"}},
        },
    }


def compact(path: Path) -> None:
    """Rewrite the template at ``path`` without whitespace: CloudFormation takes at most 1,000,000 bytes
    of template, and Chalice's indented ``sam.json`` is over 1 MB (its API definition alone ~420 KB)."""
    path.write_text(json.dumps(json.loads(path.read_text()), separators=(",", ":")))


#: Where Lambda unpacks the deployment package (read-only): the file names compiled into the ``.pyc``
#: files, so tracebacks point at the deployed sources.
LAMBDA_TASK_ROOT = "/var/task"


def package_runtimes(template: dict[str, Any]) -> set[str]:
    """The runtimes of the functions whose code is the deployment package (``CodeUri``)."""
    return {
        resource["Properties"]["Runtime"]
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in resource["Properties"]
    }


def compile_package(out: Path) -> int:
    """Add compiled ``__pycache__/*.pyc`` files for every module of ``out/deployment.zip``.

    Lambda's ``/var/task`` is read-only, so without them each cold start compiles every module it
    imports (botocore, pydantic, chalicelib...). They are compiled for the runtime of ``out/sam.json``,
    which must be this interpreter's (the magic number differs between Python versions), as
    unchecked-hash ``.pyc`` files (PEP 552): a zip keeps modification times to 2 seconds only, so
    timestamp-based ones could be taken as stale, and the package never changes once deployed. ``.pyc``
    files Chalice copied from the working tree are dropped. Returns the number of modules compiled."""
    import importlib.util
    import marshal
    import sys
    import zipfile

    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = package_runtimes(json.loads((out / "sam.json").read_text()))
    if runtimes != {runtime}:
        raise SystemExit(f"the functions run {sorted(runtimes)}; compile the package with {runtime}")
    package = out / "deployment.zip"
    compiled = package.with_suffix(".tmp")
    count = 0
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(compiled, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename.endswith(".pyc"):
                continue
            data = source.read(info)
            target.writestr(info, data)
            if not info.filename.endswith(".py"):
                continue
            try:
                code = compile(data, f"{LAMBDA_TASK_ROOT}/{info.filename}", "exec", dont_inherit=True)
            except (SyntaxError, ValueError):  # not a module of this Python (templates, other versions)
                continue
            # PEP 552 header: magic, flags (0b01: hash-based, unchecked), the source's hash.
            pyc = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + importlib.util.source_hash(data)
            cached = importlib.util.cache_from_source(info.filename)
            pyc_info = zipfile.ZipInfo(cached, date_time=info.date_time)
            pyc_info.external_attr = info.external_attr
            pyc_info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(pyc_info, pyc + marshal.dumps(code))
            count += 1
    compiled.replace(package)
    return count


def main() -> None:
    """Write the merge template to ``infra/resources.json`` (or the path given);
    ``http-api FILE`` removes Chalice's REST API from a packaged template; ``compact FILE`` rewrites a
    packaged template without whitespace; ``compile DIR`` adds ``.pyc``
    files to ``DIR/deployment.zip`` (for the runtime of ``DIR/sam.json``)."""
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "http-api":
        drop_rest_api(Path(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "compact":
        compact(Path(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "compile":
        print(f"compiled {compile_package(Path(sys.argv[2]))} modules into {sys.argv[2]}/deployment.zip")
        return
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else RESOURCES
    target.write_text(json.dumps(template(), indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
