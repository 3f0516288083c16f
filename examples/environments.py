"""Base environments, dependencies, deployment order and clones."""

import roost as flyte
from roost.spec.dependencies import deployment_order

db_env = flyte.Environment(name="database-env", image="postgres:14")
app_env = flyte.Environment(name="application-env", image="my-app:latest", description="The web app.")
app_env.add_dependency(db_env)

base = flyte.TaskEnvironment(
    name="base", image="my-custom-image:v1", resources=flyte.Resources(cpu="2", memory="4Gi"), cache="auto"
)
high_mem = base.clone_with(name="high-mem", resources=flyte.Resources(memory="16Gi"))

if __name__ == "__main__":
    print("deploy order:", [e.name for e in deployment_order(app_env)])
    print("clone keeps the image:", high_mem.image, "and changes resources:", high_mem.resources)
    try:
        flyte.Environment(name="My Env")
    except ValueError as e:
        print("rejected:", e)
