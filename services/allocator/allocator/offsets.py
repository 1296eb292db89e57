"""Where a date's inputs came from: Kafka offsets, typed, parsed once at the edge.

The applied table and `allocator_days` hold them as text (`{"inputs": "p/o",
"origin": "topic/p/o"}`); everything in between holds a DayOffsets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DayOffsets", "InputOffset", "OriginOffset"]


@dataclass(frozen=True, slots=True)
class InputOffset:
    """A routed piece's place on the inputs topic (`partition/offset`)."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}/{self.offset}"

    @classmethod
    def parse(cls, text: str) -> InputOffset:
        """`partition/offset` back; ValueError if it is not one."""
        partition, offset = text.split("/")
        return cls(int(partition), int(offset))


@dataclass(frozen=True, slots=True)
class OriginOffset:
    """The source event a piece was routed from (`topic/partition/offset`)."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @classmethod
    def parse(cls, text: str) -> OriginOffset:
        """`topic/partition/offset` back (topic names hold no "/"); ValueError if
        it is not one."""
        topic, partition, offset = text.rsplit("/", 2)
        return cls(topic, int(partition), int(offset))


@dataclass(frozen=True, slots=True)
class DayOffsets:
    """The last input applied to a date, and the source event it came from."""

    inputs: InputOffset
    origin: OriginOffset

    def to_json(self) -> dict[str, str]:
        """As the applied table and `allocator_days.input_offsets` hold it."""
        return {"inputs": str(self.inputs), "origin": str(self.origin)}

    @classmethod
    def from_json(cls, value: Mapping[str, str]) -> DayOffsets:
        """to_json's value back."""
        return cls(
            InputOffset.parse(value["inputs"]), OriginOffset.parse(value["origin"])
        )

    def to_marks(self) -> dict[str, int]:
        """The offsets of an AllocationComputed event: offset per topic partition
        (`inputs:<partition>`, `origin:<topic>/<partition>`)."""
        inputs, origin = self.inputs, self.origin
        return {
            f"inputs:{inputs.partition}": inputs.offset,
            f"origin:{origin.topic}/{origin.partition}": origin.offset,
        }
