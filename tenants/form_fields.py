"""Forms generated from the tenant schema, and posted forms turned back into a document.

The configuration editor never knows a section by hand: it walks the pydantic
models, so a field added to `tenants/schema.py` appears in the editor by itself.
Every input is named by its dotted path in the document ("readings.window_days",
"identifiers.0.label.ru"), the same path validation problems are reported at.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from tenants.schema import Localized, TenantConfig

# The page that gathers the top-level settings that are not sections of their own.
GENERAL = "general"
# Suffixes of the helper inputs that sit beside a field's own inputs.
COUNT, REMOVE, USE, SHOWN_KIND = "_count", "_remove", "_use", "_shown"
MAX_ITEMS = 100
PAIR_SEPARATOR = "="

ShapeKind = Literal["scalar", "bool", "literal", "localized", "model", "union", "list", "dict"]
FormValues = Mapping[str, list[str]]


@dataclass(frozen=True)
class Shape:
    """What a schema type looks like to a form."""

    kind: ShapeKind
    optional: bool = False
    base: type = str  # scalar: str, int, Decimal or date
    options: tuple[str, ...] = ()  # literal
    model: type[BaseModel] | None = None  # model
    variants: tuple[tuple[str, type[BaseModel]], ...] = ()  # union: (tag, model)
    tag: str = "kind"  # union: the discriminating field
    item: Shape | None = None  # list item, dict value

    def variant(self, tag: object) -> tuple[str, type[BaseModel]]:
        return next((v for v in self.variants if v[0] == tag), self.variants[0])


def shape_of(annotation: Any, info: FieldInfo | None = None) -> Shape:
    discriminator = info.discriminator if info is not None else None
    if typing.get_origin(annotation) is Annotated:
        annotation, *metadata = typing.get_args(annotation)
        for extra in metadata:
            if isinstance(extra, FieldInfo) and isinstance(extra.discriminator, str):
                discriminator = extra.discriminator
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) == 1:
            return dataclasses.replace(shape_of(members[0]), optional=optional)
        tag = discriminator if isinstance(discriminator, str) else "kind"
        variants = tuple(
            (typing.get_args(member.model_fields[tag].annotation)[0], member) for member in members
        )
        return Shape("union", optional=optional, variants=variants, tag=tag)
    if origin is Literal:
        return Shape(
            "literal", options=tuple(str(option) for option in typing.get_args(annotation))
        )
    if origin is list:
        return Shape("list", item=shape_of(typing.get_args(annotation)[0]))
    if origin is dict:
        return Shape("dict", item=shape_of(typing.get_args(annotation)[1]))
    if annotation is bool:
        return Shape("bool")
    if isinstance(annotation, type) and issubclass(annotation, Localized):
        return Shape("localized")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape("model", model=annotation)
    if annotation in (int, Decimal, float, date):
        return Shape("scalar", base=annotation)
    return Shape("scalar", base=str)


@cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, FieldInfo, Shape], ...]:
    return tuple(
        (name, info, shape_of(info.annotation, info)) for name, info in model.model_fields.items()
    )


def _is_section(shape: Shape) -> bool:
    scalar_list = shape.kind == "list" and shape.item is not None and _is_plain(shape.item)
    return not (_is_plain(shape) or scalar_list)


def _is_plain(shape: Shape) -> bool:
    return shape.kind in ("scalar", "bool", "literal")


@cache
def _section_names(model: type[BaseModel]) -> tuple[str, ...]:
    return (GENERAL, *(name for name, _, shape in _fields(model) if _is_section(shape)))


def sections(model: type[BaseModel] = TenantConfig) -> list[str]:
    """The editor's pages: the general settings, then one per top-level section."""
    return list(_section_names(model))


def section_fields(section: str, model: type[BaseModel] = TenantConfig) -> list[str]:
    """The top-level fields one page edits."""
    if section == GENERAL:
        return [name for name, _, shape in _fields(model) if not _is_section(shape)]
    return [section] if section in sections(model) else []


def section_of(path: str, model: type[BaseModel] = TenantConfig) -> str:
    """The page where the field at this path is edited."""
    head = path.split(".", 1)[0]
    return head if head in sections(model) and head != GENERAL else GENERAL


def default_of(info: FieldInfo) -> tuple[bool, Any]:
    """Whether the field has a default, and that default as JSON-ready data."""
    if info.default_factory is not None:
        return True, to_jsonable_python(info.default_factory())  # type: ignore[call-arg]
    if info.default is not PydanticUndefined:
        return True, to_jsonable_python(info.default)
    return False, None


def blank(shape: Shape) -> Any:
    """A value for a newly added item: defaults where the schema has them, else empty."""
    if shape.optional and shape.kind != "model":
        return None
    if shape.kind == "model" and shape.model is not None:
        return _blank_model(shape.model)
    if shape.kind == "union":
        tag, model = shape.variants[0]
        return {**_blank_model(model), shape.tag: tag}
    return {
        "bool": False,
        "literal": shape.options[0] if shape.options else "",
        "localized": {"texts": {}},
        "list": [],
        "dict": {},
    }.get(shape.kind, "")


def _blank_model(model: type[BaseModel]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, info, shape in _fields(model):
        has_default, default = default_of(info)
        values[name] = default if has_default else blank(shape)
    return values


# --- describing a form ---------------------------------------------------------------


@dataclass
class Node:
    """One input (or group of inputs) of the editor's form; the template draws it."""

    kind: str  # text number decimal date checkbox select lines choices localized pairs
    #           mapping group list union
    path: str
    name: str  # the schema field's name, for its label
    owner: str  # the model the field belongs to, for labels that differ by model
    required: bool = True  # False: may be left empty (absent, or the schema's default)
    nullable: bool = False  # may be absent: a select offers "(none)"
    default: str = ""  # what an empty text input stands for
    value: Any = ""
    options: tuple[str, ...] = ()
    children: list[Node] = field(default_factory=list)
    optional_group: bool = False  # a section that may be absent: "use this" checkbox
    present: bool = True
    index: int | None = None  # list items: their position
    item_name: str = ""  # list items: their own name or key, for the legend
    removed: bool = False
    tag: str = ""  # unions: the field that chooses the kind
    multiline: bool = False  # texts: drawn as a text area


def describe(document: Mapping[str, Any], section: str, removed: Iterable[str] = ()) -> list[Node]:
    """The nodes of one section's page, with the values the document holds."""
    context = _Describe(locales=_enabled_locales(document), removed=set(removed))
    nodes = []
    for name, info, shape in _fields(TenantConfig):
        if name in section_fields(section):
            nodes.append(context.node(shape, name, name, "TenantConfig", document.get(name), info))
    return nodes


def _enabled_locales(document: Mapping[str, Any]) -> list[str]:
    locales = document.get("locales")
    enabled = locales.get("enabled") if isinstance(locales, dict) else None
    return [str(code) for code in enabled] if isinstance(enabled, list) else []


@dataclass
class _Describe:
    locales: list[str]
    removed: set[str]

    def node(
        self,
        shape: Shape,
        path: str,
        name: str,
        owner: str,
        value: Any,
        info: FieldInfo | None = None,
    ) -> Node:
        has_default = info is not None and not info.is_required()
        base = Node(kind="text", path=path, name=name, owner=owner)
        base.nullable, base.required = shape.optional, not (shape.optional or has_default)
        if has_default and info is not None and shape.kind == "scalar":
            default = default_of(info)[1]
            base.default = "" if default is None else str(default)
        if shape.kind == "scalar":
            base.kind = {int: "number", Decimal: "decimal", float: "decimal", date: "date"}.get(
                shape.base, "text"
            )
            base.value = "" if value is None else str(value)
        elif shape.kind == "bool":
            base.kind, base.value = "checkbox", value is True
        elif shape.kind == "literal":
            base.kind, base.options = "select", shape.options
            base.value = "" if value is None else str(value)
        elif shape.kind == "localized":
            base.kind, base.value = "localized", self._texts(value)
            base.multiline = any("\n" in text or len(text) > 100 for _, text in base.value)
        elif shape.kind == "list" and shape.item is not None:
            self._list(base, shape.item, value)
        elif shape.kind == "dict" and shape.item is not None:
            base.kind = "pairs" if _is_plain(shape.item) else "mapping"
            base.value = _pairs_text(value) if base.kind == "pairs" else self._mapping(value)
        elif shape.kind == "model" and shape.model is not None:
            base.kind, base.optional_group = "group", shape.optional
            base.present = isinstance(value, dict)
            shown = value if isinstance(value, dict) else _blank_model(shape.model)
            base.children = self._model(shape.model, path, shown)
        elif shape.kind == "union":
            tag, model = shape.variant(value.get(shape.tag) if isinstance(value, dict) else None)
            base.kind, base.value, base.tag = "union", tag, shape.tag
            base.options = tuple(t for t, _ in shape.variants)
            shown = value if isinstance(value, dict) else _blank_model(model)
            base.children = self._model(model, path, shown, skip=shape.tag)
        return base

    def _model(
        self, model: type[BaseModel], path: str, value: Mapping[str, Any], skip: str = ""
    ) -> list[Node]:
        return [
            self.node(shape, f"{path}.{name}", name, model.__name__, value.get(name), info)
            for name, info, shape in _fields(model)
            if name != skip
        ]

    def _list(self, base: Node, item: Shape, value: Any) -> None:
        items = value if isinstance(value, list) else []
        if item.kind == "literal":
            base.kind, base.options = "choices", item.options
            base.value = [str(v) for v in items]
            return
        if _is_plain(item):
            base.kind, base.value = "lines", "\n".join(str(v) for v in items)
            return
        base.kind = "list"
        for index, element in enumerate(items):
            child = self.node(item, f"{base.path}.{index}", base.name, base.owner, element)
            child.index = index
            child.removed = child.path in self.removed
            if isinstance(element, dict):
                child.item_name = str(element.get("name") or element.get("key") or "")
            base.children.append(child)

    def _texts(self, value: Any) -> list[tuple[str, str]]:
        texts = value.get("texts", value) if isinstance(value, dict) else {}
        texts = texts if isinstance(texts, dict) else {}
        codes = self.locales + [code for code in texts if code not in self.locales]
        return [(code, str(texts.get(code, ""))) for code in codes]

    def _mapping(self, value: Any) -> list[tuple[str, str]]:
        entries = value if isinstance(value, dict) else {}
        keys = self.locales + [key for key in entries if key not in self.locales]
        return [(key, _pairs_text(entries.get(key))) for key in keys]


def _pairs_text(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    return "\n".join(f"{key} {PAIR_SEPARATOR} {text}" for key, text in value.items())


# --- reading a posted form -------------------------------------------------------------


@dataclass
class Edit:
    """A posted page read back: the document as typed (removed items still in it, so the
    page can be shown again as it was), which items were ticked for removal, and lines
    that could not be read."""

    document: dict[str, Any]
    removed: set[str] = field(default_factory=set)
    # (path, code, params): only "bad_pair", a line of a key = value box without "=".
    problems: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def read_section(form: FormValues, document: Mapping[str, Any], section: str) -> Edit:
    """The document with one page's fields replaced by what was posted."""
    edit = Edit(document=copy.deepcopy(dict(document)))
    reader = _Read(form, edit)
    for name, info, shape in _fields(TenantConfig):
        if name in section_fields(section):
            edit.document[name] = reader.value(shape, name, document.get(name), info)
    return edit


@dataclass
class _Read:
    form: FormValues
    edit: Edit

    def first(self, path: str) -> str:
        values = self.form.get(path) or [""]
        return values[0].replace("\r\n", "\n").strip()

    def value(self, shape: Shape, path: str, previous: Any, info: FieldInfo | None = None) -> Any:
        if shape.kind == "bool":
            return path in self.form
        if shape.kind == "scalar" or shape.kind == "literal":
            raw = self.first(path)
            if not raw and not shape.optional and info is not None and not info.is_required():
                return default_of(info)[1]  # left empty: the schema's default
            return self._scalar(shape, raw)
        if shape.kind == "localized":
            texts = {code: text for code, text in self._under(path, strip=False).items() if text}
            return {"texts": texts} if texts or not shape.optional else None
        if shape.kind == "list" and shape.item is not None:
            return self._list(shape.item, path, previous)
        if shape.kind == "dict" and shape.item is not None:
            if _is_plain(shape.item):
                return self._pairs(path, self.first(path))
            entries = {
                key: self._pairs(f"{path}.{key}", text) for key, text in self._under(path).items()
            }
            return {key: pairs for key, pairs in entries.items() if pairs}
        if shape.kind == "model" and shape.model is not None:
            if shape.optional and f"{path}.{USE}" not in self.form:
                return None
            return self._model(shape.model, path, previous)
        if shape.kind == "union":
            tag, model = shape.variant(self.first(f"{path}.{shape.tag}"))
            shown = self.first(f"{path}.{SHOWN_KIND}")
            if shown and shown != tag:
                # The kind was just changed: its own fields were not on the page yet.
                return {**_blank_model(model), shape.tag: tag}
            return {**self._model(model, path, previous, skip=shape.tag), shape.tag: tag}
        return previous

    def _scalar(self, shape: Shape, raw: str) -> Any:
        if not raw:
            return None if shape.optional else raw
        if shape.base is int:
            try:
                return int(raw)
            except ValueError:
                return raw  # validation names the problem next to the field
        return raw

    def _model(
        self, model: type[BaseModel], path: str, previous: Any, skip: str = ""
    ) -> dict[str, Any]:
        old = previous if isinstance(previous, dict) else {}
        return {
            name: self.value(shape, f"{path}.{name}", old.get(name), info)
            for name, info, shape in _fields(model)
            if name != skip
        }

    def _list(self, item: Shape, path: str, previous: Any) -> list[Any]:
        old = previous if isinstance(previous, list) else []
        if item.kind == "literal":
            chosen = set(self.form.get(path) or [])
            kept = [str(v) for v in old if str(v) in chosen]
            return kept + [o for o in item.options if o in chosen and o not in kept]
        if _is_plain(item):
            lines = [line.strip() for line in self.first(path).split("\n")]
            return [self._scalar(item, line) for line in lines if line]
        try:
            count = min(int(self.first(f"{path}.{COUNT}") or 0), MAX_ITEMS)
        except ValueError:
            count = 0
        items = []
        for index in range(count):
            item_path = f"{path}.{index}"
            items.append(self.value(item, item_path, old[index] if index < len(old) else None))
            if f"{item_path}.{REMOVE}" in self.form:
                self.edit.removed.add(item_path)
        return items

    def _under(self, path: str, strip: bool = True) -> dict[str, str]:
        """Inputs named `path.<key>`, by key, for texts per locale and per-key boxes.
        Texts keep their spaces and line breaks; one of nothing but spaces is empty."""
        prefix = path + "."
        found = {}
        for key, values in self.form.items():
            if key.startswith(prefix) and "." not in key[len(prefix) :]:
                text = (values[0] if values else "").replace("\r\n", "\n")
                found[key[len(prefix) :]] = text.strip() if strip or not text.strip() else text
        return found

    def _pairs(self, path: str, text: str) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for line in text.split("\n"):
            if not line.strip():
                continue
            key, separator, value = line.partition(PAIR_SEPARATOR)
            if not separator or not key.strip():
                self.edit.problems.append((path, "bad_pair", {"line": line.strip()[:80]}))
                continue
            pairs[key.strip()] = value.strip()
        return pairs


def without_removed(edit: Edit) -> tuple[dict[str, Any], Callable[[str], str]]:
    """The document to check and save (items ticked for removal left out), and a function
    that turns a path in it back into the path of the same input on the page."""
    kept_indexes: dict[str, list[int]] = {}

    def prune(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {
                key: prune(item, f"{path}.{key}" if path else key) for key, item in value.items()
            }
        if isinstance(value, list):
            kept = [i for i in range(len(value)) if f"{path}.{i}" not in edit.removed]
            if len(kept) != len(value):
                kept_indexes[path] = kept
            return [prune(value[i], f"{path}.{i}") for i in kept]
        return value

    pruned = prune(edit.document, "")

    def page_path(path: str) -> str:
        parts: list[str] = []
        for part in path.split(".") if path else []:
            kept = kept_indexes.get(".".join(parts))
            if kept is not None and part.isdigit() and int(part) < len(kept):
                part = str(kept[int(part)])
            parts.append(part)
        return ".".join(parts)

    return pruned, page_path


def add_item(document: dict[str, Any], path: str) -> bool:
    """Append a blank item to the list of models at `path`; False if there is none there."""
    shape, container = shape_at(path), _value_at(document, path)
    if shape is None or shape.kind != "list" or shape.item is None or _is_plain(shape.item):
        return False
    if not isinstance(container, list) or len(container) >= MAX_ITEMS:
        return False
    container.append(blank(shape.item))
    return True


def _value_at(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def shape_at(path: str, model: type[BaseModel] = TenantConfig) -> Shape | None:
    """The shape of the field at a dotted path of the document, if the schema has one."""
    shape = Shape("model", model=model)
    for part in path.split("."):
        step = _step(shape, part)
        if step is None:
            return None
        shape = step
    return shape


def _step(shape: Shape, part: str) -> Shape | None:
    if shape.kind == "list" or shape.kind == "dict":
        return shape.item if shape.kind == "dict" or part.isdigit() else None
    if shape.kind == "model" and shape.model is not None:
        info = shape.model.model_fields.get(part)
        return shape_of(info.annotation, info) if info is not None else None
    return None


# --- where a validation error belongs ---------------------------------------------------


def error_path(location: Iterable[int | str], model: type[BaseModel] = TenantConfig) -> str:
    """A pydantic error location as a document path: without the union's tag
    ("spec.digits.length" → "spec.length") and Localized's inner "texts"."""
    shape: Shape | None = Shape("model", model=model)
    parts: list[str] = []
    for part in location:
        text = str(part)
        if shape is not None and shape.kind == "union":
            tags = {tag: variant for tag, variant in shape.variants}
            if text in tags:
                shape = Shape("model", model=tags[text])
                continue
            shape = None
        if shape is not None and shape.kind == "localized":
            if text == "texts":
                continue
            shape = None
        if text == "[key]":
            continue
        parts.append(text)
        shape = _step(shape, text) if shape is not None else None
    return ".".join(parts)
