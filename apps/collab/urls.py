from django.urls import path

from apps.collab.api import (
    CommentApi,
    CommentRepliesApi,
    RunCommentsApi,
    RunShareLinksApi,
    ShareLinkApi,
)

urlpatterns = [
    path("runs/<str:run_id>/comments", RunCommentsApi.as_view(), name="run-comments"),
    path("comments/<str:comment_id>", CommentApi.as_view(), name="comment"),
    path("comments/<str:comment_id>/replies", CommentRepliesApi.as_view(), name="comment-replies"),
    path("runs/<str:run_id>/share-links", RunShareLinksApi.as_view(), name="run-share-links"),
    path("share-links/<str:link_id>", ShareLinkApi.as_view(), name="share-link"),
]
