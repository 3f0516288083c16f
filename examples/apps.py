"""Long-running app environments."""

import roost as flyte
from roost.app import Scaling

app = flyte.AppEnvironment(name="dashboard", port=8080, scaling=Scaling(replicas=(1, 3)), args=["--theme", "dark"])


@app.server
def serve() -> None:
    print("serving")


if __name__ == "__main__":
    print("endpoint:", app.endpoint, "requires_auth:", app.requires_auth)
    print("command:", app.container_command())
    try:
        flyte.AppEnvironment(name="bad", port=9090)
    except ValueError as e:
        print("rejected:", e)
