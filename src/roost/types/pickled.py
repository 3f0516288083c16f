"""``flyte.types.FlytePickle``: an annotation that asks for a value to travel pickled, on purpose.

``x: FlytePickle`` (or ``FlytePickle[Model]``, naming what it holds for readers) takes any value and
hands the same value back, through cloudpickle -- what roost does anyway for types it has no
transformer for, but chosen, so without the warning. As in the SDK, None is not a value of it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from roost.types._references import store
from roost.types._sync import in_thread

T = TypeVar("T")


class FlytePickle(Generic[T]):
    """Marks a task input or output as pickled (cloudpickle); never instantiated."""

    @classmethod
    def python_type(cls) -> Any:
        # The SDK's answer for the bare class; ``FlytePickle[Model]`` names Model as its argument.
        return type(None)

    @classmethod
    async def to_pickle(cls, python_val: Any) -> str:
        """Pickle ``python_val`` into the blob store; returns its URI (content-addressed)."""
        import cloudpickle

        data = cloudpickle.dumps(python_val)
        return await in_thread(lambda: store().put_bytes(data)[0])

    @classmethod
    async def from_pickle(cls, uri: str) -> Any:
        """The value pickled at ``uri`` (by ``to_pickle``)."""
        import cloudpickle

        return cloudpickle.loads(await in_thread(store().read_bytes, uri))
