from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.core.pagination import Listing, list_page
from apps.core.schema import Page
from apps.core.views import KirokuApi
from apps.projects import members, selectors, services
from apps.projects.access import role_for
from apps.projects.models import Role
from apps.projects.output import MemberOut, ProjectOut, member_out, project_out
from apps.projects.validation import (
    PROJECT_DESCRIPTION_MAX,
    PROJECT_NAME_MAX,
    USERNAME_MAX,
    member_add_clean,
    member_role_clean,
    project_create_clean,
    project_update_clean,
)

PROJECT_EXAMPLE = {
    "slug": "vision",
    "name": "Vision",
    "description": "image models",
    "created_at": "2026-01-01T00:00:00Z",
    "deleted_at": None,
    "baseline": {"mode": "best", "metric": "val/acc", "goal": "max"},
    "primary_metrics": ["val/acc"],
    "service_tokens_outlive_creator": False,
    "role": "admin",
}


TAKEN = OpenApiResponse(description="the slug is taken")
ALREADY_MEMBER = OpenApiResponse(description="the user is already a member")
LAST_ADMIN = OpenApiResponse(description="the project's last admin stays an admin")
PROJECTS = Listing("projects", ("slug",))
MEMBERS = Listing("members", ("user__username",))


# The request serializers below describe the bodies in the OpenAPI schema only; the
# bodies are checked by apps.projects.validation, which the portal's forms share.


class RoleField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=[r.label for r in Role], **kwargs)


class ProjectCreateInput(serializers.Serializer):
    slug = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=PROJECT_NAME_MAX)
    description = serializers.CharField(
        max_length=PROJECT_DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )


class ProjectUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=PROJECT_NAME_MAX, required=False)
    description = serializers.CharField(
        max_length=PROJECT_DESCRIPTION_MAX, required=False, allow_blank=True
    )
    # Checked as apps/projects/comparison.py says.
    baseline = serializers.JSONField(required=False, allow_null=True)
    primary_metrics = serializers.JSONField(required=False, allow_null=True)
    # Off (the default): a service token stops working when its creator leaves.
    service_tokens_outlive_creator = serializers.BooleanField(default=None, allow_null=True)


class ProjectListApi(KirokuApi):
    @extend_schema(
        operation_id="projects_list",
        parameters=PROJECTS.parameters(),
        responses={200: Page[ProjectOut]},
        examples=[
            OpenApiExample(
                "projects", response_only=True, value={"results": [PROJECT_EXAMPLE], "next": None}
            ),
        ],
    )
    def get(self, request):
        projects, next_cursor = list_page(
            request, selectors.project_list_for_principal(principal=self.principal), PROJECTS
        )
        return Response({"results": [project_out(p) for p in projects], "next": next_cursor})

    @extend_schema(
        operation_id="projects_create",
        request=ProjectCreateInput,
        responses={201: ProjectOut, 409: TAKEN},
        examples=[
            OpenApiExample(
                "create",
                request_only=True,
                value={"slug": "vision", "name": "Vision", "description": "image models"},
            ),
            OpenApiExample("created", response_only=True, value=PROJECT_EXAMPLE),
        ],
    )
    def post(self, request):
        data = project_create_clean(request.data)
        project = services.project_create(principal=self.principal, data=data)
        return Response(project_out(project, Role.ADMIN), status=status.HTTP_201_CREATED)


class ProjectDetailApi(KirokuApi):
    @extend_schema(
        operation_id="projects_read",
        responses={200: ProjectOut},
        examples=[
            OpenApiExample("project", response_only=True, value=PROJECT_EXAMPLE),
        ],
    )
    def get(self, request, slug: str):
        project = selectors.project_get_for_principal(principal=self.principal, slug=slug)
        return Response(project_out(project, role_for(self.principal, project)))

    @extend_schema(
        operation_id="projects_update",
        request=ProjectUpdateInput,
        responses={200: ProjectOut},
        examples=[
            OpenApiExample("rename", request_only=True, value={"name": "Vision models"}),
            OpenApiExample(
                "service tokens outlive their creator",
                request_only=True,
                value={"service_tokens_outlive_creator": True},
            ),
            OpenApiExample(
                "comparison settings",
                request_only=True,
                value={
                    "baseline": {"mode": "best", "metric": "val/acc", "goal": "max"},
                    "primary_metrics": ["val/acc", "val/loss"],
                },
            ),
            OpenApiExample("updated", response_only=True, value=PROJECT_EXAMPLE),
        ],
    )
    def patch(self, request, slug: str):
        project = selectors.project_get_for_principal(
            principal=self.principal, slug=slug, needed=Role.ADMIN
        )
        data = project_update_clean(request.data)
        project = services.project_update(principal=self.principal, project=project, data=data)
        return Response(project_out(project))

    @extend_schema(operation_id="projects_delete", responses={204: None})
    def delete(self, request, slug: str):
        project = selectors.project_get_for_principal(
            principal=self.principal, slug=slug, needed=Role.ADMIN
        )
        services.project_delete(principal=self.principal, project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectRestoreApi(KirokuApi):
    @extend_schema(
        operation_id="projects_restore",
        request=None,
        responses={200: ProjectOut},
        examples=[OpenApiExample("restored", response_only=True, value=PROJECT_EXAMPLE)],
    )
    def post(self, request, slug: str):
        project = selectors.project_get_for_principal(
            principal=self.principal, slug=slug, needed=Role.ADMIN, allow_deleted=True
        )
        project = services.project_restore(principal=self.principal, project=project)
        return Response(project_out(project))


class MemberAddInput(serializers.Serializer):
    username = serializers.CharField(max_length=USERNAME_MAX)
    role = RoleField()


class MemberUpdateInput(serializers.Serializer):
    role = RoleField()


MEMBER_EXAMPLE = {"username": "bob", "role": "member", "added_at": "2026-01-01T00:00:00Z"}


class MemberListApi(KirokuApi):
    @extend_schema(
        operation_id="members_list",
        parameters=MEMBERS.parameters(),
        responses={200: Page[MemberOut]},
        examples=[
            OpenApiExample(
                "members", response_only=True, value={"results": [MEMBER_EXAMPLE], "next": None}
            ),
        ],
    )
    def get(self, request, slug: str):
        project = selectors.project_get_for_principal(principal=self.principal, slug=slug)
        members, next_cursor = list_page(request, selectors.member_list(project=project), MEMBERS)
        return Response({"results": [member_out(m) for m in members], "next": next_cursor})

    @extend_schema(
        operation_id="members_add",
        request=MemberAddInput,
        responses={201: MemberOut, 409: ALREADY_MEMBER},
        examples=[
            OpenApiExample("add", request_only=True, value={"username": "bob", "role": "member"}),
            OpenApiExample("added", response_only=True, value=MEMBER_EXAMPLE),
        ],
    )
    def post(self, request, slug: str):
        project = selectors.project_get_for_principal(
            principal=self.principal, slug=slug, needed=Role.ADMIN
        )
        data = member_add_clean(request.data)
        membership = members.member_add(
            principal=self.principal, project=project, username=data.username, role=data.role
        )
        return Response(member_out(membership), status=status.HTTP_201_CREATED)


class MemberDetailApi(KirokuApi):
    @extend_schema(
        operation_id="members_update",
        request=MemberUpdateInput,
        responses={200: MemberOut, 409: LAST_ADMIN},
        examples=[
            OpenApiExample("promote", request_only=True, value={"role": "admin"}),
            OpenApiExample("updated", response_only=True, value=MEMBER_EXAMPLE),
        ],
    )
    def patch(self, request, slug: str, username: str):
        project = selectors.project_get_for_principal(
            principal=self.principal, slug=slug, needed=Role.ADMIN
        )
        data = member_role_clean(request.data)
        membership = members.member_role_change(
            principal=self.principal, project=project, username=username, role=data.role
        )
        return Response(member_out(membership))

    @extend_schema(operation_id="members_remove", responses={204: None, 409: LAST_ADMIN})
    def delete(self, request, slug: str, username: str):
        project = selectors.project_get_for_principal(
            principal=self.principal, slug=slug, needed=Role.ADMIN
        )
        members.member_remove(principal=self.principal, project=project, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)
