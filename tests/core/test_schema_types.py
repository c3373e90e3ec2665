"""Answer types (TypedDicts in the apps' output modules) become schema components
(apps.core.schema.type_schema)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict

import pytest
from drf_spectacular.drainage import GENERATOR_STATS, reset_generator_stats
from drf_spectacular.plumbing import ComponentRegistry

from apps.core.schema import Page, WireFloat, component_name, type_schema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class PointOut(TypedDict):
    """A point."""

    x: int
    label: Annotated[str | None, "what it is called"]
    colour: Annotated[str, Colour]
    value: WireFloat
    at: datetime
    extra: dict[str, Any]
    tags: NotRequired[list[str]]


class NodeOut(TypedDict):
    name: str
    children: list[NodeOut]
    parent: NodeOut | None


class PointSearchOut(Page[PointOut]):
    total: int


def build(hint) -> tuple[dict, dict]:
    registry = ComponentRegistry()
    ref = type_schema(hint, registry)
    return ref, registry.build({})["schemas"]


def test_a_typed_dict_is_a_component_named_without_out():
    ref, components = build(PointOut)
    assert ref == {"$ref": "#/components/schemas/Point"}
    point = components["Point"]
    assert point["description"] == "A point."
    # NotRequired holds although the annotations are strings (__future__ annotations).
    assert point["required"] == ["x", "label", "colour", "value", "at", "extra"]
    assert point["properties"]["x"] == {"type": "integer"}
    assert point["properties"]["label"] == {
        "type": "string",
        "nullable": True,
        "description": "what it is called",
    }
    assert point["properties"]["at"] == {"type": "string", "format": "date-time"}
    assert point["properties"]["extra"] == {"type": "object", "additionalProperties": {}}
    assert point["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert point["properties"]["value"]["oneOf"][1]["enum"] == ["NaN", "Infinity", "-Infinity"]


def test_choices_are_a_component_of_their_own():
    _, components = build(PointOut)
    assert components["Point"]["properties"]["colour"] == {"$ref": "#/components/schemas/Colour"}
    assert components["Colour"] == {"enum": ["red", "blue"], "type": "string"}


def test_a_type_may_hold_itself_and_a_nullable_reference_is_wrapped():
    _, components = build(NodeOut)
    node = components["Node"]["properties"]
    assert node["children"] == {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
    assert node["parent"] == {"allOf": [{"$ref": "#/components/schemas/Node"}], "nullable": True}


def test_a_page_is_named_after_its_items_and_a_subclass_keeps_them():
    ref, components = build(Page[PointOut])
    assert ref == {"$ref": "#/components/schemas/PointPage"}
    assert components["PointPage"]["properties"]["results"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Point"},
    }
    assert components["PointPage"]["required"] == ["results", "next"]
    _, components = build(PointSearchOut)
    search = components["PointSearch"]
    assert list(search["properties"]) == ["results", "next", "total"]
    assert search["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Point"}


def test_a_type_without_a_schema_is_refused():
    class OddOut(TypedDict):
        when: complex

    with pytest.raises(TypeError, match="no OpenAPI schema for <class 'complex'>"):
        build(OddOut)


def test_two_types_of_one_name_warn():
    def make():
        class PointOut(TypedDict):
            y: int

        return PointOut

    registry = ComponentRegistry()
    reset_generator_stats()
    try:
        type_schema(PointOut, registry)
        type_schema(make(), registry)
        warnings = list(GENERATOR_STATS._warn_cache)
    finally:
        reset_generator_stats()
    assert any('identical names "Point"' in w for w in warnings), warnings


def test_component_names():
    assert component_name(PointOut) == "Point"
    assert component_name(Page[PointOut]) == "PointPage"
