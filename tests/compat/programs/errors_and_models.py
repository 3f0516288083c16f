"""Stops retrying with NonRecoverableError, catches Flyte's error classes, inspects a task's interface."""

import json

import roost as flyte
from roost.models import NativeInterface, SerializationContext

env = flyte.TaskEnvironment(name="checker")


@env.task(retries=3)
def validate(value: int, limit: int = 10) -> int:
    if value > limit:
        raise flyte.errors.NonRecoverableError(f"{value} is over {limit}")
    return value


@env.task
def check_all(values: list[int]) -> dict[str, str]:
    outcome = {}
    for v in values:
        try:
            outcome[str(v)] = str(validate(v))
        except flyte.errors.RuntimeUserError as e:
            outcome[str(v)] = e.code
    return outcome


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(check_all, [3, 12])
    iface: NativeInterface = validate.native_interface
    sctx = SerializationContext(version="v1", project="demo")
    try:
        raise flyte.errors.AppleSiliconNotAvailableError("no Metal GPU here")
    except flyte.errors.AppleSiliconError as e:
        apple = [e.code, e.recoverable]
    print(
        json.dumps(
            {
                "run": run.name,
                "outcome": run.outputs()[0],
                "required": iface.required_inputs(),
                "schema_required": iface.json_schema["required"],
                "config": validate.custom_config(sctx),
                "apple": apple,
            }
        )
    )
