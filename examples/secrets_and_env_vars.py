"""Seeds 000/004: environment variables for configuration, secrets for credentials."""

import roost as flyte

api_key = flyte.Secret(key="my-api-key", group="external-services", as_env_var="EXTERNAL_API_KEY")
env = flyte.TaskEnvironment(
    name="secure-env",
    env_vars={"API_VERSION": "v2"},
    secrets=[api_key, "db-password", flyte.Secret("cert", mount="/etc/flyte/secrets")],
)

if __name__ == "__main__":
    for s in [api_key, flyte.Secret("db-password"), flyte.Secret("my-key", group="ext-svc")]:
        print(f"{s.key!r} group={s.group!r} -> ${s.as_env_var}")
    print("mounted file:", flyte.Secret("cert", mount="/etc/flyte/secrets").mount_path)
    try:
        flyte.Secret("my.key")
    except ValueError as e:
        print("rejected:", e)
