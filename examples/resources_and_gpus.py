"""Resources as requests and limits, accelerators, and the compiled container."""

import roost as flyte
from roost.core.compile import compile_task

env = flyte.TaskEnvironment(
    name="gpu-env",
    resources=flyte.Resources(cpu=("2", "4"), memory=("8Gi", "16Gi"), gpu="A100:1", disk="50Gi", shm="auto"),
)


@env.task
def train(epochs: int) -> float:
    return 0.01 * epochs


@env.task(resources=flyte.Resources(gpu=flyte.Device(device="A100", quantity=1, partition="1g.5gb")))
def small(epochs: int) -> float:
    return 0.02 * epochs


if __name__ == "__main__":
    r = env.resources.canonical()
    print(f"cpu {r.cpu_request}m..{r.cpu_limit}m, memory {r.memory_request}..{r.memory_limit} bytes, gpu {r.gpu}")
    print("kubernetes requests/limits:", env.resources.to_k8s())
    print("partitioned:", compile_task(small).resources.gpu)
    print("factory:", flyte.GPU("H100", 2), flyte.TPU("V5P", "2x2x1"))
    try:
        flyte.Resources(cpu=("4", "2"))
    except ValueError as e:
        print("rejected:", e)
