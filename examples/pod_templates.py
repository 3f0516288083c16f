"""A pod template; the task's container is merged into its primary container."""

import roost as flyte
from roost.core.compile import compile_task

template = flyte.PodTemplate(
    pod_spec={
        "containers": [{"name": "primary"}, {"name": "sidecar-logger", "image": "busybox"}],
        "nodeSelector": {"kubernetes.io/hostname": "my-specific-node"},
    },
    labels={"environment": "production"},
)
env = flyte.TaskEnvironment(
    name="pod-env", image="python:3.12-slim", resources=flyte.Resources(cpu="250m"), pod_template=template
)


@env.task
def job() -> str:
    return "ok"


if __name__ == "__main__":
    pod = compile_task(job).target
    print("labels:", pod.metadata.labels)
    print("primary container:", pod.primary_container)
