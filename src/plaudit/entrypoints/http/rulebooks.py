"""Rulebook versions, drafts (validated and linted on upload) and publishing as a job."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.ports import DraftRow, JobRow, RulebookRow
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import from_us
from plaudit.domain.errors import NotFound, Problem, RulebookError, TooLarge
from plaudit.entrypoints.http.models import (
    DraftOut,
    DraftSourceOut,
    JobOut,
    RulebookDiffOut,
    RulebookOut,
    RulebookVersionOut,
)
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import operator, service

router = APIRouter(tags=["rulebooks"])
Admin = Annotated[Principal, Depends(operator("admin"))]
Reader = Annotated[Principal, Depends(operator("read"))]
MAX_RULEBOOK_BYTES = 1_000_000
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _time(us: int) -> str:
    return from_us(us).isoformat()


def _version(row: RulebookRow, current: int | None) -> RulebookVersionOut:
    return RulebookVersionOut(version=row.version, program_id=row.program_id,
                              digest=row.digest, published_at=_time(row.published_us),
                              published_by=row.published_by, current=row.version == current)


def _draft(row: DraftRow) -> dict[str, object]:
    return {"draft_id": row.draft_id, "program_id": row.program_id, "digest": row.digest,
            "created_at": _time(row.created_us), "published_version": row.published_version}


def _warnings(svc: Plaudit, row: DraftRow) -> list[dict[str, str]]:
    """The lint's findings on a stored draft (it compiled when uploaded, so it compiles)."""
    return [{"where": w.where, "field": w.field, "reason": w.reason}
            for w in svc.check_rulebook(row.source, "draft.yaml").warnings]


def job_out(row: JobRow) -> JobOut:
    return JobOut(job_id=row.job_id, kind=row.kind, status=row.status,  # type: ignore[arg-type]
                  done=row.done, total=row.total,
                  result=json.loads(row.result) if row.result else None, error=row.error,
                  created_at=_time(row.created_us), updated_at=_time(row.updated_us))


@router.get("/v1/rulebooks", response_model=list[RulebookVersionOut],
            responses=responses(401, 403, 503), summary="Published versions")
def list_rulebooks(request: Request, who: Reader) -> list[RulebookVersionOut]:
    rows = service(request).rulebook_versions()
    current = rows[-1].version if rows else None
    return [_version(r, current) for r in rows]


@router.get("/v1/rulebooks/{version}", response_model=RulebookOut,
            responses=responses(401, 403, 404, 422, 503), summary="One version with its text")
def get_rulebook(request: Request, version: Version, who: Reader) -> RulebookOut:
    svc = service(request)
    rows = svc.rulebook_versions()
    row = next((r for r in rows if r.version == version), None)
    if row is None:
        raise NotFound(f"no rulebook version {version}")
    return RulebookOut(**_version(row, rows[-1].version).model_dump(), source=row.source)


@router.get("/v1/rulebooks/{a}/diff/{b}", response_model=RulebookDiffOut,
            responses=responses(401, 403, 404, 422, 503),
            summary="What changed from one version to another")
def diff_rulebooks(request: Request, a: Version, b: Version, who: Reader) -> RulebookDiffOut:
    """Section by section (factors, bands, tiers, perks, point rules, rewards, badges,
    quests, streaks, leaderboards): each changed value with its path and both values,
    list items matched by `id` (or `name`), and the unified diff of the texts. A version
    against itself: `changed` false, summary `no changes`."""
    return RulebookDiffOut.model_validate(service(request).diff_versions(a, b).to_json())


@router.post(
    "/v1/drafts", status_code=201, response_model=DraftOut,
    responses=responses(401, 403, 413, 422, 503), summary="Upload a draft",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}}}}},
)
async def upload_draft(request: Request, who: Admin) -> DraftOut:
    """Validate and lint a rulebook (YAML text) and keep it as a draft. A refused rulebook
    is a 422 whose `errors` name each problem's line (`where`: `draft.yaml:12`), field and
    reason, with a suggestion when one is close. Nothing changes until it is published."""
    raw = await request.body()
    if len(raw) > MAX_RULEBOOK_BYTES:
        raise TooLarge(f"a rulebook is at most {MAX_RULEBOOK_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RulebookError([Problem("draft.yaml", "", "not UTF-8 text")]) from None
    row = await run_in_threadpool(lambda: service(request).upload_draft(
        text, "draft.yaml", actor=who.key_id))
    return DraftOut.model_validate({**_draft(row), "warnings": await run_in_threadpool(
        _warnings, service(request), row)})


@router.get("/v1/drafts", response_model=list[DraftOut],
            responses=responses(401, 403, 503), summary="Drafts")
def list_drafts(request: Request, who: Admin) -> list[DraftOut]:
    return [DraftOut.model_validate(_draft(r)) for r in service(request).drafts()]


@router.get("/v1/drafts/{draft_id}", response_model=DraftSourceOut,
            responses=responses(401, 403, 404, 422, 503), summary="One draft with its text")
def get_draft(request: Request, draft_id: DraftId, who: Admin) -> DraftSourceOut:
    svc = service(request)
    row = svc.draft(draft_id)
    return DraftSourceOut.model_validate({**_draft(row), "source": row.source,
                                          "warnings": _warnings(svc, row)})


@router.post("/v1/drafts/{draft_id}/publish", status_code=202, response_model=JobOut,
             responses=responses(401, 403, 404, 422, 503), summary="Publish a draft")
def publish_draft(request: Request, draft_id: DraftId, who: Admin,
                  response: Response) -> JobOut:
    """Make the draft the current rulebook and re-fold every member under it, as a job:
    poll `GET /v1/jobs/{job_id}` (also in the `Location` header) for progress. Events keep
    being accepted meanwhile."""
    row = service(request).start_publish(draft_id, actor=who.key_id)
    response.headers["Location"] = f"/v1/jobs/{row.job_id}"
    return job_out(row)


@router.get("/v1/jobs/{job_id}", response_model=JobOut,
            responses=responses(401, 403, 404, 422, 503), summary="A job's progress")
def get_job(request: Request, job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
            who: Admin) -> JobOut:
    return job_out(service(request).jobs.get(job_id))


__all__ = ["router"]
