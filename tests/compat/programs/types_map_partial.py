"""flyte.map over partials: one that fills the mapped parameter twice is refused at once."""

import functools

import roost as flyte

env = flyte.TaskEnvironment(name="map_partial_program")


@env.task
def power(base: int, exponent: int) -> int:
    return base**exponent


@env.task
def squares(n: int) -> list[int]:
    return list(flyte.map(functools.partial(power, exponent=2), range(n)))


@env.task
def clashing(n: int) -> list[int]:
    return list(flyte.map(functools.partial(power, base=2), range(n)))


if __name__ == "__main__":
    flyte.init_from_config()
    assert flyte.run(squares, 4).outputs()[0] == [0, 1, 4, 9]
    try:
        flyte.run(clashing, 3)
    except TypeError as e:
        print("refused:", str(e).splitlines()[0])
    else:
        raise SystemExit("a partial binding the mapped parameter by keyword was accepted")
