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
    tables = [r for r in committed["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables and all(t["Properties"]["BillingMode"] == "PAY_PER_REQUEST" for t in tables)
    kms = [r for r in committed["Resources"].values() if r["Type"] == "AWS::KMS::Alias"]
    assert [k["Properties"]["AliasName"] for k in kms] == ["alias/shelf-prod-gpg"]  # gpg/keystore.py


def test_chalice_config_has_local_and_prod_stages():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert {"local", "prod"} <= set(config["stages"])
    prod = config["stages"]["prod"]
    assert prod["environment_variables"]["SHELF_TABLE_PREFIX"] == "shelf-prod-"
    policy = json.loads((ROOT / ".chalice" / prod["iam_policy_file"]).read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert "dynamodb:Scan" not in actions  # no request path scans; the policy does not allow it
