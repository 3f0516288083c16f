"""Secrets and environment variables declared on an environment: the export task sees both secrets
(one kept in the secret store, one passed by CI as a variable of the secret's name) and the
environment's variables; a task of another environment sees none of them."""

import hashlib
import hmac
import json
import os
import sys

import roost as flyte

warehouse_token = flyte.Secret(key="token", group="warehouse")  # found as WAREHOUSE_TOKEN
signing_key = flyte.Secret(key="signing-key", as_env_var="SIGNING_KEY")
exporter = flyte.TaskEnvironment(
    name="exporter",
    env_vars={"EXPORT_BUCKET": "s3://acme-reports", "EXPORT_FORMAT": "csv"},
    secrets=[warehouse_token, signing_key],
)
auditor = flyte.TaskEnvironment(name="auditor", env_vars={"AUDIT_LEVEL": "full"})
driver = flyte.TaskEnvironment(name="nightly", depends_on=[exporter, auditor])


@exporter.task
def export(day: str) -> dict:
    token = os.environ["WAREHOUSE_TOKEN"]
    key = os.environ["SIGNING_KEY"]
    target = f"{os.environ['EXPORT_BUCKET']}/{day}.{os.environ['EXPORT_FORMAT']}"
    print(f"exporting {day} to {target} with a token of {len(token)} characters")
    return {
        "target": target,
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "signature": hmac.new(key.encode(), target.encode(), "sha256").hexdigest(),
    }


@auditor.task
def audit(target: str) -> dict:
    seen = sorted(n for n in ("WAREHOUSE_TOKEN", "SIGNING_KEY", "EXPORT_BUCKET") if n in os.environ)
    print(f"auditing {target} at level {os.environ['AUDIT_LEVEL']}")
    return {"level": os.environ["AUDIT_LEVEL"], "seen": seen}


@driver.task
async def nightly(day: str) -> dict:
    exported = await export.aio(day)
    return {"export": exported, "audit": await audit.aio(exported["target"])}


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(nightly, "2026-03-04")
    out = run.outputs()[0]
    expected_token = os.environ.get("WAREHOUSE_TOKEN", "")  # what CI passed in
    assert out["export"]["target"] == "s3://acme-reports/2026-03-04.csv", out
    assert out["export"]["token_sha256"] == hashlib.sha256(expected_token.encode()).hexdigest()
    assert out["audit"] == {"level": "full", "seen": []}, out
    print(json.dumps({"run": run.name, "target": out["export"]["target"], "signature": out["export"]["signature"]}))
    sys.exit(0)
