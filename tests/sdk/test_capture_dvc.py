"""DVC datasets from ``dvc.lock`` and ``*.dvc`` files, read without DVC or a YAML library."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kiroku.capture import dvc_datasets
from kiroku.capture.dvc import parse_block_yaml
from kiroku.keys import key_clean

# As DVC 3 writes it (dvc.org's example pipeline), with the awkward parts DVC emits:
# a multi-line cmd list, params, a code dependency, an output used by a later stage.
DVC_LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd:
    - python src/prepare.py data/data.xml
    - echo done   # a comment
    deps:
    - path: data/data.xml
      hash: md5
      md5: a304afb96060aad90176268345e10355
      size: 37891850
    - path: src/prepare.py
      hash: md5
      md5: f09ea0c15980b43010257ccb9f0055e2
      size: 1576
    params:
      params.yaml:
        prepare.seed: 20170428
        prepare.split: 0.2
    outs:
    - path: data/prepared
      hash: md5
      md5: 153aad06d376b6595932470e459ef42a.dir
      size: 8437363
      nfiles: 2
  featurize:
    cmd: >-
      python src/featurization.py
      data/prepared data/features
    deps:
    - path: data/prepared
      hash: md5
      md5: 153aad06d376b6595932470e459ef42a.dir
      size: 8437363
      nfiles: 2
    - path: "data/vocab list.txt"
      md5: 'b7f0bd3ac1a7a4fa4fd2c0e4b6a7e7d1'
      size: 100
    outs:
    - path: data/features
      hash: md5
      md5: f35d4cc2c552ac959ae602162b8543f3.dir
      size: 2232588
      nfiles: 2
"""

DVC_FILE = """\
outs:
- md5: 22a1a2931c8370d3aeedd7183606fd7f
  size: 14445097
  hash: md5
  path: raw.csv
"""

# The first lock format (DVC 1.x): stages at the top, no schema key.
DVC_LOCK_V1 = """\
train:
  cmd: python train.py
  deps:
  - path: data/train.csv
    md5: 0123456789abcdef0123456789abcdef
  outs:
  - path: model.pkl
    md5: fedcba9876543210fedcba9876543210
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def by_name(records: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in records}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "project"
    write(root / "dvc.lock", DVC_LOCK)
    write(root / "data" / "raw.csv.dvc", DVC_FILE)
    return root


def test_outputs_raw_inputs_and_dvc_files_become_datasets(project):
    records = dvc_datasets(project)

    assert records == sorted(records, key=lambda r: r["name"])
    assert by_name(records) == {
        "data/prepared": {
            "name": "data/prepared",
            "uri": "data/prepared",
            "digest": "md5:153aad06d376b6595932470e459ef42a.dir",
            "size": 8437363,
            "file_count": 2,
            "source": "dvc",
        },
        "data/features": {
            "name": "data/features",
            "uri": "data/features",
            "digest": "md5:f35d4cc2c552ac959ae602162b8543f3.dir",
            "size": 2232588,
            "file_count": 2,
            "source": "dvc",
        },
        "data/data.xml": {
            "name": "data/data.xml",
            "uri": "data/data.xml",
            "digest": "md5:a304afb96060aad90176268345e10355",
            "size": 37891850,
            "file_count": 1,
            "source": "dvc",
        },
        "data/vocab list.txt": {
            "name": "data/vocab list.txt",
            "uri": "data/vocab list.txt",
            "digest": "md5:b7f0bd3ac1a7a4fa4fd2c0e4b6a7e7d1",
            "size": 100,
            "file_count": 1,
            "source": "dvc",
        },
        # path in a .dvc file is relative to that file's folder
        "data/raw.csv": {
            "name": "data/raw.csv",
            "uri": "data/raw.csv",
            "digest": "md5:22a1a2931c8370d3aeedd7183606fd7f",
            "size": 14445097,
            "file_count": 1,
            "source": "dvc",
        },
    }


def test_source_code_dependencies_are_not_datasets(project):
    assert "src/prepare.py" not in by_name(dvc_datasets(project))


def test_the_first_lock_format_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    write(tmp_path / "p" / "dvc.lock", DVC_LOCK_V1)

    records = by_name(dvc_datasets(tmp_path / "p"))

    assert set(records) == {"data/train.csv", "model.pkl"}
    assert records["model.pkl"]["digest"] == "md5:fedcba9876543210fedcba9876543210"
    assert records["model.pkl"]["size"] is None


def test_in_a_git_repository_ignored_dvc_files_are_skipped(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    write(project / ".gitignore", "scratch/\n")
    write(project / "scratch" / "old.dvc", DVC_FILE.replace("raw.csv", "old.csv"))

    names = set(by_name(dvc_datasets(project)))

    assert "data/raw.csv" in names
    assert "scratch/old.csv" not in names


def test_dataset_names_are_keys_the_server_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    odd = DVC_FILE.replace("path: raw.csv", "path: ../shared/raw+v2.csv")
    write(tmp_path / "p" / "data.dvc", odd)

    (record,) = dvc_datasets(tmp_path / "p")

    assert record["uri"] == "../shared/raw+v2.csv"
    assert key_clean(record["name"]) == (record["name"], None)


def test_entries_without_an_md5_or_unparseable_files_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    write(tmp_path / "p" / "s3.dvc", "outs:\n- etag: '0x8D9'\n  path: remote.csv\n")
    write(tmp_path / "p" / "bad.dvc", "\tthis: is\n\tnot: yaml\n")
    write(tmp_path / "p" / "ok.dvc", DVC_FILE)

    assert [r["name"] for r in dvc_datasets(tmp_path / "p")] == ["raw.csv"]


def test_no_dvc_files_means_no_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))

    assert dvc_datasets(tmp_path) == []
    assert dvc_datasets(tmp_path / "missing") == []


@pytest.mark.parametrize("text", [DVC_LOCK, DVC_FILE, DVC_LOCK_V1])
def test_the_yaml_subset_parser_agrees_with_pyyaml_on_dvc_files(text):
    assert parse_block_yaml(text) == _pyyaml_with_floats_as_text(text)


def _pyyaml_with_floats_as_text(text: str) -> dict:
    """PyYAML's reading, except that floats stay text as in the subset parser (DVC's
    digests and sizes never need floats; only params carry them)."""
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(text)
    stages = data.get("stages", {}) if isinstance(data, dict) else {}
    for stage in stages.values():
        for values in (stage.get("params") or {}).values():
            for key, value in values.items():
                if isinstance(value, float):
                    values[key] = str(value)
    return data


def test_the_yaml_subset_handles_quotes_comments_and_nesting():
    text = """\
# leading comment
'quoted key': "a \\"b\\" c"  # trailing comment
plain: value # with comment
hash: 'not # a comment'
list:
  - one
  - two: 2
    three: 3
  -
    - nested
empty:
block: |
  line one
  line two
"""

    assert parse_block_yaml(text) == {
        "quoted key": 'a "b" c',
        "plain": "value",
        "hash": "not # a comment",
        "list": ["one", {"two": 2, "three": 3}, ["nested"]],
        "empty": None,
        "block": "line one line two",
    }
