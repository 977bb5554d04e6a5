"""Reading the KG-CLIP release's triplet pickles without running code.

A pickle can call anything on load. `load_int_triples` uses a restricted unpickler that resolves
no global at all (so no class, function or module can be reached) and then checks that what came
out is a list or tuple of 3-tuples of ints: anything else is refused with a message naming the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

from kgtoolkit.errors import UnsafePickleError

__all__ = ["MAX_PICKLE_BYTES", "UnsafePickleError", "load_int_triples"]

MAX_PICKLE_BYTES = 256 * 1024 * 1024


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(f"it asks for {module}.{name}, and only lists, tuples and ints are allowed")

    def persistent_load(self, pid):  # pragma: no cover - exercised by crafted files only
        raise pickle.UnpicklingError("it uses persistent ids, and only lists, tuples and ints are allowed")


def load_int_triples(path: str | Path) -> list[tuple[int, int, int]]:
    """The (head, relation, tail) int triples of a KG-CLIP release pickle, refusing anything else."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) > MAX_PICKLE_BYTES:
        raise UnsafePickleError(f"{path}: {len(data)} bytes is more than a triplet file should hold")
    try:
        value = _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError) as error:
        raise UnsafePickleError(f"{path}: refused: {error}") from None
    if not isinstance(value, (list, tuple)):
        raise UnsafePickleError(f"{path}: refused: holds a {type(value).__name__}, not a list of triples")
    triples: list[tuple[int, int, int]] = []
    for position, item in enumerate(value):
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 3
            or not all(type(x) is int for x in item)  # bool is an int subclass; refuse it too
        ):
            raise UnsafePickleError(f"{path}: refused: item {position} is {item!r:.80}, not a triple of ints")
        triples.append((item[0], item[1], item[2]))
    return triples
