"""A client that speaks OpenRosa as ODK Collect does, in Collect's order: the form list, the
form, its manifest and media; a filled form made from the XForm's own primary instance; then
``HEAD`` on the submission URL, and multipart POSTs (``xml_submission_file`` and the files,
split across POSTs past the size the server announced, the XML in each); an edit of a sent
form carries ``deprecatedID``. Every request sends the OpenRosa headers Collect sends."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import requests

from schemas.form import DEFAULT_FORM

XFORMS = "http://www.w3.org/2002/xforms"
JR_TEMPLATE = "{http://openrosa.org/javarosa}template"
LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
RESPONSE = "{http://openrosa.org/http/response}"
COLLECT_VERSION = "2026.11.1-collect"


def collect_form_definition() -> dict[str, Any]:
    """The default survey as a commune would adapt it for Collect: the household's code from
    its label, and photos of the house and of each member."""
    definition = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    survey = definition["survey"]
    names = [row.get("name") for row in survey]
    survey.insert(
        names.index("member_name") + 1,
        {"type": "image", "name": "member_photo", "label::Tiếng Việt (vi)": "Ảnh",
         "label::English (en)": "Photo"},
    )  # fmt: skip
    survey.insert(
        names.index("outcome"),
        {"type": "image", "name": "house_photo", "label::Tiếng Việt (vi)": "Ảnh nhà",
         "label::English (en)": "House photo"},
    )  # fmt: skip
    survey.insert(
        names.index("visit"),
        {"type": "text", "name": "household_code", "label::Tiếng Việt (vi)": "Mã hộ",
         "label::English (en)": "Household code"},
    )  # fmt: skip
    definition["settings"]["version"] = COLLECT_VERSION
    return definition


@dataclass
class Answer:
    status: int
    message: str
    headers: dict[str, str]


@dataclass
class Filled:
    """A finalized form as Collect keeps it: the instance XML and its files by name."""

    root: ET.Element
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        return self.root.find("meta/instanceID").text  # type: ignore[union-attr]

    def xml(self) -> bytes:
        return ET.tostring(self.root, encoding="utf-8", xml_declaration=True)


class CollectClient:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url.rstrip("/")
        self.http = requests.Session()
        self.requests: list[tuple[str, str]] = []  # (method, path) in order, as sent
        self.media: dict[str, bytes] = {}  # the forms' media files by name, as downloaded

    def _headers(self) -> dict[str, str]:
        return {
            "X-OpenRosa-Version": "1.0",
            "Date": formatdate(usegmt=True),
            "Accept-Language": "vi",
            "User-Agent": "org.odk.collect.android/v2025.1.0 (test)",
        }

    def _send(
        self, method: str, url: str, extra_headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        self.requests.append((method, url.removeprefix(self.server_url)))
        headers = {**self._headers(), **(extra_headers or {})}
        response = self.http.request(method, url, headers=headers, timeout=60, **kwargs)
        assert response.headers.get("X-OpenRosa-Version") == "1.0", response.headers
        return response

    # -- getting forms ----------------------------------------------------------------------
    def form_list(self) -> list[dict[str, str]]:
        response = self._send("GET", f"{self.server_url}/formList")
        assert response.status_code == 200, response.text
        root = ET.fromstring(response.content)
        assert root.tag == f"{LIST}xforms"
        return [
            {child.tag.removeprefix(LIST): (child.text or "") for child in xform}
            for xform in root.findall(f"{LIST}xform")
        ]

    def download(self, listed: dict[str, str]) -> bytes:
        """The XForm, checked against the list's hash as Collect checks it, and its media."""
        response = self._send("GET", listed["downloadUrl"])
        assert response.status_code == 200, response.text
        body = response.content
        assert listed["hash"] == "md5:" + hashlib.md5(body).hexdigest()
        manifest = self._send("GET", listed["manifestUrl"])
        assert manifest.status_code == 200, manifest.text
        for media in ET.fromstring(manifest.content).findall(f"{MANIFEST}mediaFile"):
            name = media.findtext(f"{MANIFEST}filename") or ""
            known = media.findtext(f"{MANIFEST}hash") or ""
            if self.media.get(name) is not None and known == _md5(self.media[name]):
                continue  # Collect fetches a file again only when its hash changed
            url = media.findtext(f"{MANIFEST}downloadUrl") or ""
            got = self._send("GET", url)
            assert got.status_code == 200, got.text
            assert known == _md5(got.content), name  # Collect refuses a file not its hash
            self.media[name] = got.content
        return body

    # -- filling ----------------------------------------------------------------------------
    @staticmethod
    def fill(xform: bytes, data: dict[str, Any], files: dict[str, bytes] | None = None) -> Filled:
        """The XForm's primary instance with ``data`` (flat by name, repeats as lists of
        objects, as a record holds it) written in, as the form-filling engine would leave it:
        one copy of a repeat's template per instance, templates themselves not sent."""
        model = ET.fromstring(xform).find(f".//{{{XFORMS}}}model")
        assert model is not None
        primary = model.find(f"{{{XFORMS}}}instance")[0]  # type: ignore[index]
        root = _strip(copy.deepcopy(primary))
        _write(root, data)
        root.find("meta/instanceID").text = f"uuid:{uuid.uuid4()}"  # type: ignore[union-attr]
        return Filled(root, dict(files or {}))

    @staticmethod
    def edit(sent: Filled, data: dict[str, Any]) -> Filled:
        """An edit of a sent form: the new answers, a new instanceID, and the old one as
        ``deprecatedID``."""
        root = copy.deepcopy(sent.root)
        _write(root, data)
        meta = root.find("meta")
        assert meta is not None
        old = meta.find("instanceID").text  # type: ignore[union-attr]
        deprecated = meta.find("deprecatedID")
        if deprecated is None:
            deprecated = ET.SubElement(meta, "deprecatedID")
        deprecated.text = old
        meta.find("instanceID").text = f"uuid:{uuid.uuid4()}"  # type: ignore[union-attr]
        return Filled(root, dict(sent.files))

    # -- sending ----------------------------------------------------------------------------
    def submit(self, filled: Filled, xml: bytes | None = None) -> list[Answer]:
        """HEAD, then as many POSTs as the announced size needs; the answers, in order."""
        head = self._send("HEAD", f"{self.server_url}/submission")
        assert head.status_code == 204, head.status_code
        limit = int(head.headers["X-OpenRosa-Accept-Content-Length"])
        body = filled.xml() if xml is None else xml
        batches: list[list[tuple[str, bytes]]] = [[]]
        size = len(body)
        for name, content in filled.files.items():
            if batches[-1] and size + len(content) > limit:
                batches.append([])
                size = len(body)
            batches[-1].append((name, content))
            size += len(content)
        answers = []
        for batch in batches:
            parts = [("xml_submission_file", ("submission.xml", body, "text/xml"))]
            parts += [(name, (name, content, "image/jpeg")) for name, content in batch]
            response = self._send("POST", f"{self.server_url}/submission", files=parts)
            answers.append(_answer(response))
            if response.status_code not in (201, 202):
                break  # Collect stops at the first part the server refuses
        return answers

    def submit_from_disk(self, filled: Filled, folder: Path) -> Answer:
        """One POST of the whole submission, its multipart body written to a file first and
        streamed from it, as Collect streams a film from the phone's storage: the client holds
        no file in memory, so a test can measure what the server holds."""
        head = self._send("HEAD", f"{self.server_url}/submission")
        assert head.status_code == 204, head.status_code
        boundary = uuid.uuid4().hex
        body = folder / f"{boundary}.multipart"
        with body.open("wb") as out:
            parts = [("xml_submission_file", "submission.xml", "text/xml", filled.xml())]
            parts += [(name, name, "video/mp4", content) for name, content in filled.files.items()]
            for field_name, file_name, kind, content in parts:
                out.write(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}";'
                    f' filename="{file_name}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
                )
                out.write(content)
                out.write(b"\r\n")
            out.write(f"--{boundary}--\r\n".encode())
        content_type = f"multipart/form-data; boundary={boundary}"
        with body.open("rb") as stream:
            response = self._send(
                "POST",
                f"{self.server_url}/submission",
                data=stream,
                extra_headers={"Content-Type": content_type},
            )
        body.unlink()
        return _answer(response)


def _md5(body: bytes) -> str:
    return "md5:" + hashlib.md5(body).hexdigest()


def _answer(response: requests.Response) -> Answer:
    text = ""
    if response.content:
        root = ET.fromstring(response.content)
        assert root.tag == f"{RESPONSE}OpenRosaResponse", response.text
        text = root.find(f"{RESPONSE}message").text or ""  # type: ignore[union-attr]
    return Answer(response.status_code, text, dict(response.headers))


def _strip(element: ET.Element) -> ET.Element:
    """The instance without the XForm's namespace, as Collect serializes a submission."""
    for node in element.iter():
        if isinstance(node.tag, str) and node.tag.startswith(f"{{{XFORMS}}}"):
            node.tag = node.tag.split("}", 1)[1]
    return element


def _write(element: ET.Element, scope: dict[str, Any]) -> None:
    children = list(element)
    repeats = {c.tag for c in children if c.get(JR_TEMPLATE) is not None}
    kept: list[ET.Element] = []
    for child in children:
        name = child.tag
        if name in repeats:
            # The template becomes one copy per instance; the instance the XForm starts
            # with is replaced by them, as when the volunteer adds or removes instances.
            if child.get(JR_TEMPLATE) is not None:
                for item in scope.get(name) or []:
                    instance = copy.deepcopy(child)
                    del instance.attrib[JR_TEMPLATE]
                    _write(instance, item)
                    kept.append(instance)
            continue
        if name != "meta":
            if len(child):
                _write(child, scope)
            elif name in scope:
                child.text = _text(scope[name])
        kept.append(child)
    element[:] = kept


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)
