"""An OpenRosa submission's XML instance read safely and mapped to a record's ``data``.

The instance nests as the XForm does (groups, repeats, ``meta``); a record's ``data`` is flat
by key (a question's name, or its path when the name is used in two groups) except for
repeats, which are lists of objects (``schemas/form.py``). Values arrive as text and become
what the collector would have stored: numbers for integer, decimal and numeric calculations,
lists for select_multiple, the file's name for an image until its bytes arrive.
Nothing is dropped quietly: an element the form does not have stays in ``data`` under its own
name, so that the record's check names it.
"""

from __future__ import annotations

import re
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder, XMLParser
from xml.parsers import expat

from schemas.form import Form, Node
from schemas.geo import GEO_TYPES, tidy
from schemas.media import FILE_ANSWER_TYPES

# A household survey's instance is a few tens of KB; a form with a large roster a few hundred.
MAX_XML_BYTES = 2_000_000
# Groups inside repeats inside groups: a real form nests a handful deep.
MAX_DEPTH = 32
MAX_ELEMENTS = 50_000
MAX_INSTANCE_ID = 200
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_PLAIN_ENCODINGS = {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin-1"}
# The one question through which a Collect record names its household (README, "ODK Collect").
HOUSEHOLD_QUESTION = "household_code"

_INTEGER = re.compile(r"^[+-]?\d{1,15}$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A fixed namespace: the same instanceID always gives the same record id, on any server.
_NAMESPACE = uuid.UUID("5b0f3a8e-6d1c-4f57-9c2e-0a7e6f1d2c3b")


class InstanceRefused(ValueError):
    """An instance that cannot be read: ``code`` names why (``openrosa.<code>`` in the
    catalogue), ``params`` fill its words."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Instance:
    """What the XML says before it meets its form: which form, which instance, which edit."""

    root: Element
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None


@dataclass
class Mapped:
    data: dict[str, Any]
    # (the object holding an image answer, its key): the file name there becomes the blob's
    # SHA-256 once the file has arrived.
    media: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    # The same for an osm answer: Collect sends OpenMapKit's .osm file, whose text is the answer.
    osm: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    @property
    def file_names(self) -> list[str]:
        return [holder[key] for holder, key in (*self.media, *self.osm)]


def read_instance(xml: bytes) -> Instance:
    """The instance's root and identity; raises ``InstanceRefused``. No DTD is read, so no
    entity either (a billion laughs, external files); size and depth are bounded as it is
    read."""
    if len(xml) > MAX_XML_BYTES:
        raise InstanceRefused("xml_too_large", max=MAX_XML_BYTES)
    root = parse_xml(xml)
    form_id = (root.get("id") or "").strip()
    version = (root.get("version") or "").strip()
    if not form_id or len(form_id) > 200 or len(version) > 200:
        raise InstanceRefused("no_form_id")
    meta = next((child for child in root if _local(child.tag) == "meta"), None)
    found = {_local(c.tag): (c.text or "").strip() for c in ([] if meta is None else meta)}
    instance_id = found.get("instanceID", "")
    if not instance_id or len(instance_id) > MAX_INSTANCE_ID:
        raise InstanceRefused("no_instance_id")
    deprecated = found.get("deprecatedID") or None
    if deprecated is not None and len(deprecated) > MAX_INSTANCE_ID:
        raise InstanceRefused("no_instance_id")
    return Instance(root, form_id, version, instance_id, deprecated)


class _Shape:
    """expat's callbacks building the tree with ElementTree's C ``TreeBuilder``, counting
    elements and depth as they open. defusedxml did the same refusals through ElementTree's
    pure-Python parser, a fifth of a one-record submission's CPU; a submission has no use for
    a DTD, so the document type declaration itself is refused, and with it every entity."""

    def __init__(self) -> None:
        self.builder = TreeBuilder()
        self.depth = 0
        self.count = 0

    def start(self, tag: str, attributes: list[str]) -> None:
        self.depth += 1
        self.count += 1
        if self.depth > MAX_DEPTH:
            raise InstanceRefused("xml_too_deep", max=MAX_DEPTH)
        if self.count > MAX_ELEMENTS:
            raise InstanceRefused("xml_too_large", max=MAX_XML_BYTES)
        # ordered_attributes: name, value, name, value ...
        named = {_clark(attributes[i]): attributes[i + 1] for i in range(0, len(attributes), 2)}
        self.builder.start(_clark(tag), named)

    def end(self, tag: str) -> None:
        self.depth -= 1
        self.builder.end(_clark(tag))


def _clark(name: str) -> str:
    # expat writes a namespaced name "URI}local"; ElementTree's is "{URI}local".
    return "{" + name if "}" in name else name


def _refuse(*_: Any) -> None:
    raise InstanceRefused("not_xml")


def parse_xml(xml: bytes) -> Element:
    """A submission's XML as an ElementTree, refused (``InstanceRefused``) when it is not
    XML, declares a document type (no DTD, so no entities: no billion laughs, no external
    files), nests deeper than ``MAX_DEPTH`` or holds more than ``MAX_ELEMENTS`` elements."""
    if _plainly_without_dtd(xml):
        return _parse_plain(xml)
    return _parse_strict(xml)


def _plainly_without_dtd(xml: bytes) -> bool:
    """Whether the bytes surely hold no document type declaration, as what Collect and Enketo
    send (UTF-8, no DTD) does: an encoding that writes ``<`` as the byte ``<`` and no zero
    byte (not UTF-16 or UTF-32, where ``<!DOCTYPE`` would not be these bytes), the element
    tags too few to pass the bound (each ``<`` opens at most one), and no ``<!DOCTYPE``
    anywhere (XML names it in upper case only; without it there is no DTD, so no entity)."""
    start = xml.lstrip(b" \t\r\n\xef\xbb\xbf")
    if start[:1] != b"<" or b"\0" in xml or b"<!DOCTYPE" in xml:
        return False
    if start.startswith(b"<?xml"):
        # A declared encoding other than UTF-8, ASCII or Latin-1 may write "<!DOCTYPE" in
        # other bytes (UTF-7 does): left to the strict reading.
        declaration = start[: start.find(b"?>") + 1]
        declared = _ENCODING.search(declaration)
        if b"encoding" in declaration and (
            declared is None or declared.group(1).lower() not in _PLAIN_ENCODINGS
        ):
            return False
    return xml.count(b"<") <= 2 * MAX_ELEMENTS


def _parse_plain(xml: bytes) -> Element:
    # ElementTree's C parser and tree builder, three times as fast as expat's callbacks into
    # Python; the shape is checked on the tree, level by level.
    parser = XMLParser(target=TreeBuilder())
    try:
        parser.feed(xml)
        root = parser.close()
    except (SyntaxError, ValueError, LookupError):
        # LookupError: an encoding Python does not know; ValueError: a multi-byte one.
        raise InstanceRefused("not_xml") from None
    level, depth, count = [root], 1, 1
    while level:
        if depth > MAX_DEPTH:
            raise InstanceRefused("xml_too_deep", max=MAX_DEPTH)
        level = [child for element in level for child in element]
        depth, count = depth + 1, count + len(level)
        if count > MAX_ELEMENTS:
            raise InstanceRefused("xml_too_large", max=MAX_XML_BYTES)
    return root


def _parse_strict(xml: bytes) -> Element:
    shape = _Shape()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.StartElementHandler = shape.start
    parser.EndElementHandler = shape.end
    parser.CharacterDataHandler = shape.builder.data
    try:
        parser.Parse(xml, True)
    except InstanceRefused:
        raise  # a ValueError too: the callbacks' own refusals (depth, size, a DTD)
    except (expat.ExpatError, ValueError, LookupError):
        raise InstanceRefused("not_xml") from None
    root = shape.builder.close()
    if not isinstance(root, Element):
        raise InstanceRefused("not_xml")
    return root


def record_uuid(instance_id: str) -> str:
    """A record id or rev from an instanceID: Collect and Enketo send ``uuid:`` and a UUID,
    which is kept as it is (lower case); any other text gives a UUID of its own."""
    text = instance_id.strip()
    bare = text[5:] if text.lower().startswith("uuid:") else text
    if _UUID.match(bare.lower()):
        return bare.lower()
    return str(uuid.uuid5(_NAMESPACE, text))


def map_instance(form: Form, root: Element) -> Mapped:
    mapped = Mapped({})
    _fill(form, form.root, root, mapped.data, mapped, top=True)
    _audit_log(form, root, mapped)
    return mapped


def _audit_log(form: Form, root: Element, mapped: Mapped) -> None:
    """Collect's audit log: pyxform puts the ``audit`` question in ``meta`` (``<audit>audit.csv
    </audit>``), wherever the workbook's row is; its attachment becomes the record's file, as
    a photo's does."""
    node = next((n for n in form.nodes.values() if n.type == "audit" and not n.repeats), None)
    meta = next((child for child in root if _local(child.tag) == "meta"), None)
    if node is None or meta is None:
        return
    found = next((child for child in meta if _local(child.tag) == "audit"), None)
    text = "" if found is None else (found.text or "").strip()
    if text:
        mapped.data[node.name] = text
        mapped.media.append((mapped.data, node.name))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _fill(
    form: Form,
    parent: Node,
    element: Element,
    scope: dict[str, Any],
    mapped: Mapped,
    top: bool = False,
) -> None:
    # An element is found among its group's own questions: a name used in two groups is the
    # same tag in both, and its answer's key is its path (schemas/form.py).
    children = _by_written_name(form, parent)
    for child in element:
        tag = _local(child.tag)
        if not tag or (top and tag == "meta"):
            continue
        node = children.get(tag)
        name = node.name if node is not None else tag
        if node is None and name in scope and parent is not form.root:
            name = f"{parent.name}/{tag}"  # in the wrong group: kept beside the answer, not over it
        if node is None:
            if _generated(children, tag):
                continue
            text = (child.text or "").strip()
            if text or len(child):
                scope[name] = text  # the check names it: unknown_field
            continue
        if node.kind == "group":
            _fill(form, node, child, scope, mapped)
        elif node.kind == "repeat":
            instance: dict[str, Any] = {}
            _fill(form, node, child, instance, mapped)
            instances = scope.setdefault(name, [])
            # Collect keeps an unanswered instance of a repeat that was not relevant, as the
            # XForm's template left it; it holds no answer.
            if instance and isinstance(instances, list):
                instances.append(instance)
            elif not instances:
                del scope[name]
        else:
            value = _value(node, child.text or "")
            if value is None:
                continue
            scope[name] = value
            if node.type in FILE_ANSWER_TYPES:
                mapped.media.append((scope, name))
            elif node.type == "osm":
                mapped.osm.append((scope, name))


# Each group's questions by the name the XForm writes, found once per form version (a parsed
# form lives as long as its version is cached; its nodes never change).
_WRITTEN: weakref.WeakKeyDictionary[Form, dict[int, dict[str, Node]]] = weakref.WeakKeyDictionary()


def _by_written_name(form: Form, parent: Node) -> dict[str, Node]:
    groups = _WRITTEN.setdefault(form, {})
    found = groups.get(id(parent))
    if found is None:
        found = groups[id(parent)] = {form.written_name(c): c for c in parent.children}
    return found


def _generated(children: dict[str, Node], name: str) -> bool:
    """What pyxform adds to the instance beside a form's own questions: the count it
    calculates for a repeat_count that is an expression, beside its repeat."""
    if name.endswith("_count"):
        repeat = children.get(name[: -len("_count")])
        return repeat is not None and repeat.kind == "repeat"
    return False


def _value(node: Node, text: str) -> Any:
    if text.strip() == "":
        return None
    kind = node.type
    if kind in ("select_multiple", "rank"):  # a rank: the names in their order
        return text.split()
    if (
        kind in ("select_one", "integer", "decimal", "range", "calculate", "date", "osm")
        or kind in FILE_ANSWER_TYPES
    ):
        text = text.strip()
    if kind == "integer":
        return int(text) if _INTEGER.match(text) else text
    if kind in ("decimal", "range"):
        # ODK Collect sends a range's number as text, an integer when its steps are whole.
        return _number(text)
    if kind in GEO_TYPES:
        # Points as the phone writes them: older tools end a line with ';' or space the ';'.
        return tidy(kind, text) or None
    if kind == "calculate":
        return _number(text) if _DECIMAL.match(text) else text
    return text


def _number(text: str) -> Any:
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        number = float(text)
        return number if number == number and abs(number) != float("inf") else text
    return text
