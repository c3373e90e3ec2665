"""Model references (``resnet@champion``, ``resnet/3``) and the manifest digest."""

from __future__ import annotations

import kiroku
import pytest
from kiroku.registry import ModelRef, model_ref_parse
from kiroku.registry.download import manifest_digest

from tests.sdk.models.fake_registry import (
    contract_digest,
)


@pytest.mark.parametrize(
    ("ref", "parsed", "canonical"),
    [
        ("resnet", ModelRef("resnet"), "resnet"),
        ("resnet/3", ModelRef("resnet", version=3), "resnet/3"),
        ("resnet@champion", ModelRef("resnet", alias="champion"), "resnet@champion"),
        ("resnet@latest", ModelRef("resnet"), "resnet"),
        ("resnet v2/12", ModelRef("resnet v2", version=12), "resnet v2/12"),
        ("resnet v2@prod-1", ModelRef("resnet v2", alias="prod-1"), "resnet v2@prod-1"),
        ("  resnet/3 ", ModelRef("resnet", version=3), "resnet/3"),
    ],
)
def test_model_references_parse(ref, parsed, canonical):
    assert model_ref_parse(ref) == parsed
    assert str(parsed) == (canonical or ref)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "NAME, NAME/VERSION or NAME@ALIAS"),
        ("resnet/0", "versions are numbered from 1"),
        ("resnet@3", "for version 3 write resnet/3"),
        ("resnet@bad alias", "alias 'bad alias'"),
        ("../x/3", "model name '../x'"),
        ("@champion", "model name ''"),
        ("team/resnet", "must not contain '/'"),
        ("team/resnet/12", "must not contain '/'"),
    ],
)
def test_bad_model_references_are_refused(ref, message):
    with pytest.raises(kiroku.InvalidInput, match=message.replace("(", r"\(")):
        model_ref_parse(ref)


def test_the_manifest_digest_is_the_contracts():
    manifest = [
        {"path": "z.bin", "size": 1, "sha256": "a" * 64},
        {"path": "データ/a.txt", "size": 22, "sha256": "b" * 64, "artifact_id": "1" * 32},
    ]
    assert manifest_digest(manifest) == contract_digest(manifest)
    assert manifest_digest(list(reversed(manifest))) == contract_digest(manifest)
