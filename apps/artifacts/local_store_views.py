"""``/store/<ticket>``: the local store's transfers. The signed ticket in the URL is
the credential, as a presigned URL is for S3; no bearer token is read."""

from __future__ import annotations

from django.http import FileResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.artifacts import services
from apps.artifacts.storage.base import UploadProblem
from apps.artifacts.storage.local import Ticket, TicketInvalid
from apps.core.errors import Forbidden, Invalid
from apps.core.ids import integer_parse
from apps.core.throttles import ClientIpRateThrottle


class HasStoreTicket(BasePermission):
    """The URL's ticket is genuine, unexpired and for this method; it is kept on the
    request for the view."""

    def has_permission(self, request, view) -> bool:
        try:
            ticket = Ticket.open(view.kwargs.get("ticket", ""))
        except TicketInvalid as exc:
            raise Forbidden(str(exc), code="link_invalid") from None
        wanted = {"PUT": {"put", "part"}, "GET": {"get"}, "HEAD": {"get"}}
        if ticket.op not in wanted.get(request.method, set()):
            raise Forbidden("this link is not for this method", code="link_invalid")
        request.store_ticket = ticket
        return True


@extend_schema(exclude=True)  # a transfer endpoint for presigned-style links, not the API
class StoreTransferApi(APIView):
    authentication_classes: list = []
    permission_classes = [HasStoreTicket]
    # The body is read as a stream by the store, never parsed.
    parser_classes: list = []
    # The ticket was issued by a token-throttled API call, and one large upload or a
    # folder's download is many transfers: only the per-address ceiling applies, not
    # the rate for requests without credentials.
    throttle_classes = [ClientIpRateThrottle]

    def put(self, request, ticket: str):
        length = request.META.get("CONTENT_LENGTH") or ""
        declared = integer_parse(length)
        if declared is not None and declared >= 0:
            content_length: int | None = declared
        else:
            # No length and no chunked body is an empty body in HTTP/1.1.
            chunked = "HTTP_TRANSFER_ENCODING" in request.META
            content_length = None if chunked or length else 0
        try:
            etag = services.artifact_receive(
                ticket=request.store_ticket,
                stream=request.stream,
                content_length=content_length,
            )
        except UploadProblem as problem:
            raise Invalid(problem.message, code=problem.code) from None
        return Response(status=200, headers={"ETag": etag})

    def get(self, request, ticket: str):
        found = services.artifact_open_for_download(ticket=request.store_ticket)
        ticket_data = request.store_ticket
        response = FileResponse(found, content_type=ticket_data.content_type)
        response["Content-Disposition"] = content_disposition_header(
            ticket_data.attachment, ticket_data.filename
        )
        response["X-Content-Type-Options"] = "nosniff"
        # Even a file opened in the browser cannot run script against this origin.
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        response["Cache-Control"] = "private, no-store"
        return response
