"""One safe JSON loader for request bodies (GraphQL, FHIR).

`json.loads` alone fails badly on hostile bodies: 200,000 nested brackets raise RecursionError
(a 500, or code later that recurses over the result), and a 100,000-digit number raises
ValueError ("Exceeds the limit for integer string conversion"). Here:

- nesting is measured BEFORE parsing, by a linear scan of the brackets outside strings, with
  C-speed operations only (one regular expression cuts the strings out, `bytes.translate`
  keeps the brackets, `itertools.accumulate` gives the running depth);
- numbers longer than MAX_NUMBER_CHARS digits are refused before parsing (same scan), and
  NaN and Infinity, which are not JSON, while parsing.

Every refusal raises `UnsafeJSON`, a `json.JSONDecodeError`, so callers that already answer
400 for malformed JSON answer 400 for these too. Body size is bounded before (BodySizeLimit).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, count
from operator import sub
from typing import Any

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100

# A JSON string: quote, then runs of ordinary characters or escapes, then quote.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_CHARS + 1))
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(_BRACKETS)))
# Openers become 2, closers 0: the running sum minus the position is the depth.
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


class UnsafeJSON(json.JSONDecodeError):
    """A body refused before or while parsing; `msg` says why."""

    def __init__(self, message: str, doc: str = "", pos: int = 0) -> None:
        super().__init__(message, doc, pos)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # pragma: no cover - pickling support
        return (type(self), (self.message,))


def _outside_strings(data: bytes) -> bytes:
    return _STRING.sub(b'""', data)


def _max_nesting(bare: bytes) -> int:
    """The deepest nesting of arrays/objects in `bare` (a body whose strings are cut out)."""
    steps = bare.translate(None, _NOT_BRACKETS).translate(_DEPTH_STEP)
    return max(map(sub, accumulate(steps), count(1)), default=0)


def max_nesting(data: bytes) -> int:
    """The deepest nesting of arrays/objects in `data`, brackets in strings not counted."""
    return _max_nesting(_outside_strings(data))


def _constant(text: str) -> Any:
    raise UnsafeJSON(f"{text} is not a JSON value.")


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a request body; raise UnsafeJSON (a JSONDecodeError) for anything hostile."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    bare = _outside_strings(raw)
    if _LONG_NUMBER.search(bare):
        raise UnsafeJSON(f"A number in the body is longer than {MAX_NUMBER_CHARS} digits.")
    if _max_nesting(bare) > max_depth:
        raise UnsafeJSON(f"The body nests arrays or objects deeper than {max_depth} levels.")
    try:
        return json.loads(raw, parse_constant=_constant)
    except UnicodeDecodeError:
        raise UnsafeJSON("The body is not UTF-8 JSON.") from None
    except RecursionError:  # pragma: no cover - the scan above refuses these first
        raise UnsafeJSON("The body nests too deeply.") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # e.g. an integer over Python's digit limit, if the scan missed it
        raise UnsafeJSON("A number in the body is too long.") from None
