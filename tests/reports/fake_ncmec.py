"""A local fake of the CyberTipline Reporting API, for tests only (never the real service).

It checks HTTP Basic credentials, validates every report and file-details document against the
schema, hands out report and file ids, and can be told to fail a step a number of times.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from lxml import etree

from kavach.reports.ncmec import schema

USER, PASSWORD = "esp-test", "not-a-real-password"


@dataclass
class FakeState:
    """What the fake has seen; ``fail`` maps a step to how many more times it fails."""

    calls: list[str] = field(default_factory=list)
    reports: dict[int, dict[str, object]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))


def _answer(code: int, text: str, status: int = 200, **fields: object) -> Response:
    root = etree.Element("reportResponse")
    etree.SubElement(root, "responseCode").text = str(code)
    etree.SubElement(root, "responseDescription").text = text
    for key, value in fields.items():
        etree.SubElement(root, key).text = str(value)
    return Response(etree.tostring(root), status_code=status, media_type="text/xml")


def make_fake() -> tuple[FastAPI, FakeState]:
    """The fake app and its state."""
    app = FastAPI()
    state = FakeState()
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    async def gate(request: Request, step: str) -> Response | None:
        state.calls.append(step)
        if request.headers.get("authorization") != expected:
            return _answer(1000, "not authorised", 401)
        if state.fail.get(step, 0) > 0:
            state.fail[step] -= 1
            return _answer(5000, f"{step} failed (injected)", 500)
        return None

    def parse(body: bytes) -> etree._Element | None:
        try:
            tree = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return None
        return tree if schema().validate(tree) else None

    @app.get("/ispws/status")
    async def status(request: Request) -> Response:
        return await gate(request, "status") or _answer(0, "Success")

    @app.post("/ispws/submit")
    async def submit(request: Request) -> Response:
        if (denied := await gate(request, "submit")) is not None:
            return denied
        tree = parse(await request.body())
        if tree is None or tree.tag != "report":
            return _answer(4100, "report does not validate", 400)
        report_id = next(state.ids)
        state.reports[report_id] = {"xml": tree, "files": {}, "state": "open"}
        return _answer(0, "Success", reportId=report_id)

    @app.post("/ispws/upload")
    async def upload(request: Request) -> Response:
        if (denied := await gate(request, "upload")) is not None:
            return denied
        async with request.form() as form:
            report = state.reports.get(int(str(form["id"])))
            upload = form["file"]
            if report is None or report["state"] != "open" or isinstance(upload, str):
                return _answer(4200, "no such open report", 400)
            data = await upload.read()
        file_id = hashlib.sha1(data).hexdigest()[:16]
        report["files"][file_id] = {"bytes": data, "info": None}  # type: ignore[index]
        return _answer(
            0, "Success", reportId=form["id"], fileId=file_id, hash=hashlib.md5(data).hexdigest()
        )

    @app.post("/ispws/fileinfo")
    async def fileinfo(request: Request) -> Response:
        if (denied := await gate(request, "fileinfo")) is not None:
            return denied
        tree = parse(await request.body())
        if tree is None or tree.tag != "fileDetails":
            return _answer(4100, "file details do not validate", 400)
        report = state.reports.get(int(tree.findtext("reportId") or 0))
        file_id = tree.findtext("fileId") or ""
        if report is None or file_id not in report["files"]:  # type: ignore[operator]
            return _answer(4200, "no such file", 400)
        report["files"][file_id]["info"] = tree  # type: ignore[index]
        return _answer(0, "Success")

    @app.post("/ispws/finish")
    async def finish(request: Request) -> Response:
        if (denied := await gate(request, "finish")) is not None:
            return denied
        async with request.form() as form:
            report_id = int(str(form["id"]))
        report = state.reports.get(report_id)
        if report is None or report["state"] != "open":
            return _answer(4200, "no such open report", 400)
        report["state"] = "finished"
        root = etree.Element("reportDoneResponse")
        etree.SubElement(root, "responseCode").text = "0"
        etree.SubElement(root, "reportId").text = str(report_id)
        files = etree.SubElement(root, "files")
        for file_id in report["files"]:  # type: ignore[attr-defined]
            etree.SubElement(files, "fileId").text = file_id
        return Response(etree.tostring(root), media_type="text/xml")

    @app.post("/ispws/retract")
    async def retract(request: Request) -> Response:
        if (denied := await gate(request, "retract")) is not None:
            return denied
        async with request.form() as form:
            report = state.reports.get(int(str(form["id"])))
        if report is None or report["state"] != "open":
            return _answer(4200, "no such open report", 400)
        report["state"] = "retracted"
        return _answer(0, "Success")

    return app, state
