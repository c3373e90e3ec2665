"""A corpus for the redaction tests: secrets in the forms people leave them in (each
must become ``[redacted:<kind>]`` with the rest of the line kept) and innocent
look-alikes (each must survive unchanged).

Every secret here is fake: built from the documented example values (AWS's
``AKIAIOSFODNN7EXAMPLE``) or from ``Fake``/``0`` filler in the real format, so it
matches the detectors and works nowhere. They are assembled from parts so the source
itself does not look like a leaked credential to a scanner.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from dataclasses import dataclass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _pseudo_random(size: int, seed: str) -> bytes:
    """Deterministic bytes that look random (a sha256 chain)."""
    out = b""
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:size]


def _png(width: int, height: int) -> bytes:
    """A real PNG (grey noise), as a portal screenshot or a plot in a notebook is."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    noise = _pseudo_random(width * height, "png")
    rows = b"".join(b"\x00" + noise[y * width : (y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# -- the fake secrets, one or more per kind ------------------------------------------

KIROKU_TOKEN = "krk_" + "Fake0fake1FAKE2" * 2 + "fake3Fake4_-F"  # 43 chars, as issued
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_TEMP_KEY_ID = "ASIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
GITHUB_CLASSIC = "ghp_" + "0Fake" * 7 + "0"
GITHUB_OAUTH = "gho_" + "1Fake" * 7 + "1"
GITHUB_APP = "ghs_" + "2Fake" * 7 + "2"
GITHUB_FINE_GRAINED = "github_pat_" + "11FAKE0000_" + "Fake0fake1" * 7 + "Fake0"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-" + "FakeFakeFakeFakeFake0000"
SLACK_USER = "xoxp-" + "123456789012-123456789012-123456789012-" + "0fake" * 6 + "00"
SLACK_WEBHOOK = "https://hooks.slack.com/services/" + "T00000000/B00000000/" + "Fake" * 6
OPENAI_PROJECT = "sk-proj-" + "Fake0Fake1Fake2Fake3" * 4 + "T3Blbk" + "FJ" + "Fake9" * 4
OPENAI_LEGACY = "sk-" + "Fake0Fake1Fake2Fake3" + "T3Blbk" + "FJ" + "Fake4Fake5Fake6Fake7"
ANTHROPIC = "sk-ant-" + "api03-" + "Fake0fake1FAKE2" * 6 + "-Fake0AA"
GOOGLE_API_KEY = "AIza" + "SyFake0Fake1Fake2Fake3Fake4Fake5Fak"  # 39 chars
HUGGINGFACE = "hf_" + "FakeFakeFake0000FakeFakeFake000000"
POSTGRES_PASSWORD = "s3cr3t-Fake-pw"
REDIS_PASSWORD = "Fake0redis1pw"
JWT = ".".join(
    [
        _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
        _b64url(json.dumps({"sub": "fake-user", "name": "Not A Real Token"}).encode()),
        _b64url(b"fake-signature-fake-signature-00"),
    ]
)
NAMED_SECRET = "correct-horse-battery-staple-fake"
PRIVATE_KEY_BODY = "\n".join(
    "MIIEow" + "IBAAKCAQEAfake" + base64.b64encode(_pseudo_random(45, f"key{i}")).decode()
    for i in range(6)
)
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n" + PRIVATE_KEY_BODY + "\n-----END RSA PRIVATE KEY-----"
)
OPENSSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + PRIVATE_KEY_BODY
    + "\n-----END OPENSSH PRIVATE KEY-----"
)
PKCS8_KEY = "-----BEGIN PRIVATE KEY-----\n" + PRIVATE_KEY_BODY + "\n-----END PRIVATE KEY-----"

# The secret values a leak would show: none may appear in anything redacted.
SECRETS = [
    KIROKU_TOKEN,
    AWS_KEY_ID,
    AWS_TEMP_KEY_ID,
    AWS_SECRET_KEY,
    GITHUB_CLASSIC,
    GITHUB_OAUTH,
    GITHUB_APP,
    GITHUB_FINE_GRAINED,
    SLACK_BOT,
    SLACK_USER,
    SLACK_WEBHOOK,
    OPENAI_PROJECT,
    OPENAI_LEGACY,
    ANTHROPIC,
    GOOGLE_API_KEY,
    HUGGINGFACE,
    POSTGRES_PASSWORD,
    REDIS_PASSWORD,
    JWT,
    NAMED_SECRET,
    *PRIVATE_KEY_BODY.splitlines(),
]


@dataclass(frozen=True)
class Positive:
    """``text`` (read as a file named ``filename``) must redact to ``expected``."""

    id: str
    text: str
    expected: str
    filename: str | None = None


def _r(kind: str) -> str:
    return f"[redacted:{kind}]"


POSITIVES = [
    # Kiroku's own tokens: the incident that started it all.
    Positive(
        "kiroku-in-init",
        f'run = kiroku.init(project="vision", token="{KIROKU_TOKEN}")',
        f'run = kiroku.init(project="vision", token="{_r("kiroku-token")}")',
        "train.py",
    ),
    Positive("kiroku-env", f"KIROKU_TOKEN={KIROKU_TOKEN}", f"KIROKU_TOKEN={_r('kiroku-token')}"),
    Positive(
        "kiroku-header",
        f"curl -H 'Authorization: Bearer {KIROKU_TOKEN}' $API/me",
        f"curl -H 'Authorization: Bearer {_r('kiroku-token')}' $API/me",
    ),
    # AWS.
    Positive(
        "aws-ini",
        f"aws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET_KEY}",
        f"aws_access_key_id = {_r('aws-access-key-id')}\n"
        f"aws_secret_access_key = {_r('aws-secret-access-key')}",
        "credentials.ini",
    ),
    Positive(
        "aws-json",
        f'{{"AccessKeyId": "{AWS_TEMP_KEY_ID}", "SecretAccessKey": "{AWS_SECRET_KEY}"}}',
        # Without "aws" in its name the secret key is caught by its name alone.
        f'{{"AccessKeyId": "{_r("aws-access-key-id")}", "SecretAccessKey": "{_r("secret")}"}}',
        "session.json",
    ),
    Positive(
        "aws-env",
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET_KEY}",
        f"AWS_SECRET_ACCESS_KEY={_r('aws-secret-access-key')}",
        ".env",
    ),
    Positive(
        "aws-python",
        f'boto3.client("s3", aws_access_key_id="{AWS_KEY_ID}", '
        f'aws_secret_access_key="{AWS_SECRET_KEY}")',
        f'boto3.client("s3", aws_access_key_id="{_r("aws-access-key-id")}", '
        f'aws_secret_access_key="{_r("aws-secret-access-key")}")',
        "upload.py",
    ),
    # GitHub.
    Positive(
        "github-classic", f"GITHUB_TOKEN={GITHUB_CLASSIC}", f"GITHUB_TOKEN={_r('github-token')}"
    ),
    Positive(
        "github-oauth-yaml",
        f"  oauth: {GITHUB_OAUTH}  # from the app",
        f"  oauth: {_r('github-token')}  # from the app",
        "ci.yaml",
    ),
    Positive(
        "github-in-remote",
        f"git clone https://x-access-token:{GITHUB_APP}@github.com/org/repo.git",
        f"git clone https://x-access-token:{_r('github-token')}@github.com/org/repo.git",
    ),
    Positive(
        "github-fine-grained",
        f'gh = Github("{GITHUB_FINE_GRAINED}")',
        f'gh = Github("{_r("github-token")}")',
        "bot.py",
    ),
    # Slack.
    Positive("slack-bot", f"SLACK_BOT_TOKEN={SLACK_BOT}", f"SLACK_BOT_TOKEN={_r('slack-token')}"),
    Positive(
        "slack-user",
        f'client = WebClient(token="{SLACK_USER}")',
        f'client = WebClient(token="{_r("slack-token")}")',
        "notify.py",
    ),
    Positive(
        "slack-webhook",
        f"webhook_url: {SLACK_WEBHOOK}",
        f"webhook_url: {_r('slack-webhook')}",
        "alerts.yml",
    ),
    # OpenAI and Anthropic style sk-… keys.
    Positive(
        "openai-project", f"OPENAI_API_KEY={OPENAI_PROJECT}", f"OPENAI_API_KEY={_r('openai-key')}"
    ),
    Positive(
        "openai-legacy",
        f'openai.api_key = "{OPENAI_LEGACY}"',
        f'openai.api_key = "{_r("openai-key")}"',
        "chat.py",
    ),
    Positive(
        "anthropic",
        f'client = anthropic.Anthropic(api_key="{ANTHROPIC}")',
        f'client = anthropic.Anthropic(api_key="{_r("anthropic-key")}")',
        "judge.py",
    ),
    # Google API keys.
    Positive(
        "google-url",
        f"https://maps.googleapis.com/maps/api/geocode/json?address=x&key={GOOGLE_API_KEY}",
        f"https://maps.googleapis.com/maps/api/geocode/json?address=x&key={_r('google-api-key')}",
    ),
    Positive(
        "google-python",
        f'genai.configure(api_key="{GOOGLE_API_KEY}")',
        f'genai.configure(api_key="{_r("google-api-key")}")',
        "gemini.py",
    ),
    Positive("huggingface", f"HF_TOKEN={HUGGINGFACE}", f"HF_TOKEN={_r('huggingface-token')}"),
    # Private key blocks: the whole block goes.
    Positive(
        "private-key-rsa",
        f"before\n{PRIVATE_KEY}\nafter",
        f"before\n{_r('private-key')}\nafter",
        "deploy_key.pem",
    ),
    Positive("private-key-openssh", OPENSSH_KEY, _r("private-key"), "id_ed25519"),
    Positive(
        "private-key-encrypted",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + PRIVATE_KEY_BODY
        + "\n-----END ENCRYPTED PRIVATE KEY-----\n",
        f"{_r('private-key')}\n",
        "tls/server.key",
    ),
    Positive(
        "private-key-in-a-string",
        "KEY = " + json.dumps(PKCS8_KEY + "\n"),
        f'KEY = "{_r("private-key")}\\n"',
        "settings.py",
    ),
    Positive(
        "private-key-in-a-diff",
        "+" + PRIVATE_KEY.replace("\n", "\n+") + "\n+done = True",
        f"+{_r('private-key')}\n+done = True",
    ),
    Positive(
        "private-key-cut-off",  # a diff cut at 1 MiB in the middle of the block
        "+-----BEGIN EC PRIVATE KEY-----\n+" + PRIVATE_KEY_BODY.replace("\n", "\n+"),
        f"+{_r('private-key')}",
    ),
    # URLs with a password: scheme, user and host stay.
    Positive(
        "url-postgres",
        f"DATABASE_URL=postgres://kiroku:{POSTGRES_PASSWORD}@db.internal:5432/kiroku",
        f"DATABASE_URL=postgres://kiroku:{_r('password')}@db.internal:5432/kiroku",
    ),
    Positive(
        "url-redis-no-user",
        f'broker = "redis://:{REDIS_PASSWORD}@cache:6379/0"',
        f'broker = "redis://:{_r("password")}@cache:6379/0"',
        "celeryconfig.py",
    ),
    Positive(
        "url-mongodb",
        f"uri: mongodb+srv://admin:{POSTGRES_PASSWORD}@cluster0.example.net/db",
        f"uri: mongodb+srv://admin:{_r('password')}@cluster0.example.net/db",
        "db.yaml",
    ),
    # JWTs.
    Positive(
        "jwt-header",
        f"Authorization: Bearer {JWT}",
        f"Authorization: Bearer {_r('jwt')}",
    ),
    Positive(
        "jwt-json",
        f'{{"id_token": "{JWT}", "expires_in": 3600}}',
        f'{{"id_token": "{_r("jwt")}", "expires_in": 3600}}',
        "response.json",
    ),
    # Assignments whose name says secret.
    Positive(
        "named-python",
        f'db_password = "{NAMED_SECRET}"  # TODO remove',
        f'db_password = "{_r("secret")}"  # TODO remove',
        "db.py",
    ),
    Positive(
        "named-python-annotated",
        f"    client_secret: str = '{NAMED_SECRET}'",
        f"    client_secret: str = '{_r('secret')}'",
        "oauth.py",
    ),
    Positive(
        "named-python-subscript",
        f'os.environ["WANDB_API_KEY"] = "{NAMED_SECRET}"',
        f'os.environ["WANDB_API_KEY"] = "{_r("secret")}"',
        "train.py",
    ),
    Positive(
        "named-dotenv",
        f"DB_PASSWORD={NAMED_SECRET}\nexport MLFLOW_TRACKING_TOKEN={NAMED_SECRET}",
        f"DB_PASSWORD={_r('secret')}\nexport MLFLOW_TRACKING_TOKEN={_r('secret')}",
        ".env",
    ),
    Positive(
        "named-dotenv-quoted",
        f'SECRET_KEY="{NAMED_SECRET}"',
        f'SECRET_KEY="{_r("secret")}"',
        ".env.local",
    ),
    Positive(
        "named-yaml",
        f"database:\n  host: db\n  password: {NAMED_SECRET}\n  api_key: '{NAMED_SECRET}'",
        f"database:\n  host: db\n  password: {_r('secret')}\n  api_key: '{_r('secret')}'",
        "config.yaml",
    ),
    Positive(
        "named-json",
        f'{{"user": "app", "password": "{NAMED_SECRET}"}}',
        f'{{"user": "app", "password": "{_r("secret")}"}}',
        "creds.json",
    ),
    Positive(
        "named-ini",
        f"[db]\npassword = {NAMED_SECRET}",
        f"[db]\npassword = {_r('secret')}",
        "setup.cfg",
    ),
    Positive(
        "named-flags",
        f"python train.py --db-password {NAMED_SECRET} --api-key={NAMED_SECRET} --lr 0.1",
        f"python train.py --db-password {_r('secret')} --api-key={_r('secret')} --lr 0.1",
        "run.sh",
    ),
    Positive(
        "named-header-dict",
        f'headers = {{"Authorization": "Token {NAMED_SECRET}"}}',
        f'headers = {{"Authorization": "{_r("secret")}"}}',
        "client.py",
    ),
]

# -- innocent look-alikes: each must survive redaction unchanged ------------------------

COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"
SHA256 = hashlib.sha256(b"kiroku").hexdigest()
UUID = "123e4567-e89b-12d3-a456-426614174000"
PNG_DATA_URI = "data:image/png;base64," + base64.b64encode(_png(48, 48)).decode()
BLOB = base64.b64encode(_pseudo_random(6000, "blob")).decode()
BLOB_URLSAFE = base64.urlsafe_b64encode(_pseudo_random(6000, "blob-url")).decode()

# Read as plain text and as Python.
LOOKALIKES = [
    f"commit {COMMIT}",
    f'git_commit = "{COMMIT}"',
    f"sha256:{SHA256}",
    f'checksum = "{SHA256}"',
    f'run_id = "{UUID}"',
    f"request-id: {UUID}",
    f'<img src="{PNG_DATA_URI}">',
    json.dumps({"image": PNG_DATA_URI, "weights": BLOB, "state": BLOB_URLSAFE}),
    "password_hash = make_password(raw_password)",
    "token_count = 5",
    '"token_type": "Bearer",',
    "password_min_length: 8",
    "secret_name: kiroku-db  # the Kubernetes Secret to mount",
    'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")',
    "max_tokens=512",
    "max_new_tokens: 256",
    "tokenizer.pad_token = tokenizer.eos_token",
    'tokenizer.add_special_tokens({"pad_token": "[PAD]"})',
    'eos_token: "</s>"',
    "password = os.environ['DB_PASSWORD']",
    'token = os.getenv("HF_TOKEN")',
    "api_key = settings.OPENAI_API_KEY",
    'password = ""',
    "python train.py --tokenizer bert --max-tokens 512 --password-file /run/secrets/db",
    "/home/alice/data/train/shard-000017.tar",
    "s3://ml-bucket/vision/resnet50/model.pt",
    "https://github.com/org/repo.git",
    "ssh://git@github.com/org/repo.git",
    "git@github.com:org/repo.git",
    "https://alice@example.com/repo.git",
    "postgres://db.internal:5432/kiroku",
    "http://127.0.0.1:8000/api/v1/runs?page_size=100",
    "scikit-learn==1.4.2",
    "hf_hub_download(repo_id='bert-base-uncased', filename='config.json')",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFake\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFake\n"
    "-----END PUBLIC KEY-----",
    "lr = 3e-4  # the key hyperparameter",
    "if key in cache:\n    pass",
    "[redacted:secret] and [redacted:kiroku-token] stay as they are",
]

# Read as configuration too (.env, YAML): where unquoted values count.
CONFIG_LOOKALIKES = [
    "password_min_length: 8",
    "secret_name: kiroku-db  # the Kubernetes Secret to mount",
    "max_new_tokens: 256",
    'eos_token: "</s>"',
    "PASSWORD=${DB_PASSWORD}",
    "DB_PASSWORD=$DB_PASSWORD_FROM_VAULT",
    "token: ${{ secrets.KIROKU_TOKEN }}",
    "api_key: <your key here>",
    "password: '*****'",
    "secret: null",
    "token:",
    "PWD=/home/alice/project",
    "TOKENIZERS_PARALLELISM=false",
    "PASSWORD_RESET_TIMEOUT=3600",
    f"GIT_COMMIT={COMMIT}",
    f"IMAGE_DIGEST=sha256:{SHA256}",
    f"RUN_ID={UUID}",
    "DATABASE_URL=postgres://db.internal:5432/kiroku",
]
