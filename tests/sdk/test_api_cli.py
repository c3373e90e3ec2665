"""Reading runs back (kiroku.Api) and the ``kiroku`` command."""

from __future__ import annotations

import math
import stat
import subprocess
import sys
from pathlib import Path

import kiroku
import pytest
from kiroku.cli import main
from kiroku.settings import credentials_path, credentials_read

from tests.sdk.proxy import dead_url


@pytest.fixture
def three_runs(settings) -> list[kiroku.Run]:
    runs = []
    for index, acc in enumerate([0.7, 0.9, 0.8]):
        with kiroku.init(
            name=f"r{index}", config={"lr": 0.1 * (index + 1)}, capture=False, settings=settings
        ) as run:
            for step in range(20):
                run.log({"acc": acc * step / 19, "odd": math.nan if step % 2 else step})
            run.summary["best"] = acc
        runs.append(run)
    return runs


def test_runs_are_searched_sorted_and_paged(reader, three_runs):
    found = reader.runs(
        "vision", filter="metrics.acc > 0.75", order_by="metrics.acc DESC", page_size=1
    )
    assert [(r.name, r.metrics["acc"]) for r in found] == [("r1", 0.9), ("r2", 0.8)]
    assert [r.name for r in reader.runs("vision", order_by="name")] == ["r0", "r1", "r2"]


def test_a_run_reads_params_summary_metrics_and_history(reader, three_runs):
    (run,) = reader.runs("vision", filter="name = 'r1'")
    assert run.params == {"lr": "0.2"}
    assert run.summary == {"best": 0.9}  # fetched on first use
    assert run.metrics["acc"] == 0.9
    assert math.isnan(run.metrics["odd"])
    full = run.history("acc")
    assert len(full) == 20 and full[-1] == {**full[-1], "step": 19, "value": 0.9}
    assert len(run.history("acc", max_points=5)) <= 5
    odd = run.history("odd")
    assert math.isnan(odd[1]["value"]) and odd[2]["value"] == 2.0


def test_runs_to_pandas(reader, three_runs):
    pytest.importorskip("pandas")
    frame = reader.runs("vision", order_by="name").to_pandas()
    assert list(frame["name"]) == ["r0", "r1", "r2"]
    assert list(frame["metrics.acc"]) == [0.7, 0.9, 0.8]


def test_a_bad_filter_is_an_input_error(reader):
    with pytest.raises(kiroku.InvalidInput, match="filter"):
        list(reader.runs("vision", filter="metrics.acc >"))


# -- the command ---------------------------------------------------------------------


def test_login_checks_the_token_says_who_you_are_and_saves_it(server, token, capsys):
    assert main(["login", "--url", server, "--token", token]) == 0
    out = capsys.readouterr().out
    assert f"Logged in to {server} as bob_member" in out
    assert credentials_read() == {"url": server, "token": token}
    assert stat.S_IMODE(credentials_path().stat().st_mode) == 0o600


def test_login_with_a_service_token_names_the_token_not_its_creator(server, admin, project, capsys):
    from apps.projects.models import Role
    from tests.factories import make_token

    secret = make_token(admin, project=project, role=Role.VIEWER, name="ci")
    assert main(["login", "--url", server, "--token", secret]) == 0
    out = capsys.readouterr().out
    assert f"Logged in to {server} as service token 'ci' of project vision (viewer)." in out
    assert "alice_admin" not in out
    assert credentials_read() == {"url": server, "token": secret}


def test_login_with_a_bad_token_exits_3_and_saves_nothing(server, capsys):
    assert main(["login", "--url", server, "--token", "krk_wrong"]) == 3
    assert capsys.readouterr().err.startswith("kiroku: error: ")
    assert not credentials_path().exists()


def test_login_to_an_unreachable_server_exits_1(capsys):
    assert main(["login", "--url", dead_url(), "--token", "krk_x"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_runs_list_and_show(server, token, three_runs, capsys, monkeypatch):
    monkeypatch.setenv("KIROKU_URL", server)
    monkeypatch.setenv("KIROKU_TOKEN", token)
    assert main(["runs", "list", "-p", "vision", "--order-by", "name", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "CREATED", "AUTHOR"]
    assert [line.split()[0] for line in lines[1:]] == [three_runs[0].id, three_runs[1].id]
    assert all("FINISHED" in line for line in lines[1:])
    assert main(["runs", "show", three_runs[1].id]) == 0
    out = capsys.readouterr().out
    assert "vision/r1  FINISHED" in out
    assert "  lr = 0.2" in out
    assert "  best = 0.9" in out


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["runs", "list", "-p", "vision", "--filter", "metrics.acc >"], 2),
        (["runs", "show", "0" * 32], 1),
        (["runs", "list", "-p", "nope"], 1),
    ],
)
def test_cli_errors_are_one_line_with_exit_codes(server, token, monkeypatch, capsys, argv, code):
    monkeypatch.setenv("KIROKU_URL", server)
    monkeypatch.setenv("KIROKU_TOKEN", token)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("kiroku: error: ") and err.count("\n") == 1


def test_cli_without_a_token_exits_3(server, monkeypatch, capsys):
    monkeypatch.setenv("KIROKU_URL", server)
    assert main(["runs", "list", "-p", "vision"]) == 3
    assert "kiroku login" in capsys.readouterr().err


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "kiroku"
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"kiroku {kiroku.__version__}"


def test_a_run_with_more_params_than_a_listing_carries_reads_them_all(reader, settings):
    config = {f"p{i:03d}": i for i in range(150)}
    with kiroku.init(name="wide", config=config, capture=False, settings=settings) as run:
        run.log({"acc": 0.5})
    (found,) = reader.runs("vision", filter="name = 'wide'")
    assert found.data["truncated"]["params"] is True  # the listing carries 100
    assert found.params == {key: str(value) for key, value in config.items()}
    assert found.metrics == {"acc": 0.5}


def test_to_pandas_has_a_column_for_every_param(reader, settings):
    pytest.importorskip("pandas")
    config = {f"p{i:03d}": i for i in range(150)}
    with kiroku.init(name="wide", config=config, capture=False, settings=settings):
        pass
    frame = reader.runs("vision").to_pandas()
    assert [c for c in frame.columns if c.startswith("params.")] == [f"params.{k}" for k in config]
