"""``kiroku ci report``'s DVC inputs: ``dvc metrics show --json`` output and the
metrics files a ``dvc.yaml`` lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kiroku.ci.inputs import read_metrics_files
from kiroku.errors import InvalidInput


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Files are named relative to the working folder, so messages are exact."""
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(text, encoding="utf-8")
    return name


def write_json(name: str, doc: object) -> str:
    return write(name, json.dumps(doc))


def metrics_error(*names: str) -> str:
    with pytest.raises(InvalidInput) as info:
        read_metrics_files(names)
    return info.value.message


def show(data: dict) -> dict:
    """``dvc metrics show --json`` output for files -> metrics."""
    return {name: {"data": metrics} for name, metrics in data.items()}


# --- dvc metrics show --json ---------------------------------------------------------


def test_the_workspace_files_of_dvc_show_output_are_merged():
    write_json(
        "show.json",
        {"workspace": {"data": show({"eval/m.json": {"acc": 0.9}, "t.json": {"loss": {"x": 1}}})}},
    )

    assert read_metrics_files(["show.json"]) == {"acc": [(0, 0.9)], "loss/x": [(0, 1.0)]}


def test_dvc_show_output_keeps_the_workspace_among_other_revisions():
    write_json(
        "show.json",
        {
            "main": {"data": show({"m.json": {"acc": 0.5}})},
            "workspace": {"data": show({"m.json": {"acc": 0.9}})},
        },
    )

    assert read_metrics_files(["show.json"]) == {"acc": [(0, 0.9)]}


def test_dvc_show_output_of_one_commit_is_read():
    write_json("show.json", {"a1b2c3d": {"data": show({"m.json": {"acc": 0.7}})}})

    assert read_metrics_files(["show.json"]) == {"acc": [(0, 0.7)]}


def test_dvc_show_output_of_several_commits_asks_for_one():
    write_json(
        "show.json",
        {"main": {"data": show({"m.json": {"acc": 1}})}, "v1": {"data": show({})}},
    )

    assert metrics_error("show.json") == (
        "show.json: the DVC output holds revisions 'main', 'v1'; keep one "
        "(dvc metrics show --json without -a, -T or -A)"
    )


def test_a_dvclive_step_inside_dvc_show_output_is_the_step():
    write_json("show.json", {"workspace": {"data": show({"m.json": {"step": 3, "acc": 0.9}})}})

    assert read_metrics_files(["show.json"]) == {"acc": [(3, 0.9)]}


def test_dvc_show_output_in_yaml_is_read():
    write("show.yaml", "workspace:\n  data:\n    m.json:\n      data:\n        acc: 0.9\n")

    assert read_metrics_files(["show.yaml"]) == {"acc": [(0, 0.9)]}


def test_a_file_dvc_could_not_read_is_named():
    write_json(
        "show.json",
        {
            "workspace": {
                "data": {
                    "m.json": {"error": {"type": "FileNotFoundError", "msg": "m.json is missing"}}
                }
            }
        },
    )

    assert metrics_error("show.json") == "show.json: DVC could not read 'm.json': m.json is missing"


def test_a_revision_dvc_could_not_read_is_named():
    write_json("show.json", {"workspace": {"error": {"type": "SCMError"}}})

    assert (
        metrics_error("show.json") == "show.json: DVC could not read revision 'workspace': SCMError"
    )


def test_a_key_in_two_files_of_dvc_show_output_names_both():
    write_json(
        "show.json", {"workspace": {"data": show({"a.json": {"acc": 1}, "b.json": {"acc": 2}})}}
    )

    assert metrics_error("show.json") == "show.json: metric 'acc' is in both 'a.json' and 'b.json'"


def test_a_bad_value_in_dvc_show_output_names_the_inner_file():
    write_json("show.json", {"workspace": {"data": show({"a.json": {"acc": "high"}})}})

    assert metrics_error("show.json") == "show.json (a.json): 'high' is not a number (key 'acc')"


def test_dvc_show_output_without_metrics_has_no_metrics():
    write_json("show.json", {"workspace": {"data": show({"a.json": {}})}})

    assert metrics_error("show.json") == "metrics file 'show.json' has no metrics"


def test_an_object_merely_using_a_data_key_is_plain_metrics():
    write_json("m.json", {"train": {"data": {"acc": 0.9}}})

    assert read_metrics_files(["m.json"]) == {"train/data/acc": [(0, 0.9)]}


def test_a_key_shared_by_dvc_show_output_and_another_file_names_the_outer_files():
    write_json("show.json", {"workspace": {"data": show({"a.json": {"acc": 1}})}})
    write_json("b.json", {"acc": 2})

    assert metrics_error("show.json", "b.json") == (
        "metric 'acc' is in both 'show.json' and 'b.json'"
    )


# --- dvc.yaml ------------------------------------------------------------------------

DVC_YAML = """\
metrics:
  - live/metrics.json
stages:
  train:
    cmd: python train.py
    metrics:
      - train.csv
  evaluate:
    cmd: python eval.py
    metrics:
      - eval/scores.yaml:
          cache: false
      - live/metrics.json
"""


def test_dvc_yaml_reads_the_files_it_lists_relative_to_its_folder():
    write("proj/dvc.yaml", DVC_YAML)
    write_json("proj/live/metrics.json", {"step": 9, "acc": 0.9})
    write("proj/train.csv", "step,loss\n0,1.0\n1,0.5\n")
    write("proj/eval/scores.yaml", "f1: 0.8\n")

    points = read_metrics_files(["proj/dvc.yaml"])

    assert points == {"acc": [(9, 0.9)], "loss": [(0, 1.0), (1, 0.5)], "f1": [(0, 0.8)]}
    assert list(points) == ["acc", "loss", "f1"]


def test_dvc_yaml_listing_no_metrics_is_refused():
    write("dvc.yaml", "stages:\n  train:\n    cmd: python train.py\n    outs: [model.pt]\n")

    assert metrics_error("dvc.yaml") == "dvc.yaml lists no metrics files"


def test_dvc_yaml_listing_a_missing_file_names_it():
    write("proj/dvc.yaml", "metrics:\n  - eval/m.json\n")

    assert metrics_error("proj/dvc.yaml") == (
        "proj/dvc.yaml lists 'proj/eval/m.json', which does not exist"
    )


def test_dvc_yaml_listing_another_dvc_yaml_is_refused():
    write("dvc.yaml", "metrics:\n  - sub/dvc.yaml\n")
    write("sub/dvc.yaml", "metrics:\n  - m.json\n")

    assert metrics_error("dvc.yaml") == "dvc.yaml lists 'sub/dvc.yaml', another dvc.yaml"


def test_a_dvc_yaml_entry_that_is_not_a_path_is_refused():
    write("dvc.yaml", "stages:\n  train:\n    metrics:\n      - 3\n")

    assert metrics_error("dvc.yaml") == (
        "dvc.yaml: an entry of stages.train.metrics is a number; "
        "expected a path or a one-key mapping {path: {...}}"
    )


def test_dvc_yaml_metrics_that_are_not_a_list_are_refused():
    write("dvc.yaml", "metrics: m.json\n")

    assert metrics_error("dvc.yaml") == "dvc.yaml: metrics is a string; expected a list"


def test_a_key_in_two_listed_files_names_both():
    write("dvc.yaml", "metrics:\n  - a.json\n  - b.csv\n")
    write_json("a.json", {"acc": 1})
    write("b.csv", "acc,2\n")

    assert metrics_error("dvc.yaml") == "metric 'acc' is in both 'a.json' and 'b.csv'"


def test_a_bad_listed_file_is_named_by_its_path():
    write("proj/dvc.yaml", "metrics:\n  - m.json\n")
    write("proj/m.json", '{"acc": null}')

    assert metrics_error("proj/dvc.yaml") == (
        "proj/m.json: key 'acc' is null; expected a number or an object"
    )
