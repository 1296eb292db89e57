"""The elements of a JSON array read one at a time, in bounded memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TextIO

from finops.errors import InputError

__all__ = ["MAX_ELEMENT_CHARS", "iter_json_array"]

# An element (a usage row is about 100 characters) may not exceed this: a file that
# is not valid JSON is refused here instead of being read whole to find out.
MAX_ELEMENT_CHARS: Final = 1 << 20
_CHUNK: Final = 1 << 16
_WHITESPACE: Final = " \t\n\r"
_DECODER: Final = json.JSONDecoder()


@dataclass
class _Buffer:
    """Text read so far but not consumed, and the line number of its position."""

    data: TextIO
    file: str
    text: str = ""
    pos: int = 0
    line: int = 1  # the line of `pos`
    eof: bool = False

    def fill(self) -> bool:
        """Read more text (dropping what was consumed); False at the end."""
        if self.eof:
            return False
        chunk = self.data.read(_CHUNK)
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.line += self.text[self.pos] == "\n"
                self.pos += 1
            if self.pos < len(self.text) or not self.fill():
                return self.text[self.pos : self.pos + 1]

    def expect(self, char: str, what: str) -> None:
        """Consume `char` (after whitespace) or refuse the file."""
        if self.peek() != char:
            self.refuse(f"expected {what}")
        self.pos += 1

    def decode(self, element: int) -> Any:
        """The next JSON value; more text is read while it may be incomplete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
                if end < len(self.text) or self.eof:
                    self.line += self.text.count("\n", self.pos, end)
                    self.pos = end
                    return value
            except json.JSONDecodeError as exc:
                if self.eof:
                    self.refuse(f"element {element} is not valid JSON: {exc.msg}")
            if len(self.text) - self.pos > MAX_ELEMENT_CHARS:
                self.refuse(
                    f"element {element} is not valid JSON or longer than "
                    f"{MAX_ELEMENT_CHARS:,} characters"
                )
            self.fill()

    def refuse(self, reason: str) -> NoReturn:
        """Refuse the file, naming the line."""
        raise InputError(
            f"not a valid JSON array: {reason}", file=self.file, line=self.line
        )


def iter_json_array(data: TextIO, *, file: str) -> Iterator[tuple[int, int, Any]]:
    """(element number from 1, line it starts on, value) of each element of the
    JSON array `data` holds, read in chunks: memory holds one element at a time.

    A file that is not one JSON array is refused (`InputError` naming the line)
    when the reader gets there; the elements before it were already yielded.
    """
    buffer = _Buffer(data, file)
    buffer.expect("[", "'[' (a JSON array)")
    element = 0
    while buffer.peek() != "]":
        if element:
            buffer.expect(",", "',' or ']' after an element")
            buffer.peek()
        element += 1
        line = buffer.line
        yield element, line, buffer.decode(element)
    buffer.pos += 1
    if buffer.peek():
        buffer.refuse("text after the array")
