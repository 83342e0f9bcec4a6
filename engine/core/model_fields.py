"""The field names a pydantic model expects at a path of a document, so that an unknown key
(pydantic's ``extra_forbidden``) can be answered with the known key closest to it."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel

from merit.core.suggest import did_you_mean


def unknown_field_message(model: Any, loc: tuple) -> str:
    """``unknown field 'x'`` for the key at the end of *loc*, with the closest field of the
    model found there (``(did you mean 'y'?)``) when there is one."""
    key = str(loc[-1])
    return f"unknown field '{key}'" + did_you_mean(key, fields_at(model, loc[:-1]))


def fields_at(model: Any, path: tuple) -> list[str]:
    """The field names (and aliases) of the models that *path* may lead to from *model*:
    ``[]`` when the path leaves what the annotations describe."""
    found = [model]
    for part in path:
        found = [t for typ in found for t in _step(typ, part)]
    names: list[str] = []
    for typ in filter(_is_model, found):
        for name, info in typ.model_fields.items():
            names += [n for n in (info.alias, name) if n and n not in names]
    return names


def _members(typ: Any) -> list[Any]:
    """*typ* without ``Annotated``, ``Optional`` and unions: the types a value may have."""
    origin = typing.get_origin(typ)
    if origin is Annotated:
        return _members(typing.get_args(typ)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(typ) for m in _members(arg)]
    return [typ]


def _is_model(typ: Any) -> bool:
    return isinstance(typ, type) and issubclass(typ, BaseModel)


def _step(typ: Any, part: Any) -> list[Any]:
    """The models one step *part* (a key, an index, or a union member's name that pydantic
    puts in its ``loc``) leads to from *typ*."""
    out: list[Any] = []
    for member in _members(typ):
        if _is_model(member):
            if part == member.__name__:  # (a union's member, named in the loc)
                out.append(member)
                continue
            for name, info in member.model_fields.items():
                if part in (name, info.alias):
                    out += _members(info.annotation)
            continue
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is dict and len(args) == 2:
            out += _members(args[1])
        elif origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
            out += _members(args[0])
    return [t for t in out if _is_model(t) or typing.get_origin(t) in (dict, list, tuple, set, frozenset)]
