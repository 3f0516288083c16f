"""Environment variables for configuration, secrets for credentials.

Secrets come from roost's secret store (`roost secret create KEY`), or -- as here -- from a variable
of the secret's name in the launching environment. Each task's process gets exactly its own.
"""

import os

import roost as flyte

api_key = flyte.Secret(key="my-api-key", group="external-services", as_env_var="EXTERNAL_API_KEY")
secure = flyte.TaskEnvironment(name="secure-env", env_vars={"API_VERSION": "v2"}, secrets=[api_key])
other = flyte.TaskEnvironment(name="other-env", env_vars={"API_VERSION": "v1"})


@secure.task
def call_api(path: str) -> str:
    key = os.environ["EXTERNAL_API_KEY"]  # injected for this task's process only
    return f"GET /{os.environ['API_VERSION']}/{path} with a key of {len(key)} characters"


@other.task
def sees() -> str:
    return f"API_VERSION={os.environ['API_VERSION']}, key present: {'EXTERNAL_API_KEY' in os.environ}"


if __name__ == "__main__":
    os.environ.setdefault("EXTERNAL_API_KEY", "demo-key-123")  # stands in for `roost secret create`
    print(flyte.run(call_api, "users").outputs()[0])
    print(flyte.run(sees).outputs()[0])
    for s in [api_key, flyte.Secret("db-password"), flyte.Secret("my-key", group="ext-svc")]:
        print(f"{s.key!r} group={s.group!r} -> ${s.as_env_var}")
    try:
        flyte.Secret("my.key")
    except ValueError as e:
        print("rejected:", e)
