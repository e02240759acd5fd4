"""Credit policies from the console: the stored versions and the built-ins, and
adding one by pasting or uploading its TOML document (an admin).

The document goes through the same loader as ``amends credits policy add``
(credits.policies.save): refused, the form comes back with each problem's
field and line and nothing is stored; accepted, it is the next version of its
key (the same document twice is one version), and the incident's credits page
offers it at once. Adding is in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from amends.console.access import Guard, Operator, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.credits import policies
from amends.errors import AmendsError
from amends.users import auditlog

router = APIRouter(include_in_schema=False, dependencies=[Guard])
#: A policy is a few dozen lines; anything much bigger is not one.
MAX_BYTES = 64 * 1024


def _described(row: Any) -> str:
    try:
        return policies.load(row).description
    except AmendsError:
        return ""


def _page(
    request: Request, session: Any, me: Operator, status_code: int = 200, **extra: Any
) -> Response:
    stored = [(row, _described(row)) for row in policies.list_policies(session=session)]
    builtin = {key: policies.parse(doc, source=key) for key, doc in policies.BUILTIN.items()}
    extra.setdefault("document", "")
    return render(
        request, "policies.html", me, status_code=status_code, stored=stored, builtin=builtin,
        **extra,
    )  # fmt: skip


@router.get("/console/policies")
def policies_page(
    request: Request, session: SessionDep, me: OperatorDep, added: str = "", incident: str = ""
) -> Response:
    return _page(request, session, me, added=added, incident=incident if incident.isdigit() else "")


@router.post("/console/policies")
def add_policy(
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    document: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    incident: Annotated[str, Form()] = "",
) -> Response:
    """Paste or upload (an uploaded file wins); 303 to the list saying what was stored."""
    incident = incident if incident.isdigit() else ""
    source = "pasted policy"
    if file is not None and file.filename:
        raw = file.file.read(MAX_BYTES + 1)  # sync handler: the database work is off the loop
        source = file.filename[:100]
        try:
            document = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _refused(request, session, me, document, incident, f"{source}: not UTF-8 text")
    if len(document.encode("utf-8")) > MAX_BYTES:
        return _refused(request, session, me, "", incident, f"{source}: larger than 64 KiB")
    if not document.strip():
        return _refused(request, session, me, "", incident, "paste a policy or choose a file")
    try:
        with session.begin_nested():
            known = {(r.key, r.version) for r in policies.list_policies(session=session)}
            row = policies.save(session=session, document=document, source=source)
    except policies.PolicyInvalid as exc:
        return _refused(request, session, me, document, incident, "", exc.problems)
    name = f"{row.key}@{row.version}"
    if (row.key, row.version) not in known:
        auditlog.record(
            session=session, actor=me.email, action="policy.add", target=name,
            detail=f"kind={row.kind} from {source}", ip=me.ip,
        )  # fmt: skip
    query = urlencode({"added": name, **({"incident": incident} if incident else {})})
    return RedirectResponse(f"/console/policies?{query}", status_code=303, headers=HEADERS)


def _refused(
    request: Request, session: Any, me: Operator, document: str, incident: str, error: str,
    problems: list[tuple[int | None, str, str]] | None = None,
) -> Response:  # fmt: skip
    session.expire_all()
    return _page(
        request, session, me, 422, document=document, incident=incident,
        error=error or "The policy was not added: fix the lines below.", problems=problems or [],
    )  # fmt: skip
