"""The deployable pieces stay consistent with the code: CloudFormation tables, Chalice stages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cloudformation_tables_match_the_models():
    """infra/resources.json is what `python -m infra.cloudformation` generates from the models now."""
    code = "import json; from infra.cloudformation import template; print(json.dumps(template()))"
    generated = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    committed = json.loads((ROOT / "infra" / "resources.json").read_text())
    assert json.loads(generated) == committed, "run `python -m infra.cloudformation` and commit the result"
    tables = [r for r in committed["Resources"].values() if r.get("Type") == "AWS::DynamoDB::Table"]
    assert tables and all(t["Properties"]["BillingMode"] == "PAY_PER_REQUEST" for t in tables)
    kms = [r for r in committed["Resources"].values() if r.get("Type") == "AWS::KMS::Alias"]
    assert "alias/shelf-prod-gpg" in [k["Properties"]["AliasName"] for k in kms]  # gpg/keystore.py


def test_chalice_config_has_local_and_prod_stages():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert {"local", "prod"} <= set(config["stages"])
    prod = config["stages"]["prod"]
    assert prod["environment_variables"]["SHELF_TABLE_PREFIX"] == "shelf-prod-"
    policy = json.loads((ROOT / ".chalice" / prod["iam_policy_file"]).read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert "dynamodb:Scan" not in actions  # no request path scans; the policy does not allow it


def test_in_process_aws_calls_share_the_http_servers_state():
    """The app's AWS calls go to moto in-process (tests/conftest.py); clients over HTTP (presigned URLs,
    curl) reach the moto server: both see the same objects, whichever way they were written."""
    import requests

    from chalicelib.config import settings
    from chalicelib.storage import s3
    from tests.conftest import AWS_ENDPOINT, IN_PROCESS

    bucket = settings().bucket
    calls = IN_PROCESS.calls
    s3().put_object(Bucket=bucket, Key="in-process/one", Body=b"written in-process")
    assert IN_PROCESS.calls == calls + 1
    url = s3().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "in-process/one"})
    assert url.startswith(f"{AWS_ENDPOINT}/")  # presigning is local: no call
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b"written in-process"

    url = s3().generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "in-process/two"})
    response = requests.put(url, data=b"written over HTTP", timeout=10)
    assert response.status_code == 200
    assert s3().get_object(Bucket=bucket, Key="in-process/two")["Body"].read() == b"written over HTTP"
    assert IN_PROCESS.calls == calls + 2
