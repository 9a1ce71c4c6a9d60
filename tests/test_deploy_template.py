"""The deployable template (infra/cloudformation.py -> infra/resources.json, merged into `chalice package`
by `make package`): its non-Lambda resources created in moto's CloudFormation and their settings checked,
the CDN and IAM wiring checked on the template, and the upload front (Lambda@Edge) run on CloudFront's
event shape against the app.

What only AWS can prove: CloudFront itself (moto has no CloudFormation support for it: OAC, the origin
group's failover, the edge function's body replacement on a real 5 GiB PUT), the S3 settings moto's
CloudFormation ignores (they are applied here through the S3 API, which validates them), the HTTP API's
events and body encoding (tests/test_http_api.py plays them). `make test` runs cfn-lint on the whole
packaged template.
"""

from __future__ import annotations

import copy
import json
import textwrap
import uuid
from pathlib import Path
from urllib.parse import unquote

import boto3
import pytest

from chalicelib import queues
from chalicelib.content.large import MAX_INLINE_UPLOAD
from chalicelib.db import all_models
from infra.edge import upload_front
from tests.conftest import AWS_ENDPOINT

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = json.loads((ROOT / "infra" / "resources.json").read_text())
RESOURCES = TEMPLATE["Resources"]
REGION = "us-west-2"  # away from the suite's us-east-1 resources
#: What moto's CloudFormation creates (CloudFront, Lambda and Chalice's partial resources are left out).
MOTO_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::KMS::Key")


def client(service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=AWS_ENDPOINT)


@pytest.fixture(scope="module")
def stack() -> dict[str, str]:
    """The template's tables, buckets, queues and key created in moto's CloudFormation; returns
    {logical id: physical id}."""
    body = {"Resources": {k: v for k, v in copy.deepcopy(RESOURCES).items() if v.get("Type") in MOTO_TYPES}}
    cfn = client("cloudformation")
    name = f"shelf-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    created = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in created}


def _queue_url(short: str) -> str:
    return client("sqs").get_queue_url(QueueName=f"shelf-prod-{short}")["QueueUrl"]


def _queue_attributes(short: str) -> dict[str, str]:
    return client("sqs").get_queue_attributes(QueueUrl=_queue_url(short), AttributeNames=["All"])[
        "Attributes"
    ]


def test_every_model_has_its_on_demand_table(stack):
    names = {m.Meta.table_name.split("-", 2)[-1] for m in all_models()}
    tables = client("dynamodb").list_tables()["TableNames"]
    assert {f"shelf-prod-{n}" for n in names} <= set(tables)
    described = client("dynamodb").describe_table(TableName=tables[0])["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_buckets_have_per_stack_names_and_encryption(stack):
    content, logs = stack["ContentBucket"], stack["LogsBucket"]
    assert content.startswith("shelf-content-") and logs.startswith("shelf-logs-")
    assert content.split("-", 2)[2] == logs.split("-", 2)[2] and len(content) <= 63  # the stack's UUID
    rules = client("s3").get_bucket_encryption(Bucket=content)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_every_consumed_queue_has_a_dead_letter_queue_and_the_key(stack):
    key_id = stack["DataKey"]
    # (describe_key fails in moto for keys made by its CloudFormation: their policy is kept as a dict)
    assert key_id in {k["KeyId"] for k in client("kms").list_keys()["Keys"]}
    for short in queues.ALL_QUEUES:
        if short in queues.DEAD_LETTER_QUEUES.values():
            continue
        attributes = _queue_attributes(short)
        redrive = json.loads(attributes["RedrivePolicy"])
        dlq = queues.DEAD_LETTER_QUEUES.get(short, f"{short}-dlq")
        assert redrive["deadLetterTargetArn"] == _queue_attributes(dlq)["QueueArn"]
        assert int(redrive["maxReceiveCount"]) == queues.MAX_RECEIVES
        assert attributes["KmsMasterKeyId"] == key_id
    # The large-upload finisher runs up to 900 s: its messages stay invisible at least that long.
    assert int(_queue_attributes(queues.UPLOAD_EVENTS)["VisibilityTimeout"]) >= 900


def _s3_settings(properties: dict) -> dict:
    """The bucket's template settings as S3 API arguments (moto's CloudFormation ignores them)."""
    rules = []
    for rule in properties["LifecycleConfiguration"]["Rules"]:
        api_rule = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "ExpirationInDays" in rule:
            api_rule["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "AbortIncompleteMultipartUpload" in rule:
            api_rule["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(api_rule)
    return {"public_access_block": properties["PublicAccessBlockConfiguration"], "lifecycle": rules}


def test_content_bucket_blocks_public_access_expires_staging_and_notifies_the_upload_queue(stack):
    s3, bucket = client("s3"), stack["ContentBucket"]
    properties = RESOURCES["ContentBucket"]["Properties"]
    settings = _s3_settings(properties)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=settings["public_access_block"])
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": settings["lifecycle"]}
    )
    (notification,) = properties["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["UploadEventsQueue", "Arn"]}
    queue_arn = _queue_attributes(queues.UPLOAD_EVENTS)["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": [notification["Event"]],
                    "Filter": {"Key": {"FilterRules": notification["Filter"]["S3Key"]["Rules"]}},
                }
            ]
        },
    )

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicPolicy"), True
    ) or all(block.values())
    lifecycle = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert lifecycle["staged-uploads"]["Filter"]["Prefix"] == "uploads/"
    assert lifecycle["staged-uploads"]["Expiration"]["Days"] >= 1
    assert (
        lifecycle["incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        == 1
    )

    # A staged upload is reported to the queue; a blob or a CDN copy is not.
    sqs, url = client("sqs"), _queue_url(queues.UPLOAD_EVENTS)
    s3.put_object(Bucket=bucket, Key="blobs/sha256/ab/abc", Body=b"x")
    s3.put_object(Bucket=bucket, Key="dl/alice/tools/a.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="uploads/0123", Body=b"x")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    keys = [
        unquote(r["s3"]["object"]["key"]) for m in messages for r in json.loads(m["Body"]).get("Records", [])
    ]
    assert keys == ["uploads/0123"]


def test_the_queue_policy_lets_only_this_stacks_bucket_notify():
    (statement,) = RESOURCES["UploadEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    source = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "shelf" in source and "content" in source and "AWS::StackId" in source
    # The bucket waits for the policy (S3 checks the permission when the notification is set).
    assert "UploadEventsQueuePolicy" in RESOURCES["ContentBucket"]["DependsOn"]


def test_the_api_is_an_http_api_routing_everything_to_the_api_function():
    """One proxy route (and the root) to the API function, payload format 1.0 (REST's event shape, which
    chalicelib/web/httpapi.py routes), the $default stage, and the permission to invoke the function."""
    assert RESOURCES["HttpApi"]["Properties"]["ProtocolType"] == "HTTP"
    integration = RESOURCES["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["APIHandler", "Arn"]}
    assert integration["PayloadFormatVersion"] == "1.0"
    assert integration["TimeoutInMillis"] == 30000
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in RESOURCES.values()
        if r.get("Type") == "AWS::ApiGatewayV2::Route"
    }
    assert set(routes) == {"ANY /{proxy+}", "ANY /"}
    for route in routes.values():
        assert route["Target"] == {"Fn::Join": ["/", ["integrations", {"Ref": "HttpApiIntegration"}]]}
    stage = RESOURCES["HttpApiStage"]["Properties"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)
    permission = RESOURCES["HttpApiInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandler"}
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith(":${HttpApi}/*")
    assert TEMPLATE["Outputs"]["ApiUrl"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    assert "RestAPI" not in json.dumps(TEMPLATE)


def test_public_downloads_come_from_the_bucket_through_origin_access_control():
    config = RESOURCES["Cdn"]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    assert origins["content"]["OriginAccessControlId"] == {"Fn::GetAtt": ["CdnOriginAccessControl", "Id"]}
    assert origins["api"]["DomainName"]["Fn::Sub"].startswith("${HttpApi}.execute-api.")
    assert "OriginPath" not in origins["api"]  # the $default stage has no path of its own
    (downloads,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "dl/*"]
    (group,) = config["OriginGroups"]["Items"]
    assert downloads["TargetOriginId"] == group["Id"]
    # The bucket's copy first; when there is none (private, restricted, unpublished) the API decides.
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["content", "api"]
    assert sorted(group["FailoverCriteria"]["StatusCodes"]["Items"]) == [403, 404]
    assert config["Logging"]["Bucket"] == {"Fn::GetAtt": ["LogsBucket", "DomainName"]}
    statements = RESOURCES["ContentBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (cdn,) = [s for s in statements if s["Effect"] == "Allow"]
    assert cdn["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert cdn["Resource"] == {"Fn::Sub": "${ContentBucket.Arn}/dl/*"}  # only the public copies
    assert "distribution/${Cdn}" in cdn["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)
    # The API behaviour runs the upload front on every request (origin request, with the body).
    (edge,) = config["DefaultCacheBehavior"]["LambdaFunctionAssociations"]["Fn::If"][1]
    assert edge == {
        "EventType": "origin-request",
        "IncludeBody": True,
        "LambdaFunctionARN": {"Ref": "UploadFrontVersion"},
    }
    assert (
        f"MAX_INLINE_UPLOAD = {MAX_INLINE_UPLOAD}"
        in RESOURCES["UploadFrontFunction"]["Properties"]["Code"]["ZipFile"]
    )


def test_the_upload_front_runs_on_every_path_that_takes_an_upload():
    """CloudFront runs the upload front (Lambda@Edge) on the API's paths but those of
    ``NO_UPLOAD_PATHS``, which otherwise behave as the default: no route with a non-JSON body (a file,
    a key, large or binary) and no npm publish lies under them."""
    from fnmatch import fnmatchcase

    import app  # noqa: F401  (registers the routes)
    from chalicelib.web.routing import ROUTES
    from chalicelib.web.schemas import Media
    from infra.cloudformation import NO_UPLOAD_PATHS

    config = RESOURCES["Cdn"]["Properties"]["DistributionConfig"]
    default = {k: v for k, v in config["DefaultCacheBehavior"].items() if k != "LambdaFunctionAssociations"}
    plain = [b for b in config["CacheBehaviors"] if b["PathPattern"] in NO_UPLOAD_PATHS]
    assert [b["PathPattern"] for b in plain] == list(NO_UPLOAD_PATHS)
    assert all({k: v for k, v in b.items() if k != "PathPattern"} == default for b in plain)
    assert len(config["CacheBehaviors"]) <= 25  # CloudFront's default quota per distribution

    def covered(path: str) -> list[str]:
        return [pattern for pattern in NO_UPLOAD_PATHS if fnmatchcase(path.lstrip("/"), pattern)]

    uploads = [r for r in ROUTES if isinstance(r.body, Media) or r.path.startswith(("/npm", "/api/npm"))]
    assert {r.path.split("/")[1] for r in uploads} >= {"content", "maven", "npm"}
    assert [(r.path, covered(r.path)) for r in uploads if covered(r.path)] == []
    # And the patterns do cover the JSON routes they are for.
    assert covered("/packages/acme/repo/pkg/versions/1.0") and covered("/repos/acme/repo")
    assert not covered("/content/acme/repo/pkg/1.0/a.bin") and not covered("/maven/acme/repo/p/a.jar")


def test_every_function_gets_the_stack_bucket_and_a_policy_scoped_to_the_stack():
    roles = {k: v for k, v in RESOURCES.items() if k.endswith("Role") and "Type" not in v}
    assert {"ApiHandlerRole", "UploadEventsRole", "LifecycleEventsRole", "BootstrapAdminRole"} <= set(roles)
    for name, role in roles.items():
        (policy,) = role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "dynamodb:Scan" not in actions
            assert all(not a.endswith(":*") for a in actions), (name, statement)
            if statement["Resource"] == "*":
                assert statement["Sid"] == "Tracing", (name, statement)  # X-Ray takes no resource
            assert "shelf-content" not in json.dumps(statement)  # no global bucket name
        function = RESOURCES[name.removesuffix("Role") if name != "ApiHandlerRole" else "APIHandler"]
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["SHELF_BUCKET"] == {"Ref": "ContentBucket"}
    api = RESOURCES["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "SHELF_CDN_DISTRIBUTION_ID" not in api  # the distribution refers to the API: no cycle
    assert RESOURCES["LifecycleEvents"]["Properties"]["Environment"]["Variables"][
        "SHELF_CDN_DISTRIBUTION_ID"
    ] == {"Ref": "Cdn"}
    consume = [
        s
        for s in RESOURCES["UploadEventsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if s["Sid"] == "ConsumeOwnQueue"
    ]
    assert consume[0]["Resource"] == {"Fn::GetAtt": ["UploadEventsQueue", "Arn"]}
    assert {"ApiUrl", "CdnUrl", "BootstrapFunctionName"} <= set(TEMPLATE["Outputs"])
    assert TEMPLATE["Outputs"]["BootstrapFunctionName"]["Value"] == {"Ref": "BootstrapAdmin"}


# --- the upload front: CloudFront's origin-request event, then the app ------------------------------


def _edge_event(method: str, length: int | None, body: str = "", **headers: str) -> dict:
    request_headers = {k.lower(): [{"key": k, "value": v}] for k, v in headers.items()}
    if length is not None:
        request_headers["content-length"] = [{"key": "Content-Length", "value": str(length)}]
    request = {
        "clientIp": "203.0.113.9",
        "method": method,
        "uri": "/content/alice/tools/hello/1.0/big.iso",
        "querystring": "",
        "headers": request_headers,
        "body": {
            "inputTruncated": length is not None and length > 1024**2,
            "action": "read-only",
            "encoding": "base64",
            "data": body,
        },
    }
    return {"Records": [{"cf": {"config": {"eventType": "origin-request"}, "request": request}}]}


def test_upload_front_withholds_large_bodies_and_passes_their_length():
    big = upload_front.handler(_edge_event("PUT", MAX_INLINE_UPLOAD + 1, "eHh4"), None)
    assert big["body"] == {"action": "replace", "encoding": "text", "data": ""}
    assert big["headers"]["x-shelf-content-length"] == [
        {"key": "X-Shelf-Content-Length", "value": str(MAX_INLINE_UPLOAD + 1)}
    ]
    small = upload_front.handler(
        _edge_event("PUT", 3, "eHh4", **{"X-Shelf-Content-Length": "999999999"}), None
    )
    assert small["body"]["action"] == "read-only" and "x-shelf-content-length" not in small["headers"]
    get = upload_front.handler(_edge_event("GET", None), None)
    assert get["body"]["action"] == "read-only" and "x-shelf-content-length" not in get["headers"]


def test_upload_front_labels_request_bodies_binary_for_the_http_api():
    """An HTTP API hands text bodies over as UTF-8 strings: bodies go on as application/octet-stream
    (base64-encoded to the function), the client's type in X-Shelf-Content-Type, which the app restores."""
    text = upload_front.handler(_edge_event("PUT", 3, "eHh4", **{"Content-Type": "text/plain"}), None)
    assert text["headers"]["content-type"] == [{"key": "Content-Type", "value": "application/octet-stream"}]
    assert text["headers"]["x-shelf-content-type"] == [{"key": "X-Shelf-Content-Type", "value": "text/plain"}]
    assert text["body"]["action"] == "read-only"  # the body itself goes on untouched
    untyped = upload_front.handler(_edge_event("POST", 3, "eHh4"), None)  # base64-encoded anyway
    assert "content-type" not in untyped["headers"] and "x-shelf-content-type" not in untyped["headers"]
    forged = upload_front.handler(_edge_event("GET", None, **{"X-Shelf-Content-Type": "a/b"}), None)
    assert "x-shelf-content-type" not in forged["headers"]
    # PATCH bodies are relabelled, never withheld (only uploads get the 307).
    patch = upload_front.handler(
        _edge_event("PATCH", MAX_INLINE_UPLOAD + 1, "eHh4", **{"Content-Type": "application/json"}), None
    )
    assert patch["body"]["action"] == "read-only" and "x-shelf-content-length" not in patch["headers"]
    assert patch["headers"]["x-shelf-content-type"][0]["value"] == "application/json"


def test_a_withheld_upload_reaches_the_app_as_a_307_to_s3(api, world):
    user = world.user()
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    size = MAX_INLINE_UPLOAD + 1
    forwarded = upload_front.handler(_edge_event("PUT", size, "eHh4"), None)
    headers = {
        v[0]["key"]: v[0]["value"] for v in forwarded["headers"].values() if v[0]["key"] != "Content-Length"
    }
    response = api.put(
        f"/content/{user.name}/{repo}/{package}/1.0/big.iso", user.auth, data=b"", headers=headers
    )
    assert response.status_code == 307, response.text
    assert response.headers["Location"].startswith(f"{AWS_ENDPOINT}/")
    uploads = api.get(f"/packages/{user.name}/{repo}/{package}/versions/1.0/uploads?path=big.iso", user.auth)
    assert [(u["state"], u.get("size")) for u in uploads.json()][-1][0] == "pending"


# --- the client's address behind CloudFront ----------------------------------------------------------


def test_the_origin_secret_reaches_cloudfront_and_the_api_handler_only_as_a_reference():
    (api_origin,) = [
        o for o in RESOURCES["Cdn"]["Properties"]["DistributionConfig"]["Origins"] if o["Id"] == "api"
    ]
    (header,) = api_origin["OriginCustomHeaders"]
    reference = {"Fn::Sub": "{{resolve:secretsmanager:${OriginSecret}:SecretString}}"}
    assert header == {"HeaderName": "X-Shelf-Origin-Secret", "HeaderValue": reference}
    assert (
        RESOURCES["APIHandler"]["Properties"]["Environment"]["Variables"]["SHELF_CDN_ORIGIN_SECRET"]
        == reference
    )
    assert (
        "SHELF_CDN_ORIGIN_SECRET"
        not in RESOURCES["LifecycleEvents"]["Properties"]["Environment"]["Variables"]
    )


@pytest.fixture(scope="module")
def direct_api():
    """A gateway that, like API Gateway, takes ``sourceIp`` from the connection (127.0.0.1) only."""
    import threading

    from werkzeug.serving import make_server

    from chalicelib.web.routing import API_BINARY_MEDIA_TYPES
    from infra.local.gateway import LocalGateway
    from tests.conftest import Api, chalice_app

    server = make_server("127.0.0.1", 0, LocalGateway(chalice_app, binary_media_types=API_BINARY_MEDIA_TYPES))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Api(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


def test_behind_cloudfront_ip_restrictions_see_the_viewer_only_with_the_origin_secret(
    api, world, direct_api, monkeypatch
):
    import dataclasses

    from chalicelib.config import settings
    from chalicelib.web import client

    user = world.user(plan="premium")
    repo = world.repo(user.name)
    package = world.package(user.name, repo)
    url = f"/content/{user.name}/{repo}/{package}/1.0/r.txt?publish=1"
    assert api.put(url, user.auth, data=b"r").status_code == 201
    body = {"white_cidrs": ["203.0.113.0/24"], "black_cidrs": []}
    assert api.put(f"/repos/{user.name}/{repo}/ip_restrictions", user.auth, json=body).status_code == 200
    secret = "s" * 40
    monkeypatch.setattr(client, "settings", lambda: dataclasses.replace(settings(), cdn_origin_secret=secret))

    def download(**headers: str) -> int:
        return direct_api.get(f"/dl/{user.name}/{repo}/r.txt", headers=headers).status_code

    # CloudFront appended the viewer's address; API Gateway's sourceIp is CloudFront's (here 127.0.0.1).
    through_cdn = {"X-Forwarded-For": "10.9.9.9, 203.0.113.5, 127.0.0.1"}
    assert download(**through_cdn, **{"X-Shelf-Origin-Secret": secret}) == 302
    assert download(**through_cdn, **{"X-Shelf-Origin-Secret": "guess"}) == 403
    assert download(**through_cdn) == 403
    assert (
        download(
            **{"X-Forwarded-For": "203.0.113.5, 198.51.100.1, 127.0.0.1", "X-Shelf-Origin-Secret": secret}
        )
        == 403
    )
    monkeypatch.setattr(client, "settings", settings)  # no secret configured: never trusted
    assert download(**through_cdn, **{"X-Shelf-Origin-Secret": secret}) == 403
    # API Gateway not appending: the last hop is the viewer's.
    monkeypatch.setattr(client, "settings", lambda: dataclasses.replace(settings(), cdn_origin_secret=secret))
    context = {"identity": {"sourceIp": "130.176.1.1"}}
    headers = {"x-shelf-origin-secret": secret, "x-forwarded-for": "198.51.100.7"}
    assert client.client_address(context, headers) == "198.51.100.7"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    """`make package` (chalice package + the merge template + compiled modules): its output directory."""
    import os
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("package")
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    subprocess.run(
        ["make", "-s", "package", f"OUT={out}", f"PY={sys.executable}", f"VENV={venv_bin.parent}"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def _package_functions(packaged: Path) -> dict[str, dict]:
    template = json.loads((packaged / "sam.json").read_text())
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource["Properties"]
    }


def test_the_packaged_template_has_the_http_api_and_no_rest_api(packaged):
    """`make package` removes the REST API `chalice package` generates (its definition was ~440 KB of the
    template's 477 KB) and whatever referred to it; the HTTP API of the merge template remains."""
    text = (packaged / "sam.json").read_text()
    template = json.loads(text)
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert "AWS::Serverless::Api" not in types and "AWS::ApiGateway::RestApi" not in types
    assert "RestAPI" not in text and "APIHandlerInvokePermission" not in template["Resources"]
    api = {"HttpApi", "HttpApiIntegration", "HttpApiStage", "HttpApiInvokePermission", "HttpApiProxyRoute"}
    assert api <= set(template["Resources"])
    assert template["Outputs"]["ApiUrl"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    assert len(text.encode()) < 200_000


def test_the_packaged_template_passes_cfn_lint(packaged):
    """`make package` gives a template cfn-lint accepts; run here rather than as a serial `make test`
    step, so it overlaps with the other test files."""
    import subprocess
    import sys

    linted = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(packaged / "sam.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_package_carries_bytecode_for_the_functions_runtime(packaged, tmp_path):
    """Lambda's /var/task is read-only: every module ships compiled for the runtime (its magic number,
    unchecked-hash .pyc of exactly the shipped source), and the app imports from the unpacked package
    without compiling a single file of it."""
    import importlib.util
    import subprocess
    import sys
    import zipfile

    runtimes = {properties["Runtime"] for properties in _package_functions(packaged).values()}
    assert runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
    package = zipfile.ZipFile(packaged / "deployment.zip")
    names = set(package.namelist())
    sources = {n for n in names if n.endswith(".py")}
    modules = {n for n in sources if n.startswith(("chalicelib/", "chalice/", "botocore/", "pydantic/"))}
    assert "app.py" in sources and len([n for n in modules if n.startswith("chalicelib/")]) > 100
    stale = [
        n
        for n in names
        if n.endswith(".pyc")
        and n != importlib.util.cache_from_source(n.replace("__pycache__/", "").rsplit(".", 2)[0] + ".py")
    ]
    assert not stale  # only this runtime's tag (e.g. cpython-311)
    for source in {"app.py", *modules}:
        pyc = package.read(importlib.util.cache_from_source(source))
        assert pyc[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(pyc[4:8], "little") == 0b01, source  # hash-based, not checked
        assert pyc[8:16] == importlib.util.source_hash(package.read(source)), source

    # Lambda's read-only /var/task: -B (root would write into a read-only directory); botocore's service
    # data is read by clients, not on import
    task = tmp_path / "task"
    package.extractall(task, [n for n in names if not n.startswith("botocore/data/")])
    probe = textwrap.dedent("""
        import builtins, sys
        sys.path.insert(0, sys.argv[1])
        compiled, real = [], builtins.compile
        builtins.compile = lambda code, name, *a, **k: compiled.append(str(name)) or real(code, name, *a, **k)
        import app
        print([name for name in compiled if name.startswith(sys.argv[1])], app.__file__)
    """)
    ran = subprocess.run(  # -S: no site-packages, every dependency comes from the package
        [sys.executable, "-S", "-B", "-c", probe, str(task)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert ran.stdout.strip() == f"[] {task}/app.py", ran.stdout + ran.stderr


def test_every_deployed_function_starts_from_app_with_the_bus_and_telemetry(packaged):
    """Each function's Handler is an attribute of app.py, so importing it runs app.py: queued subscribers
    go to the events queue, telemetry is installed and the app's middleware wraps the handler (a
    blueprint module imported on its own would have none of these)."""
    import os
    import subprocess
    import sys

    handlers = {properties["Handler"] for properties in _package_functions(packaged).values()}
    assert len(handlers) >= 10 and {handler.split(".")[0] for handler in handlers} == {"app"}
    probe = textwrap.dedent("""
        import importlib, sys
        handlers = []
        for handler in sys.argv[1:]:
            module, name = handler.split(".")
            handlers.append(vars(importlib.import_module(module))[name])
        from chalicelib import eventbus, events, telemetry
        from chalicelib.web.telemetry import observe
        assert events.sender is eventbus.send, events.sender
        assert telemetry.logs.installed()  # JSON logs, as SHELF_LOG_FORMAT asks
        api = sys.modules["app"].app
        bare = [h for h in handlers if h is not api and observe not in h.middleware_handlers]
        assert not bare, bare
        print("ok")
    """)
    ran = subprocess.run(
        [sys.executable, "-c", probe, *sorted(handlers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SHELF_LOG_FORMAT": "json"},
        timeout=120,
    )
    assert ran.stdout.strip() == "ok", ran.stdout + ran.stderr
