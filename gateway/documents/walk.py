"""Walk a document model and yield its parts of one class with their JSON pointers.

Rules address errors by JSON pointer into the request body; walking the validated model
(not the raw JSON) keeps the pointers and the values in step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def iter_parts(model: BaseModel, cls: type[T], pointer: str = "") -> Iterator[tuple[str, T]]:
    if isinstance(model, cls):
        yield pointer, model
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = f"{pointer}/{escape(name)}"
        if isinstance(value, BaseModel):
            yield from iter_parts(value, cls, here)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from iter_parts(item, cls, f"{here}/{i}")
