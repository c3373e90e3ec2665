"""The run page's word on the working tree agrees with the diff below it: a tree with
only untracked files is not "clean" beside "Uncommitted changes"."""

from __future__ import annotations

import re

import pytest

from tests.portal.run_page_helpers import page

UNTRACKED = "Untracked files:\n  notes.txt\n"


def working_tree(html: str) -> str:
    return re.search(r'<dd id="git-dirty">(.*?)</dd>', html).group(1)


def diff_summary(html: str) -> str | None:
    found = re.search(r'<details id="git-diff">\s*(?:\{#.*?#\}\s*)?<summary>(.*?)</summary>', html)
    return found.group(1) if found else None


@pytest.mark.django_db
def test_untracked_files_only_are_not_called_clean(portal_as, viewer, make_run):
    run_id = make_run(git={"commit": "abc123", "dirty": False, "diff": UNTRACKED})
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert working_tree(html) == "no uncommitted changes; untracked files"
    assert diff_summary(html) == "Untracked files (diff, 29 characters)"
    assert "Uncommitted changes" not in html


@pytest.mark.django_db
def test_a_dirty_tree_shows_its_uncommitted_changes(portal_as, viewer, make_run):
    diff = "--- a/x\n+++ b/x\n"
    run_id = make_run(git={"commit": "abc123", "dirty": True, "diff": diff})
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert working_tree(html) == "<strong>dirty</strong>: uncommitted changes"
    assert diff_summary(html) == "Uncommitted changes (diff, 16 characters)"
    assert ">clean<" not in html


@pytest.mark.django_db
def test_a_clean_tree_has_no_diff_to_show(portal_as, viewer, make_run):
    run_id = make_run(git={"commit": "abc123", "dirty": False, "diff": ""})
    html = portal_as(viewer).get(page(run_id)).content.decode()
    assert working_tree(html) == "clean"
    assert diff_summary(html) is None
