"""Rulebooks in the console: the published versions (who published each, when), a
version's text, the diff between two versions, drafts, the editor that checks a draft
and shows each problem at its line, and publishing a draft as a job with its progress.

Reading versions needs `read`; drafts, the editor and publishing need `admin`, as the
API's rulebook routes. The editor checks with the same loader an upload uses
(:meth:`Plaudit.check_rulebook`), so "Check" and "Save as draft" refuse exactly alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.ports import DraftRow, JobRow, RulebookRow
from plaudit.application.service import Plaudit
from plaudit.domain.errors import NotFound, PlauditError, Problem, RulebookError, TooLarge
from plaudit.entrypoints.web.console_base import field, line_of, refused, require, show
from plaudit.entrypoints.web.session import OperatorForm, OperatorPage, back, service
from plaudit.rulebook.source import MAX_RULEBOOK_BYTES

router = APIRouter(include_in_schema=False)
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
REFRESH_SECONDS = 1
"""A running job's page reloads itself this often: the ``Refresh`` header, which browsers
follow like ``<meta http-equiv="refresh">`` but which an accessibility checker does not
take for a page that moves on by itself (the page also links to itself)."""
DRAFT_NAME = "draft.yaml"
"""The name problems carry (``draft.yaml:12``), as for an upload over the API."""


@dataclass(frozen=True)
class Shown:
    """A problem as the editor lists it: the line it names, if any."""

    where: str
    field: str
    reason: str
    suggestion: str | None
    line: int | None


def shown(problems: list[Problem]) -> list[Shown]:
    return [Shown(p.where, p.field, p.reason, p.suggestion, line_of(p.where))
            for p in problems]


# -- published versions -------------------------------------------------------------------

def _versions(svc: Plaudit, admin: bool) -> tuple[list[RulebookRow], list[DraftRow]]:
    return svc.rulebook_versions()[::-1], svc.drafts()[::-1] if admin else []


@router.get("/rulebooks")
async def rulebooks(request: Request, session: OperatorPage) -> Response:
    require(session, "read")
    versions, drafts = await run_in_threadpool(_versions, service(request),
                                               session.has("admin"))
    return show(request, "console/rulebooks.html", session, "rulebooks", versions=versions,
                drafts=drafts, current=versions[0].version if versions else None)


@router.get("/rulebooks/diff")
async def diff(request: Request, session: OperatorPage,
               a: Annotated[int, Query(ge=1, le=2**31 - 1)],
               b: Annotated[int, Query(ge=1, le=2**31 - 1)]) -> Response:
    require(session, "read")
    result = await run_in_threadpool(service(request).diff_versions, a, b)
    return show(request, "console/diff.html", session, "rulebooks", diff=result, a=a, b=b,
                lines=result.text.splitlines())


@router.get("/rulebooks/{version}")
async def version(request: Request, version: Version, session: OperatorPage) -> Response:
    require(session, "read")
    rows = await run_in_threadpool(service(request).rulebook_versions)
    row = next((r for r in rows if r.version == version), None)
    if row is None:
        raise NotFound(f"no rulebook version {version}")
    return show(request, "console/version.html", session, "rulebooks", row=row,
                current=rows[-1].version)


# -- drafts ------------------------------------------------------------------------------

def _draft_view(svc: Plaudit, draft_id: int) -> tuple[DraftRow, list[Shown]]:
    row = svc.draft(draft_id)
    warnings = svc.check_rulebook(row.source, DRAFT_NAME).warnings
    return row, shown(list(warnings))


@router.get("/drafts/{draft_id}")
async def draft(request: Request, draft_id: DraftId, session: OperatorPage) -> Response:
    require(session, "admin")
    row, warnings = await run_in_threadpool(_draft_view, service(request), draft_id)
    return show(request, "console/draft.html", session, "rulebooks", row=row,
                warnings=warnings)


# -- the editor --------------------------------------------------------------------------

def _start_text(svc: Plaudit, draft_id: int | None, version: int | None
                ) -> tuple[str, str]:
    """The text the editor opens with, and what it is (a draft, a version, the current)."""
    if draft_id is not None:
        return svc.draft(draft_id).source, f"draft {draft_id}"
    with svc.store.read() as tx:
        row = tx.rulebook(version) if version is not None else tx.current_rulebook()
    if row is None:
        if version is not None:
            raise NotFound(f"no rulebook version {version}")
        return "", "an empty rulebook"
    return row.source, f"version {row.version}"


@router.get("/editor")
async def editor(request: Request, session: OperatorPage,
                 draft: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                 version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
                 ) -> Response:
    require(session, "admin")
    text, basis = await run_in_threadpool(_start_text, service(request), draft, version)
    return show(request, "console/editor.html", session, "editor", text=text, basis=basis,
                checked=False, problems=[], warnings=[], summary=None)


def _summary(svc: Plaudit, text: str) -> tuple[dict[str, Any] | None, list[Shown],
                                               list[Shown]]:
    """What the rulebook holds, its warnings; or its problems (refused)."""
    try:
        rb = svc.check_rulebook(text, DRAFT_NAME)
    except RulebookError as e:
        return None, shown(e.problems), []
    summary = {"program": rb.program.id, "events": len(rb.events), "rules": len(rb.rules),
               "factors": len(rb.score.factors) if rb.score else 0,
               "tiers": len(rb.tiers.levels) if rb.tiers else 0, "perks": len(rb.perks)}
    return summary, [], shown(list(rb.warnings))


@router.post("/editor")
async def editor_action(request: Request, session: OperatorForm) -> Response:
    """``action=check`` shows the text's problems at their lines (nothing is stored);
    ``action=save`` also keeps it as a draft when it has none (``upload_draft``, audited).
    A refused text comes back in the editor, as typed, with its problems: 422."""
    require(session, "admin")
    action = field(session, "action", 10)
    if action not in ("check", "save"):
        return show(request, "error.html", session, "editor", 422, title="Form refused",
                    detail="action must be check or save", errors=[])
    text = field(session, "text", 2 * MAX_RULEBOOK_BYTES, required=False).replace(
        "\r\n", "\n")
    basis = field(session, "basis", 100, required=False) or "your text"
    if len(text.encode()) > MAX_RULEBOOK_BYTES:
        raise TooLarge(f"a rulebook is at most {MAX_RULEBOOK_BYTES} bytes")
    svc = service(request)
    summary, problems, warnings = await run_in_threadpool(_summary, svc, text)
    if action == "save" and not problems:
        try:
            row = await run_in_threadpool(lambda: svc.upload_draft(
                text, DRAFT_NAME, actor=session.actor))
        except PlauditError as e:
            return refused("/console/editor", e)
        return back(f"/console/drafts/{row.draft_id}", f"Saved as draft {row.draft_id}"
                    + (f", with {len(warnings)} warning(s)." if warnings else "."))
    return show(request, "console/editor.html", session, "editor",
                422 if problems else 200, text=text, basis=basis, checked=True,
                problems=problems, warnings=warnings, summary=summary)


# -- publishing --------------------------------------------------------------------------

@router.get("/drafts/{draft_id}/publish")
async def publish_confirm(request: Request, draft_id: DraftId, session: OperatorPage
                          ) -> Response:
    require(session, "admin")
    svc = service(request)
    row = await run_in_threadpool(svc.draft, draft_id)
    versions = await run_in_threadpool(svc.rulebook_versions)
    current = versions[-1].version if versions else None
    return show(request, "console/publish.html", session, "rulebooks", row=row,
                current=current)


@router.post("/drafts/{draft_id}/publish")
async def publish(request: Request, draft_id: DraftId, session: OperatorForm) -> Response:
    """As ``POST /v1/drafts/{id}/publish``: the re-fold runs as a job; the job's page
    shows its progress."""
    require(session, "admin")
    svc = service(request)
    try:
        await run_in_threadpool(svc.draft, draft_id)
    except PlauditError as e:
        return refused("/console/rulebooks", e)
    actor = session.actor
    row = await run_in_threadpool(lambda: svc.start_publish(draft_id, actor=actor))
    return back(f"/console/jobs/{row.job_id}", f"Publishing draft {draft_id}…")


@router.get("/jobs/{job_id}")
async def job(request: Request, job_id: JobId, session: OperatorPage) -> Response:
    require(session, "admin")
    row: JobRow = await run_in_threadpool(service(request).jobs.get, job_id)
    if row.kind == "backtest":
        return back(f"/console/backtests/{job_id}")
    result = json.loads(row.result) if row.result else None
    response = show(request, "console/job.html", session, "rulebooks", job=row,
                    result=result)
    if row.status == "running":
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


__all__ = ["router", "shown"]
