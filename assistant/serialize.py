"""JSON round trips for the frozen record types (dates as ISO strings, tuples as lists)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import date
from functools import cache
from typing import Any, TypeVar

from assistant import records

T = TypeVar("T")


_SCALARS = (str, int, float, bool, type(None))


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names, worked out once per class (None for any other class)."""
    return tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None


def to_jsonable(obj: Any) -> Any:
    # Scalars first: they are most of what a record holds (an index build encodes ~34,000).
    if isinstance(obj, _SCALARS):
        return obj
    names = _field_names(type(obj))
    if names is not None:
        return {name: to_jsonable(getattr(obj, name)) for name in names}
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, (tuple, list)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), ensure_ascii=False, separators=(",", ":"))


@cache
def _converters(cls: type) -> dict[str, Any]:
    """Field name -> a function turning its JSON value back into the field's type.

    Worked out once per class from its type hints, so decoding tens of thousands of records
    does no typing introspection per value.
    """
    hints = typing.get_type_hints(cls, vars(records))
    return {f.name: _converter(hints[f.name]) for f in dataclasses.fields(cls)}


def _identity(value: Any) -> Any:
    return value


def _converter(tp: Any):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            return _identity
        convert = _converter(inner[0])
        return lambda value: None if value is None else convert(value)
    if tp is date:
        return date.fromisoformat
    if origin is tuple:
        item = _converter(typing.get_args(tp)[0])
        if item is _identity:
            return tuple
        return lambda value: tuple(item(v) for v in value)
    if dataclasses.is_dataclass(tp):
        return lambda value: from_jsonable(tp, value)
    return _identity


def from_jsonable(cls: type[T], data: dict[str, Any]) -> T:
    converters = _converters(cls)
    return cls(**{k: converters[k](v) for k, v in data.items() if k in converters})


def loads(cls: type[T], text: str) -> T:
    return from_jsonable(cls, json.loads(text))
