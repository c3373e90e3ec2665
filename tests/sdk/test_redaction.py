"""``kiroku.redaction``: every secret of the corpus becomes ``[redacted:<kind>]`` with
the rest of its line kept, and every innocent look-alike survives unchanged. The SDK
and the server run this one module, so these rules hold on both sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kiroku.ci.inputs import read_metrics_files, read_params_file
from kiroku.errors import InvalidInput
from kiroku.redaction import (
    name_is_secret,
    redact_command,
    redact_environment,
    redact_json,
    redact_text,
    redact_value,
)

from tests.sdk import secrets_corpus as corpus


def leaked(text: str) -> list[str]:
    return [secret for secret in corpus.SECRETS if secret in text]


# -- the corpus ---------------------------------------------------------------------


@pytest.mark.parametrize("case", corpus.POSITIVES, ids=lambda case: case.id)
def test_each_secret_is_replaced_by_its_kind_and_the_line_kept(case):
    redacted = redact_text(case.text, filename=case.filename)

    assert redacted == case.expected
    assert leaked(redacted) == []


@pytest.mark.parametrize("case", corpus.POSITIVES, ids=lambda case: case.id)
def test_redacting_twice_changes_nothing(case):
    once = redact_text(case.text, filename=case.filename)

    assert redact_text(once, filename=case.filename) == once


@pytest.mark.parametrize("filename", [None, "train.py"])
@pytest.mark.parametrize("text", corpus.LOOKALIKES)
def test_an_innocent_look_alike_survives(text, filename):
    assert redact_text(text, filename=filename) == text


@pytest.mark.parametrize("filename", [None, "config.yaml", ".env"])
@pytest.mark.parametrize("text", corpus.CONFIG_LOOKALIKES)
def test_an_innocent_configuration_line_survives(text, filename):
    assert redact_text(text, filename=filename) == text


def test_a_mebibyte_of_hashes_uuids_and_base64_survives_whole():
    lines = []
    while sum(len(line) + 1 for line in lines) < 1 << 20:
        lines += [f"+{text}" for text in corpus.LOOKALIKES]
    diff = "diff --git a/notes.md b/notes.md\n" + "\n".join(lines)

    assert redact_text(diff) == diff


def test_a_git_diff_is_read_file_by_file():
    diff = (
        "# Untracked files (names only; their contents are not recorded):\n#   .env\n\n"
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
        "@@ -1,2 +1,3 @@\n"
        "-password = read_password()\n"
        f'+password = "{corpus.NAMED_SECRET}"\n'
        "+token = tok  # a variable, not a secret\n"
        "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n"
        "@@ -1 +1,2 @@\n"
        f"+DB_PASSWORD={corpus.NAMED_SECRET}\n"
        " TOKENIZERS_PARALLELISM=false\n"
        "diff --git a/conf/db.yaml b/conf/db.yaml\n"
        f"+  password: {corpus.NAMED_SECRET}\n"
        "+  password_min_length: 12\n"
    )

    assert redact_text(diff) == (
        "# Untracked files (names only; their contents are not recorded):\n#   .env\n\n"
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
        "@@ -1,2 +1,3 @@\n"
        "-password = read_password()\n"
        '+password = "[redacted:secret]"\n'
        "+token = tok  # a variable, not a secret\n"
        "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n"
        "@@ -1 +1,2 @@\n"
        "+DB_PASSWORD=[redacted:secret]\n"
        " TOKENIZERS_PARALLELISM=false\n"
        "diff --git a/conf/db.yaml b/conf/db.yaml\n"
        "+  password: [redacted:secret]\n"
        "+  password_min_length: 12\n"
    )


# -- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_password",
        "DB_PASSWORD",
        "dbPassword",
        "PGPASSWORD",
        "db.password",
        "--db-password",
        "secret",
        "client_secret",
        "SECRET_KEY",
        "token",
        "GITHUB_TOKEN",
        "refresh_token",
        "csrftoken",
        "api_key",
        "apiKey",
        "OPENAI_API_KEY",
        "--api-key",
        "AWS_SECRET_ACCESS_KEY",
        "private_key",
        "credentials",
        "passphrase",
        "DB_PASS",
        "Authorization",
    ],
)
def test_a_name_that_says_secret(name):
    assert name_is_secret(name) is True


@pytest.mark.parametrize(
    "name",
    [
        "password_hash",
        "password_min_length",
        "token_count",
        "max_tokens",
        "max_new_tokens",
        "tokenizer",
        "pad_token",
        "eos_token",
        "next_page_token",
        "secret_name",
        "password_file",
        "token_type",
        "key",
        "sort_key",
        "rng_key",
        "PWD",
        "lr",
        "keyword",
    ],
)
def test_a_name_that_does_not(name):
    assert name_is_secret(name) is False


# -- values, JSON, commands and environments --------------------------------------------


def test_a_value_under_a_secret_name_is_hidden_whole():
    assert redact_value("db.password", "hunter2-but-longer") == "[redacted:secret]"
    assert redact_value("api_key", corpus.OPENAI_PROJECT) == "[redacted:openai-key]"
    assert redact_value("token", "1234") == "[redacted:secret]"


@pytest.mark.parametrize("value", ["", "None", "True", "false", "${TOKEN}", "<token>", "***"])
def test_a_placeholder_under_a_secret_name_is_kept(value):
    assert redact_value("token", value) == value


def test_a_value_under_another_name_loses_only_its_secrets():
    url = f"postgres://app:{corpus.POSTGRES_PASSWORD}@db/x"

    assert redact_value("db.url", url) == "postgres://app:[redacted:password]@db/x"
    assert redact_value("model", "resnet50") == "resnet50"


def test_json_keeps_its_shape_and_numbers():
    value = {
        "token": corpus.NAMED_SECRET,
        "nested": {"password": corpus.NAMED_SECRET, "retries": 3, "ok": True, "none": None},
        "urls": [f"https://u:{corpus.REDIS_PASSWORD}@h/x", "https://h/y"],
        "token_count": 12,
    }

    assert redact_json(value) == {
        "token": "[redacted:secret]",
        "nested": {"password": "[redacted:secret]", "retries": 3, "ok": True, "none": None},
        "urls": ["https://u:[redacted:password]@h/x", "https://h/y"],
        "token_count": 12,
    }


def test_a_command_line_loses_flag_values_tokens_and_passwords():
    argv = [
        "python",
        "train.py",
        "--token",
        corpus.KIROKU_TOKEN,
        "--wandb-api-key",
        corpus.NAMED_SECRET,
        f"--password={corpus.NAMED_SECRET}",
        f"--hub={corpus.HUGGINGFACE}",
        f"AWS_SECRET_ACCESS_KEY={corpus.AWS_SECRET_KEY}",
        "--tokenizer",
        "bert-base",
        "--use-token",
        "--lr",
        "0.1",
    ]

    assert redact_command(argv) == [
        "python",
        "train.py",
        "--token",
        "[redacted:kiroku-token]",
        "--wandb-api-key",
        "[redacted:secret]",
        "--password=[redacted:secret]",
        "--hub=[redacted:huggingface-token]",
        "AWS_SECRET_ACCESS_KEY=[redacted:aws-secret-access-key]",
        "--tokenizer",
        "bert-base",
        "--use-token",
        "--lr",
        "0.1",
    ]


def test_a_command_string_is_redacted_as_text():
    command = f"python train.py --api-key {corpus.NAMED_SECRET} --lr 0.1"

    assert redact_command(command) == "python train.py --api-key [redacted:secret] --lr 0.1"


def test_an_environment_keeps_its_fields_and_loses_its_secrets():
    environment = {
        "python": "3.11.7",
        "command": ["python", "train.py", "--token", corpus.KIROKU_TOKEN],
        "packages": [
            "numpy==2.0.0",
            f"private-lib @ git+https://ci:{corpus.GITHUB_CLASSIC}@github.com/org/lib.git",
        ],
        "cwd": "/home/alice/secrets-project",
        "hostname": "gpu-7",
        "cpu_count": 16,
        "gpus": [{"name": "NVIDIA A100", "memory": 42949672960}],
    }

    assert redact_environment(environment) == {
        "python": "3.11.7",
        "command": ["python", "train.py", "--token", "[redacted:kiroku-token]"],
        "packages": [
            "numpy==2.0.0",
            "private-lib @ git+https://ci:[redacted:github-token]@github.com/org/lib.git",
        ],
        "cwd": "/home/alice/secrets-project",
        "hostname": "gpu-7",
        "cpu_count": 16,
        "gpus": [{"name": "NVIDIA A100", "memory": 42949672960}],
    }


# -- kiroku ci report's inputs ----------------------------------------------------------


def test_a_params_file_is_read_redacted(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(
        json.dumps(
            {
                "lr": 0.1,
                "db": {
                    "password": corpus.NAMED_SECRET,
                    "url": f"postgres://a:{corpus.POSTGRES_PASSWORD}@h/d",
                },
                "hub_token": corpus.HUGGINGFACE,
            }
        )
    )

    assert read_params_file(path) == {
        "lr": "0.1",
        "db/password": "[redacted:secret]",
        "db/url": "postgres://a:[redacted:password]@h/d",
        "hub_token": "[redacted:huggingface-token]",
    }


def test_a_metrics_file_error_does_not_print_the_secret_it_found(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"acc": 0.9, "api_key": corpus.OPENAI_PROJECT}))

    with pytest.raises(InvalidInput) as info:
        read_metrics_files([Path(path)])

    assert info.value.message == (
        f"{path}: '[redacted:openai-key]' is not a number (key 'api_key')"
    )
