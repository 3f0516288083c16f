"""A pydantic discriminated union keyed on str-enum members, through a worker process and back."""

import enum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field

import roost as flyte


class Op(str, enum.Enum):
    ADD = "add"
    SCALE = "scale"


class Add(BaseModel):
    op: Literal[Op.ADD] = Op.ADD
    amount: float


class Scale(BaseModel):
    op: Literal[Op.SCALE] = Op.SCALE
    factor: float


Step = Annotated[Union[Add, Scale], Field(discriminator="op")]


class Pipeline(BaseModel):
    steps: list[Step]


env = flyte.TaskEnvironment(name="discriminated", env_vars={"PROGRAM": "discriminated"})


@env.task
def apply(pipeline: Pipeline, value: float) -> tuple[float, Pipeline]:
    for step in pipeline.steps:
        assert isinstance(step.op, Op), type(step.op)
        value = value + step.amount if step.op is Op.ADD else value * step.factor
    return value, pipeline


if __name__ == "__main__":
    flyte.init_from_config()
    pipeline = Pipeline(steps=[Add(amount=1), Scale(factor=3)])
    value, back = flyte.run(apply, pipeline, 1.0).outputs()
    assert value == 6.0 and back == pipeline and back.steps[1].op is Op.SCALE, (value, back)
    print("discriminated union ok:", value, [s.op.value for s in back.steps])
