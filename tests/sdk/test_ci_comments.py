"""The pull request comment upsert, against a loopback GitHub API (tests/sdk/fake_github.py)
that checks tokens, repositories, issues and bodies the way GitHub does."""

from __future__ import annotations

import pytest
from kiroku.ci import comments
from kiroku.ci.comments import (
    MARKER_PREFIX,
    CommentError,
    CommentResult,
    comment_marker,
    comment_upsert,
)
from kiroku.version import __version__

from tests.sdk.fake_github import BOT_LOGIN, FakeGitHub

REPO = "octo/vision"
PR = 42
MARKER = "<!-- kiroku-report:evaluate -->"


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    monkeypatch.setattr(comments, "RETRY_BASE_SECONDS", 0.01)


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_issue(REPO, PR)
    return fake_github


def _upsert(github: FakeGitHub, body: str, **overrides) -> CommentResult | None:
    kwargs = {
        "api_url": github.url,
        "token": "ghs_test",
        "repository": REPO,
        "pr": PR,
        "marker": MARKER,
        "body": body,
        "timeout": 5.0,
        **overrides,
    }
    return comment_upsert(**kwargs)


def _ours(github: FakeGitHub, marker: str = MARKER) -> list:
    return [c for c in github.on(REPO, PR) if marker in c.body]


def _html_url(comment_id: int) -> str:
    return f"https://github.com/{REPO}/pull/{PR}#issuecomment-{comment_id}"


# -- the marker ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step_name", "marker"),
    [
        ("evaluate", "<!-- kiroku-report:evaluate -->"),
        ("eval (gpu, py3.11)", "<!-- kiroku-report:eval (gpu, py3.11) -->"),
        ("ci/eval@main+1", "<!-- kiroku-report:ci/eval@main+1 -->"),
        ("a--b---c", "<!-- kiroku-report:a-b-c -->"),
        ("x --> <script>", "<!-- kiroku-report:x -_ _script_ -->"),
        ("  two\n lines\t", "<!-- kiroku-report:two lines -->"),
        ("評価 #1!", "<!-- kiroku-report:評価 _1_ -->"),
        ("", "<!-- kiroku-report:report -->"),
        ("s" * 150, f"<!-- kiroku-report:{'s' * 100} -->"),
    ],
)
def test_comment_marker_makes_the_name_safe(step_name, marker):
    assert comment_marker(step_name) == marker
    assert comment_marker(step_name).startswith(MARKER_PREFIX)


# -- create, update, unchanged -------------------------------------------------------


def test_the_first_report_creates_the_comment_with_the_marker_first(github):
    result = _upsert(github, "### ✅ Kiroku: ci-eval passed\n")
    (comment,) = github.on(REPO, PR)
    assert result == CommentResult("created", comment.id, _html_url(comment.id))
    assert comment.body == f"{MARKER}\n### ✅ Kiroku: ci-eval passed\n"
    assert comment.login == BOT_LOGIN


def test_the_request_carries_githubs_headers(github):
    _upsert(github, "body")
    headers = github.calls("POST")[0].headers
    assert headers["authorization"] == "Bearer ghs_test"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"] == f"kiroku-python/{__version__}"
    assert github.calls("GET")[0].query == {"per_page": "100"}


def test_the_second_report_updates_the_same_comment(github):
    created = _upsert(github, "first")
    updated = _upsert(github, "second")
    assert updated == CommentResult("updated", created.id, created.url)
    assert [c.body for c in _ours(github)] == [f"{MARKER}\nsecond"]
    assert [r.json for r in github.calls("PATCH")] == [{"body": f"{MARKER}\nsecond"}]
    assert github.calls("PATCH")[0].path == f"/repos/{REPO}/issues/comments/{created.id}"


def test_the_same_body_again_is_left_unchanged(github):
    created = _upsert(github, "same")
    again = _upsert(github, "same")
    assert again == CommentResult("unchanged", created.id, created.url)
    assert github.calls("PATCH") == []
    assert len(github.calls("POST")) == 1


def test_without_create_an_existing_comment_is_updated_but_none_is_created(github):
    assert _upsert(github, "first", create=False) is None
    assert github.calls("POST") == []
    created = _upsert(github, "first")
    assert _upsert(github, "second", create=False) == CommentResult(
        "updated", created.id, created.url
    )


def test_a_body_that_already_starts_with_the_marker_is_not_marked_twice(github):
    _upsert(github, f"{MARKER}\nbody")
    assert [c.body for c in github.on(REPO, PR)] == [f"{MARKER}\nbody"]


def test_the_marker_is_found_on_a_later_page(github):
    for i in range(150):
        github.add_comment(REPO, PR, f"chatter {i}")
    created = _upsert(github, "first")
    for i in range(10):
        github.add_comment(REPO, PR, f"more chatter {i}")
    updated = _upsert(github, "second")
    assert updated == CommentResult("updated", created.id, created.url)
    assert len(_ours(github)) == 1
    pages = [r.query.get("page") for r in github.calls("GET")]
    assert pages == [None, "2", None, "2"]


def test_a_comment_that_only_quotes_the_marker_is_not_ours(github):
    github.add_comment(REPO, PR, f"> {MARKER}\n> what does this mean?")
    _upsert(github, "report")
    assert [c.body for c in github.on(REPO, PR)] == [
        f"> {MARKER}\n> what does this mean?",
        f"{MARKER}\nreport",
    ]


def test_two_step_names_keep_two_comments(github):
    gpu, cpu = comment_marker("eval-gpu"), comment_marker("eval-cpu")
    _upsert(github, "gpu 1", marker=gpu)
    _upsert(github, "cpu 1", marker=cpu)
    _upsert(github, "gpu 2", marker=gpu)
    assert [c.body for c in github.on(REPO, PR)] == [f"{gpu}\ngpu 2", f"{cpu}\ncpu 1"]


def test_a_marker_that_is_a_prefix_of_another_steps_marker_does_not_match_it(github):
    _upsert(github, "eval 2", marker=comment_marker("eval2"))
    _upsert(github, "eval", marker=comment_marker("eval"))
    assert len(github.on(REPO, PR)) == 2


# -- GitHub refuses --------------------------------------------------------------------


def test_a_bad_token_is_refused_with_githubs_message(github):
    with pytest.raises(CommentError) as caught:
        _upsert(github, "body", token="ghs_wrong")
    assert caught.value.message == (
        "GitHub refused the comment (401: Bad credentials); "
        "check the github-token input (the job's GITHUB_TOKEN)"
    )
    assert caught.value.status == 401
    assert len(github.requests) == 1  # a refusal is not retried


def test_a_read_only_token_is_told_to_ask_for_write_permission(github):
    github.read_only_tokens.add("ghs_test")
    with pytest.raises(CommentError) as caught:
        _upsert(github, "body")
    assert str(caught.value) == (
        "GitHub refused the comment (403: Resource not accessible by integration); "
        "give the job `permissions: pull-requests: write`"
    )
    assert github.on(REPO, PR) == []


def test_an_unknown_pull_request_says_which(github):
    with pytest.raises(CommentError) as caught:
        _upsert(github, "body", pr=7)
    assert str(caught.value) == (
        "GitHub refused the comment (404: Not Found); "
        "check that octo/vision has pull request #7 and that the token can read it"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"repository": "octo"}, "repository 'octo' is not owner/name"),
        ({"repository": "octo/vision/../x"}, "repository 'octo/vision/../x' is not owner/name"),
        ({"pr": 0}, "pull request number 0 is not a positive integer"),
    ],
)
def test_a_repository_or_pr_that_cannot_be_right_sends_nothing(github, overrides, message):
    with pytest.raises(CommentError, match="^" + message.replace("(", r"\(") + "$"):
        _upsert(github, "body", **overrides)
    assert github.requests == []


# -- transient failures ----------------------------------------------------------------


def test_a_502_is_retried(github):
    github.fail_next(1, status=502)
    result = _upsert(github, "body")
    assert result.action == "created"
    assert [r.method for r in github.requests] == ["GET", "GET", "POST"]


def test_a_lost_post_answer_does_not_make_a_second_comment(github, monkeypatch):
    original = FakeGitHub.handle

    def answer_then_fail_once(self, request, raw):
        status, answer, headers = original(self, request, raw)
        if request.method == "POST" and len(self.calls("POST")) == 1:
            return 502, {"message": "Server Error"}, {}
        return status, answer, headers

    monkeypatch.setattr(FakeGitHub, "handle", answer_then_fail_once)
    result = _upsert(github, "body")
    (comment,) = github.on(REPO, PR)
    assert result == CommentResult("created", comment.id, _html_url(comment.id))
    assert [r.method for r in github.requests] == ["GET", "POST", "GET"]


def test_persistent_failure_gives_up_after_three_tries(github):
    github.fail_next(5, status=503)
    with pytest.raises(CommentError) as caught:
        _upsert(github, "body")
    assert str(caught.value) == "GitHub kept failing (503: Server Error) after 3 tries"
    assert len(github.requests) == 3


def test_retry_after_is_honoured_up_to_the_cap(github, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(comments.time, "sleep", slept.append)
    github.fail_next(1, status=429, retry_after=2)
    github.fail_next(1, status=503, retry_after=120)
    assert _upsert(github, "body").action == "created"
    assert slept == [2.0, 10.0]


def test_an_unreachable_api_is_reported(github):
    github.stop()
    with pytest.raises(CommentError) as caught:
        _upsert(github, "body", timeout=1.0)
    assert caught.value.message.startswith(f"GitHub kept failing (cannot reach {github.url}: ")
    assert caught.value.message.endswith(") after 3 tries")


# -- GitHub Enterprise and size --------------------------------------------------------


def test_github_enterprise_api_url_with_a_path_prefix():
    with FakeGitHub(prefix="/api/v3") as ghes:
        ghes.add_issue(REPO, PR)
        for i in range(120):
            ghes.add_comment(REPO, PR, f"chatter {i}")
        created = _upsert(ghes, "first", api_url=ghes.url + "/")
        updated = _upsert(ghes, "second", api_url=ghes.url)
    assert ghes.url.endswith("/api/v3")
    assert (created.action, updated.action, updated.id) == ("created", "updated", created.id)
    assert {r.path.split("/repos/")[0] for r in ghes.requests} == {"/api/v3"}


def test_an_oversized_body_is_cut_at_a_line_end_under_githubs_limit(github):
    row = "| eval/metric | 0.5 | 0.6 | +0.1 (+20.0%) ▲ better | ✅ |\n"
    body = "### ❌ Kiroku: regression in ci-eval\n\n" + row * 2_000
    result = _upsert(github, body)
    (comment,) = github.on(REPO, PR)
    assert result.action == "created"
    assert len(comment.body) <= 65_536
    kept = comment.body.count(row)
    assert comment.body == (
        f"{MARKER}\n### ❌ Kiroku: regression in ci-eval\n\n"
        + row * kept
        + f"\n… table cut: {2_000 - kept} more lines; see the run in Kiroku\n"
    )
    assert len(comment.body) + len(row) > 65_536  # no room for one more row
