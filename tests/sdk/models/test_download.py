"""``Api.model()`` and ``ModelVersion.download()``: every file checked against the
manifest, nothing kept when one differs."""

from __future__ import annotations

import kiroku
import pytest

from tests.sdk.models.fake_registry import (
    FILES,
    RUN,
    TOKEN,
    contract_digest,
    tree,
)


def test_api_model_resolves_a_reference_to_a_typed_version_with_lineage(fake, api):
    fake.add_version("resnet", {"a": b"1"})
    fake.add_version("resnet", FILES, aliases=["champion"])

    version = api.model("resnet@champion")
    assert isinstance(version, kiroku.ModelVersion)
    assert (version.model, version.version, version.run_id, version.status) == (
        "resnet",
        2,
        RUN,
        "READY",
    )
    assert (version.aliases, version.flavor, version.metadata) == (
        ["champion"],
        "pytorch",
        {"acc": 0.91},
    )
    assert [e["path"] for e in version.manifest] == list(FILES)
    assert version.manifest_digest == contract_digest(version.manifest)
    assert version.lineage["run"]["git"]["branch"] == "main"
    assert api.model("resnet/1").version == 1
    assert api.model("resnet@latest", project="vision").version == 2
    resolves = [p for m, p, _a in fake.requests if "/resolve" in p]
    assert resolves[-1] == "/api/v1/projects/vision/model-versions/resolve?ref=resnet"


def test_api_model_without_a_project_says_which_to_pass(fake):
    with (
        kiroku.Api(url=fake.url, token=TOKEN) as client,
        pytest.raises(ValueError, match="project"),
    ):
        client.model("resnet")


def test_a_missing_model_is_a_clear_not_found(fake, api):
    with pytest.raises(kiroku.NotFound) as caught:
        api.model("nope@champion")
    assert caught.value.message == (
        "model version 'nope@champion' not found in project 'vision' (no such model)"
    )


def test_a_project_the_token_cannot_see_is_named(fake, api):
    with pytest.raises(kiroku.NotFound, match=r"project 'visoin' does not exist.*can see: vision"):
        api.model("resnet", project="visoin")


def test_download_writes_every_file_checked_and_storage_never_sees_the_token(fake, api, tmp_path):
    fake.add_version("resnet", FILES)
    target = tmp_path / "out"

    result = api.model("resnet").download(target)

    assert {p.relative_to(target.resolve()).as_posix(): p.read_bytes() for p in result.written} == (
        FILES
    )
    assert result.bytes == sum(len(d) for d in FILES.values()) and result.ok
    assert tree(target) == {"weights.pt", "sub", "sub/config.json", "empty"}  # no staging left
    assert {auth for _path, auth in fake.blob_gets()} == {None}


def test_an_expired_url_is_replaced_by_a_fresh_listing(fake, api, tmp_path):
    fake.add_version("resnet", FILES)
    fake.expire_once = {"weights.pt"}
    result = api.model("resnet").download(tmp_path / "out")
    assert (tmp_path / "out" / "weights.pt").read_bytes() == FILES["weights.pt"]
    assert len(result.written) == 3
    listings = [p for m, p, _a in fake.requests if p.endswith("/files")]
    assert len(listings) == 2


@pytest.mark.parametrize(
    ("served", "message"),
    [
        (b"w" * 5001, "the storage sent more than the manifest's 5000 bytes"),
        (b"w" * 4999, "got 4999 bytes, the manifest says 5000"),
        (b"x" * 5000, "its sha256 does not match the manifest"),
    ],
)
def test_a_tampered_file_is_refused_and_nothing_is_left(fake, api, tmp_path, served, message):
    fake.add_version("resnet", FILES)
    fake.tamper[("resnet", 1, "weights.pt")] = served
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_bytes(b"untouched")

    with pytest.raises(kiroku.IntegrityError, match=message):
        api.model("resnet/1").download(target)

    # Files downloaded before the bad one were verified, but none is put in place.
    assert tree(target) == {"mine.txt"}
    assert (target / "mine.txt").read_bytes() == b"untouched"


def test_a_manifest_that_does_not_match_its_digest_is_refused_before_any_download(
    fake, api, tmp_path
):
    fake.add_version("resnet", FILES)
    version = api.model("resnet")
    fake.listing_lies = {"size": 1}  # the listing's manifest no longer hashes to the digest
    with pytest.raises(kiroku.IntegrityError, match="does not match the version's manifest digest"):
        version.download(tmp_path / "out")
    assert fake.blob_gets() == []
    assert tree(tmp_path / "out") == set()


def test_a_digest_changed_since_resolving_is_refused(fake, api, tmp_path):
    fake.add_version("resnet", FILES)
    version = api.model("resnet")
    version.manifest_digest = "0" * 64  # pinned elsewhere; the server now serves another
    with pytest.raises(kiroku.IntegrityError, match="manifest digest 000000000000"):
        version.download(tmp_path / "out")
    assert fake.blob_gets() == []


@pytest.mark.parametrize(
    "hostile",
    ["../evil", "a/../../evil", "/kiroku-test-evil", "sub/./x", "a\\..\\evil", "C:/evil", ""],
)
def test_a_manifest_path_outside_the_folder_is_refused(fake, api, tmp_path, hostile):
    fake.add_version("resnet", {"x": b"bad"}, manifest_paths=[hostile])
    target = tmp_path / "deep" / "out"
    with pytest.raises(kiroku.IntegrityError, match="refused the manifest path"):
        api.model("resnet").download(target)
    assert fake.blob_gets() == []
    assert not any("evil" in p for p in tree(tmp_path))
    assert not target.exists() or tree(target) == set()


def test_a_symlink_in_the_folder_that_leads_out_is_refused(fake, api, tmp_path):
    fake.add_version("resnet", {"link/pwned": b"bad"})
    target = tmp_path / "out"
    target.mkdir()
    (tmp_path / "outside").mkdir()
    (target / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(kiroku.IntegrityError, match="leads outside"):
        api.model("resnet").download(target)
    assert list((tmp_path / "outside").iterdir()) == []
    assert tree(target) == {"link"}


def test_a_version_that_is_not_ready_has_nothing_to_download(fake, api, tmp_path):
    fake.add_version("resnet", FILES)["status"] = "PENDING_REGISTRATION"
    with pytest.raises(kiroku.InvalidInput, match="resnet/1 is PENDING_REGISTRATION, not READY"):
        api.model("resnet").download(tmp_path / "out")
