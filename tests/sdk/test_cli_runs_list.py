"""``kiroku runs list``: the project from ``-p``, ``KIROKU_PROJECT`` or ``kiroku login
--project``; a header row and the project's primary metrics; ``--filter``,
``--order-by``, ``--columns`` and ``--json``."""

from __future__ import annotations

import json

import kiroku
import pytest
from kiroku.cli import main
from kiroku.settings import credentials_read


@pytest.fixture
def runs(settings, project) -> list[kiroku.Run]:
    project.primary_metrics = ["acc", "loss"]
    project.save(update_fields=["primary_metrics"])
    made = []
    for index, (acc, lr) in enumerate([(0.7, 0.1), (0.9, 0.2), (0.8, 0.3)]):
        with kiroku.init(
            name=f"r{index}",
            config={"lr": lr},
            tags={"team": "perception"},
            capture=False,
            settings=settings,
            quiet=True,
        ) as run:
            run.log({"acc": acc, "loss": 1 - acc, "other": 1.0})
        made.append(run)
    return made


@pytest.fixture
def logged_in(server, token, monkeypatch):
    monkeypatch.setenv("KIROKU_URL", server)
    monkeypatch.setenv("KIROKU_TOKEN", token)


def out_lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_the_table_has_a_header_and_the_projects_primary_metrics(runs, logged_in, capsys):
    assert main(["runs", "list", "-p", "vision", "--order-by", "name"]) == 0

    lines = out_lines(capsys)
    assert lines[0].split() == [
        *("ID", "NAME", "STATUS", "CREATED", "AUTHOR"),
        *("metrics.acc", "metrics.loss"),
    ]
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1], r[2], r[5], r[6], r[7]) for r in rows] == [
        (runs[0].id, "r0", "FINISHED", "bob_member", "0.7", "0.3"),
        (runs[1].id, "r1", "FINISHED", "bob_member", "0.9", "0.1"),
        (runs[2].id, "r2", "FINISHED", "bob_member", "0.8", "0.2"),
    ]


def test_filter_order_by_and_columns_shape_the_table(runs, logged_in, capsys):
    argv = ["runs", "list", "-p", "vision", "--filter", "metrics.acc > 0.75"]
    argv += ["--order-by", "metrics.acc DESC", "--columns", "name,metrics.acc,params.lr,tags.team"]

    assert main(argv) == 0

    assert out_lines(capsys) == [
        f"{'ID':<32}  NAME  metrics.acc  params.lr  tags.team",
        f"{runs[1].id}  r1            0.9  0.2        perception",
        f"{runs[2].id}  r2            0.8  0.3        perception",
    ]


def test_json_prints_one_object_per_run_with_the_columns_asked_for(runs, logged_in, capsys):
    argv = ["runs", "list", "-p", "vision", "--order-by", "name", "--json"]

    assert main([*argv, "--columns", "metrics.acc"]) == 0

    found = [json.loads(line) for line in out_lines(capsys)]
    assert [(r["id"], list(r["metrics"]), r["params"]) for r in found] == [
        (run.id, ["acc"], {}) for run in runs
    ]


def test_the_project_comes_from_kiroku_project(runs, logged_in, monkeypatch, capsys):
    monkeypatch.setenv("KIROKU_PROJECT", "vision")

    assert main(["runs", "list", "--columns", "name", "--order-by", "name"]) == 0

    assert [line.split()[-1] for line in out_lines(capsys)] == ["NAME", "r0", "r1", "r2"]


def test_login_project_is_saved_and_used_by_runs_list(runs, server, token, capsys):
    assert main(["login", "--url", server, "--token", token, "--project", "vision"]) == 0
    assert "personal token 'test'. Default project: vision. Saved to" in capsys.readouterr().out
    assert credentials_read() == {"url": server, "token": token, "project": "vision"}

    assert main(["runs", "list", "--columns", "name", "--order-by", "name"]) == 0

    assert [line.split()[-1] for line in out_lines(capsys)] == ["NAME", "r0", "r1", "r2"]


def test_logging_in_again_keeps_the_saved_project(server, token, project):
    main(["login", "--url", server, "--token", token, "--project", "vision"])

    assert main(["login", "--url", server, "--token", token]) == 0

    assert credentials_read()["project"] == "vision"


def test_login_refuses_a_project_the_token_cannot_see(server, token, project, capsys):
    assert main(["login", "--url", server, "--token", token, "--project", "nlp"]) == 1

    assert capsys.readouterr().err == (
        "kiroku: error: project 'nlp' does not exist or this token cannot see it; the token "
        "can see: vision\n"
    )
    assert credentials_read() == {}


def test_a_wrong_project_names_the_ones_the_token_can_see(runs, logged_in, capsys):
    assert main(["runs", "list", "-p", "visoin"]) == 1

    assert capsys.readouterr().err == (
        "kiroku: error: project 'visoin' does not exist or this token cannot see it; the token "
        "can see: vision (did you mean 'vision'?)\n"
    )


def test_no_project_says_where_one_comes_from(logged_in, capsys):
    assert main(["runs", "list"]) == 2

    assert capsys.readouterr().err == (
        "kiroku: error: which project? pass -p/--project, set KIROKU_PROJECT, or save one "
        "with `kiroku login --project SLUG`\n"
    )


def test_an_unknown_column_is_a_usage_error(logged_in, capsys):
    assert main(["runs", "list", "-p", "vision", "--columns", "name,accuracy"]) == 2

    assert capsys.readouterr().err == (
        "kiroku: error: unknown column 'accuracy': use params.<key>, metrics.<key>, tags.<key> "
        "or one of name, status, created, started, ended, duration, author, group\n"
    )


def test_no_match_says_so(runs, logged_in, capsys):
    assert main(["runs", "list", "-p", "vision", "--filter", "metrics.acc > 2"]) == 0

    assert out_lines(capsys) == ["No runs in vision match the filter."]
