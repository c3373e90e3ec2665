"""``kiroku ci report --junit``: JUnit XML reports summed from their test cases, read
without entity expansion."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kiroku.ci.junit import MAX_FAILED_NAMES, JUnitSummary, read_junit_files
from kiroku.errors import InvalidInput

PYTEST_REPORT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" tests="99" failures="0" errors="0" skipped="0" time="1">
    <testcase classname="tests.test_a" name="test_ok" time="0.1"/>
    <testcase classname="tests.test_a" name="test_bad" time="0.2">
      <failure message="assert 1 == 2">trace</failure>
    </testcase>
    <testcase classname="tests.test_a" name="test_setup" time="0.05">
      <error message="fixture failed"/>
    </testcase>
    <testcase classname="tests.test_b" name="test_later">
      <skipped message="not today"/>
    </testcase>
  </testsuite>
</testsuites>
"""

SUITE_REPORT = """\
<testsuite name="go">
  <testcase name="TestFirst" time="1.5"><failure/></testcase>
  <testcase name="TestSecond" time="0.5"/>
</testsuite>
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Files are named relative to the working folder, so messages are exact."""
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def junit_error(*names: str) -> str:
    with pytest.raises(InvalidInput) as info:
        read_junit_files(names)
    return info.value.message


def test_no_files_are_an_empty_summary():
    assert read_junit_files([]) == JUnitSummary(
        tests=0, failures=0, errors=0, skipped=0, time=0.0, failed=(), failed_total=0
    )


def test_counts_come_from_the_test_cases_not_the_suite_attributes():
    write("report.xml", PYTEST_REPORT)

    assert read_junit_files(["report.xml"]) == JUnitSummary(
        tests=4,
        failures=1,
        errors=1,
        skipped=1,
        time=0.35,
        failed=("tests.test_a.test_bad", "tests.test_a.test_setup"),
        failed_total=2,
    )


def test_two_files_are_summed_and_failed_names_kept_in_file_order():
    write("a.xml", PYTEST_REPORT)
    write("b.xml", SUITE_REPORT)

    summary = read_junit_files(["a.xml", Path("b.xml")])

    assert summary == JUnitSummary(
        tests=6,
        failures=2,
        errors=1,
        skipped=1,
        time=2.35,
        failed=("tests.test_a.test_bad", "tests.test_a.test_setup", "TestFirst"),
        failed_total=3,
    )


def test_nested_suites_are_counted():
    write(
        "r.xml",
        "<testsuites><testsuite><testsuite>"
        '<testcase name="deep"><error/></testcase>'
        "</testsuite></testsuite></testsuites>",
    )

    summary = read_junit_files(["r.xml"])

    assert (summary.tests, summary.errors, summary.failed) == (1, 1, ("deep",))


def test_a_case_with_a_failure_and_an_error_is_one_failure():
    write("r.xml", '<testsuite><testcase name="t"><error/><failure/></testcase></testsuite>')

    summary = read_junit_files(["r.xml"])

    assert (summary.tests, summary.failures, summary.errors) == (1, 1, 0)


def test_failed_names_are_capped_but_all_are_counted():
    cases = "".join(f'<testcase name="t{i}"><failure/></testcase>' for i in range(60))
    write("r.xml", f"<testsuite>{cases}</testsuite>")

    summary = read_junit_files(["r.xml"])

    assert MAX_FAILED_NAMES == 50
    assert summary.failed == tuple(f"t{i}" for i in range(50))
    assert (summary.failures, summary.failed_total) == (60, 60)


def test_the_cap_applies_across_files():
    for name, start in (("a.xml", 0), ("b.xml", 40)):
        cases = "".join(
            f'<testcase name="t{i}"><failure/></testcase>' for i in range(start, start + 30)
        )
        write(name, f"<testsuite>{cases}</testsuite>")

    summary = read_junit_files(["a.xml", "b.xml"])

    assert summary.failed == tuple(f"t{i}" for i in [*range(30), *range(40, 60)])
    assert summary.failed_total == 60


def test_a_report_without_test_cases_is_allowed():
    write("r.xml", '<testsuites tests="0"/>')

    assert read_junit_files(["r.xml"]) == JUnitSummary()


def test_the_declared_encoding_is_honoured():
    Path("r.xml").write_bytes(
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<testsuite><testcase name="caf\u00e9"><failure/></testcase></testsuite>'.encode("latin-1")
    )

    assert read_junit_files(["r.xml"]).failed == ("caf\u00e9",)


def test_passed_is_what_is_left_and_never_negative():
    assert JUnitSummary(tests=10, failures=2, errors=1, skipped=3).passed == 4
    assert JUnitSummary(tests=1, failures=2).passed == 0


def test_metrics_are_the_junit_counts():
    write("report.xml", PYTEST_REPORT)

    assert read_junit_files(["report.xml"]).metrics() == {
        "junit/tests": 4.0,
        "junit/passed": 1.0,
        "junit/failures": 1.0,
        "junit/errors": 1.0,
        "junit/skipped": 1.0,
        "junit/time": 0.35,
    }


def test_as_json_is_the_ci_report_junit_object():
    write("report.xml", PYTEST_REPORT)

    assert read_junit_files(["report.xml"]).as_json() == {
        "tests": 4,
        "passed": 1,
        "failures": 1,
        "errors": 1,
        "skipped": 1,
        "time": 0.35,
        "failed": ["tests.test_a.test_bad", "tests.test_a.test_setup"],
        "failed_total": 2,
    }


@pytest.mark.parametrize("time", ["fast", "nan", "inf"])
def test_a_time_that_is_not_a_finite_number_names_the_test(time):
    write("r.xml", f'<testsuite><testcase classname="pkg" name="t" time="{time}"/></testsuite>')

    assert junit_error("r.xml") == f"r.xml: test 'pkg.t' has time {time!r}, not a number"


def test_entities_are_refused_before_expansion():
    write(
        "lol.xml",
        '<?xml version="1.0"?>\n'
        "<!DOCTYPE lolz [\n"
        ' <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
        "]>\n"
        '<testsuite><testcase name="&lol3;"/></testsuite>\n',
    )

    assert junit_error("lol.xml") == "JUnit file 'lol.xml' declares entities or a DTD; refused"


def test_an_external_dtd_is_refused():
    write("r.xml", '<!DOCTYPE testsuite SYSTEM "http://example.com/junit.dtd"><testsuite/>')

    assert junit_error("r.xml") == "JUnit file 'r.xml' declares entities or a DTD; refused"


def test_malformed_xml_names_the_line_and_column():
    write("r.xml", '<testsuite>\n  <testcase name="a">\n</testsuite>\n')

    assert junit_error("r.xml") == "r.xml line 3 column 3: malformed XML (mismatched tag)"


def test_a_root_that_is_not_a_test_suite_is_refused():
    write("r.xml", "<report><testcase/></report>")

    assert junit_error("r.xml") == (
        "r.xml: the root element is <report>; expected <testsuites> or <testsuite>"
    )


def test_a_missing_file_is_refused():
    assert junit_error("r.xml") == "JUnit file 'r.xml' does not exist"


def test_an_empty_file_is_refused():
    write("r.xml", "\n")

    assert junit_error("r.xml") == "JUnit file 'r.xml' is empty"


def test_a_directory_is_refused():
    Path("reports").mkdir()

    assert junit_error("reports") == "JUnit file 'reports' is a directory"


def test_without_defusedxml_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "defusedxml", None)
    write("r.xml", "<testsuite/>")

    assert junit_error("r.xml") == "reading JUnit XML needs defusedxml: pip install 'kiroku[ci]'"
