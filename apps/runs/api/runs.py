from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.views import KirokuApi, query_int
from apps.projects.models import Role
from apps.projects.selectors import project_get_for_principal
from apps.runs import search, selectors, services
from apps.runs.api import examples
from apps.runs.api.output import HeartbeatOut, RunOut, RunSearchOut, run_out
from apps.runs.columns import columns_parse, columns_prefetch
from apps.runs.keys import filter_key_hints
from apps.runs.validation import run_create_clean, run_finish_clean, run_update_clean


class ProjectRunsApi(KirokuApi):
    """Create runs in a project, and search them."""

    @extend_schema(
        operation_id="runs_create",
        request=dict,
        responses={
            200: RunOut,
            201: RunOut,
            409: OpenApiResponse(description="`client_id` belongs to a deleted run."),
        },
        examples=[examples.RUN_CREATE_REQUEST, examples.RUN_RESPONSE],
        description="Create a run. With a `client_id` already used in the project, the "
        "existing run is returned with 200 instead of a duplicate.",
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_principal(principal=self.principal, slug=slug, needed=Role.MEMBER)
        data = run_create_clean(request.data)
        run, created = services.run_create(principal=self.principal, project=project, data=data)
        return Response(
            run_out(run, detail=True),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="runs_search",
        parameters=[
            OpenApiParameter(
                "filter",
                str,
                description="search language, e.g. "
                "`metrics.acc > 0.9 and params.optimizer = 'adam'`",
            ),
            OpenApiParameter("order_by", str, description="e.g. `metrics.acc DESC`"),
            OpenApiParameter("page_size", int, description="1 to 1000 (default 100)"),
            OpenApiParameter("cursor", str, description="the `next` of the previous page"),
            OpenApiParameter(
                "columns",
                str,
                description="comma-separated params./metrics./tags. keys to return (at most "
                "200); without it, each run's first 100 keys of each kind, and `truncated` "
                "says which kinds hold more",
            ),
        ],
        description="One page of the project's runs that `filter` matches. When a filter "
        "matches nothing, the answer also carries `hints`: each metric, param or tag key "
        "the filter names that no run of the project has (`code` `unknown_key`, "
        "`message`, `kind`, `key`, `column`), with the `closest` existing keys.",
        responses={200: RunSearchOut},
        examples=[examples.RUN_SEARCH_RESPONSE],
    )
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for_principal(principal=self.principal, slug=slug)
        page_size = query_int(
            request, "page_size", default=100, minimum=1, maximum=search.MAX_PAGE_SIZE
        )
        columns = columns_parse(request.query_params.get("columns"))
        runs, next_cursor = search.runs_search(
            queryset=selectors.run_list_for_project(project=project),
            filter=request.query_params.get("filter", ""),
            order_by=request.query_params.get("order_by", ""),
            page_size=page_size,
            cursor=request.query_params.get("cursor") or None,
        )
        selectors.runs_attach_listing(runs=runs, project=project)
        chosen = columns_prefetch(runs, columns)
        results = [run_out(run, **chosen.for_run(run)) for run in runs]
        body: RunSearchOut = {"results": results, "next": next_cursor}
        filter_text = request.query_params.get("filter", "")
        if not results and filter_text and not request.query_params.get("cursor"):
            node = search.parse_filter(filter_text)
            hints = filter_key_hints(project=project, node=node)
            body["hints"] = [hint.as_dict() for hint in hints]
        return Response(body)


class RunDetailApi(KirokuApi):
    @extend_schema(
        operation_id="runs_read", responses={200: RunOut}, examples=[examples.RUN_RESPONSE]
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(principal=self.principal, run_id=run_id)
        return Response(run_out(run, detail=True))

    @extend_schema(
        operation_id="runs_update",
        request=dict,
        responses={200: RunOut},
        examples=[
            OpenApiExample(
                "edit",
                request_only=True,
                value={
                    "name": "resnet50-final",
                    "notes": "best so far",
                    "tags": {"stage": "prod", "obsolete": None},
                },
            ),
            examples.RUN_RESPONSE,
        ],
    )
    def patch(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, needed=Role.MEMBER
        )
        data = run_update_clean(request.data)
        run = services.run_update(principal=self.principal, run=run, data=data)
        return Response(run_out(run, detail=True))

    @extend_schema(
        operation_id="runs_delete",
        responses={204: None},
        description="Soft-delete (admins). Restore with POST .../restore.",
    )
    def delete(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, needed=Role.ADMIN
        )
        services.run_delete(principal=self.principal, run=run)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunRestoreApi(KirokuApi):
    @extend_schema(
        operation_id="runs_restore",
        request=None,
        responses={200: RunOut},
        examples=[examples.RUN_RESPONSE],
    )
    def post(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, needed=Role.ADMIN, include_deleted=True
        )
        run = services.run_restore(principal=self.principal, run=run)
        return Response(run_out(run, detail=True))


class RunFinishApi(KirokuApi):
    @extend_schema(
        operation_id="runs_finish",
        request=dict,
        responses={
            200: RunOut,
            409: OpenApiResponse(description="The run has ended with another status."),
        },
        examples=[
            OpenApiExample(
                "finish",
                request_only=True,
                value={"status": "finished", "summary": {"best_acc": 0.93}},
            ),
            examples.RUN_RESPONSE,
        ],
    )
    def post(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, needed=Role.MEMBER
        )
        data = run_finish_clean(request.data)
        run = services.run_finish(principal=self.principal, run=run, data=data)
        return Response(run_out(run, detail=True))


class RunResumeApi(KirokuApi):
    @extend_schema(
        operation_id="runs_resume",
        request=None,
        responses={200: RunOut},
        examples=[examples.RUN_RESPONSE],
        description="Reopen an ended or crashed run (status back to RUNNING) so its client "
        "can log to it again; a RUNNING run is left as it is.",
    )
    def post(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, needed=Role.MEMBER
        )
        run = services.run_resume(principal=self.principal, run=run)
        return Response(run_out(run, detail=True))


class RunHeartbeatApi(KirokuApi):
    @extend_schema(
        operation_id="runs_heartbeat",
        request=None,
        responses={200: HeartbeatOut},
        examples=[
            OpenApiExample(
                "alive",
                response_only=True,
                value={
                    "id": "9f1c2e4b7a8d4e6f9a0b1c2d3e4f5a6b",
                    "status": "RUNNING",
                    "heartbeat_at": "2026-01-01T00:00:00Z",
                },
            )
        ],
    )
    def post(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for_principal(
            principal=self.principal, run_id=run_id, needed=Role.MEMBER
        )
        run = services.run_heartbeat(principal=self.principal, run=run)
        return Response(
            {"id": run.public_id, "status": run.status, "heartbeat_at": run.heartbeat_at}
        )
