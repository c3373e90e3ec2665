"""``kiroku models``: list, show, versions, download, alias set/rm, promote."""

from __future__ import annotations

import pytest

from tests.sdk.models.fake_registry import (
    FILES,
    RUN,
    cli,
    contract_digest,
    tree,
)


def test_cli_models_list(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", {"a": b"2"}, aliases=["champion"])
    fake.add_version("team/bert", {"a": b"3"}, aliases=["staging"])
    assert cli(fake, "models", "list", "-p", "vision") == 0
    assert capsys.readouterr().out.splitlines() == [
        "NAME       LATEST  ALIASES",
        "resnet     2       champion=2",
        "team/bert  1       staging=1",
    ]


def test_cli_models_list_of_an_empty_project(fake, capsys):
    assert cli(fake, "models", "list", "-p", "vision") == 0
    assert capsys.readouterr().out == "No models in vision.\n"


def test_cli_models_show_prints_the_version_and_its_lineage(fake, capsys):
    fake.add_version("resnet", FILES, aliases=["champion"])
    assert cli(fake, "models", "show", "resnet@champion", "-p", "vision") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:9] == [
        "resnet/1  READY",
        "  aliases   champion",
        f"  run       {RUN}",
        "  path      models/resnet/",
        "  flavor    pytorch",
        "  files     3, 4.9 KiB",
        f"  digest    {contract_digest(fake.models['resnet']['versions'][1]['manifest'])}",
        "  created   2025-01-02 03:04:05 by bob",
        "metadata:",
    ]
    assert lines[9:] == [
        "  acc = 0.91",
        "lineage:",
        f"  run       resnet50-lr3e-4 ({RUN}) FINISHED {fake.url}/projects/vision/runs/{RUN}",
        "  git       main 0123456789ab (dirty)",
        "  group     sweep-1",
        "  ci        passed",
        "  params:",
        "    lr = 0.0003",
        "  metrics (last):",
        "    acc = 0.91",
        "  datasets:",
        "    train  d1g  s3://d/train",
    ]


def test_cli_models_versions(fake, capsys, monkeypatch):
    monkeypatch.setenv("KIROKU_PROJECT", "vision")
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", {"a": b"2"}, aliases=["champion"])
    assert cli(fake, "models", "versions", "resnet") == 0
    assert capsys.readouterr().out.splitlines() == [
        "VERSION  STATUS  ALIASES   RUN                               FLAVOR   CREATED",
        f"2        READY   champion  {RUN}  pytorch  2025-01-02 03:04:05",
        f"1        READY   -         {RUN}  pytorch  2025-01-02 03:04:05",
    ]


def test_cli_models_download(fake, tmp_path, capsys):
    version = fake.add_version("resnet", FILES)
    target = tmp_path / "out"
    assert cli(fake, "models", "download", "resnet", "--dir", str(target), "-p", "vision") == 0
    assert capsys.readouterr().out == (
        f"Downloaded resnet/1: 3 file(s), 4.9 KiB, to {target} (checked against manifest "
        f"{version['manifest_digest'][:12]}).\n"
    )
    assert (target / "sub" / "config.json").read_bytes() == FILES["sub/config.json"]


def test_cli_models_download_of_a_tampered_file_exits_1_with_one_line(fake, tmp_path, capsys):
    fake.add_version("resnet", FILES)
    fake.tamper[("resnet", 1, "empty")] = b"surprise"
    target = tmp_path / "out"
    assert cli(fake, "models", "download", "resnet/1", "-d", str(target), "-p", "vision") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "kiroku: error: resnet/1: 'empty': the storage sent more than the manifest's 0 bytes; "
        "nothing installed\n"
    )
    assert tree(target) == set()


def test_cli_models_alias_set_and_rm(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", {"a": b"2"})
    assert cli(fake, "models", "alias", "set", "resnet", "champion", "2", "-p", "vision") == 0
    assert capsys.readouterr().out == "Alias champion of resnet now points at version 2.\n"
    assert fake.models["resnet"]["aliases"] == {"champion": 2}
    argv = ["models", "alias", "rm", "resnet", "champion", "--reason", "rolled back"]
    assert cli(fake, *argv, "-p", "vision") == 0
    assert capsys.readouterr().out == "Removed alias champion of resnet.\n"
    assert fake.alias_calls == [
        ("PUT", "resnet", "champion", {"version": 2}),
        ("DELETE", "resnet", "champion", {"reason": "rolled back"}),
    ]
    assert fake.models["resnet"]["aliases"] == {}


def test_cli_a_protected_alias_exits_3_and_says_to_promote(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    fake.protected = {"prod"}
    argv = ["models", "alias", "set", "resnet", "prod", "1", "--reason", "go", "-p", "vision"]
    assert cli(fake, *argv) == 3
    assert capsys.readouterr().err == (
        "kiroku: error: alias 'prod' of resnet is protected: ask an admin with "
        '`kiroku models promote resnet 1 prod --reason "..."`\n'
    )


def test_cli_models_promote_opens_a_request(fake, capsys):
    fake.add_version("resnet", {"a": b"1"})
    argv = ["models", "promote", "resnet", "1", "prod", "--reason", "beats v0 by 2 points"]
    assert cli(fake, *argv, "-p", "vision") == 0
    assert capsys.readouterr().out == (
        "Opened promotion request 7: resnet/1 → prod (open; a project admin decides).\n"
    )
    assert fake.promotions == [{"version": 1, "alias": "prod", "reason": "beats v0 by 2 points"}]


def test_cli_promote_needs_a_reason(fake, capsys):
    with pytest.raises(SystemExit) as exited:
        cli(fake, "models", "promote", "resnet", "1", "prod", "-p", "vision")
    assert exited.value.code == 2
    assert "--reason" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (
            ["models", "show", "nope", "-p", "vision"],
            1,
            "model version 'nope' not found in project 'vision' (no such model)",
        ),
        (["models", "versions", "nope", "-p", "vision"], 1, "model 'nope' not found in project"),
        (["models", "show", "resnet@3", "-p", "vision"], 2, "'resnet@3': an alias is never"),
        (["models", "list"], 2, "which project? pass -p/--project"),
    ],
)
def test_cli_errors_are_one_clear_line(fake, capsys, argv, code, error):
    assert cli(fake, *argv) == code
    err = capsys.readouterr().err
    assert err.startswith(f"kiroku: error: {error}") and err.count("\n") == 1
