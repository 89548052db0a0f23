"""``--format junit``: JUnit XML for GitLab ``artifacts:reports:junit`` and Jenkins.

One testcase per checked target (store, log, dump) and check family. Findings outside
every target (an unreadable PATH, an empty folder) get testcases of their own path.
GitLab and Jenkins read only the first ``<failure>`` of a testcase, so a testcase holds
one failure whose text lists every finding with its code and location. Only findings
that fail the run (at or above ``--fail-on``, or unreadable input) are failures; a
testcase with findings below it is ``<skipped>`` and lists them in ``<system-out>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import TextIO

from dashfix.findings import Finding
from dashfix.osnames import visible
from dashfix.report.locations import full_message, location_text, rule_for
from dashfix.results import Report
from dashfix.rules import rules_by_code, unreadable_codes

# XML 1.0 cannot carry these at all, not even escaped; finding text may quote binary data.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_PASSING = "checks"
"""Family label of a target's testcase when it has no findings at all."""


def _owner(location: str, kinds: dict[str, str]) -> tuple[str, str] | None:
    """The innermost target (``kinds`` maps its location -> kind) that holds ``location``."""
    candidate = location
    while True:
        if candidate in kinds:
            return kinds[candidate], candidate
        if "/" not in candidate:
            break
        candidate = candidate.rsplit("/", 1)[0]
    return (kinds["."], ".") if "." in kinds else None


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", visible(text))


def _finding_line(finding: Finding) -> str:
    line = f"{finding.code} {finding.severity.value} {location_text(finding)}: "
    return _xml_text(line + full_message(finding))


def _fails(finding: Finding, report: Report, unreadable: frozenset[str]) -> bool:
    """Whether the finding counts for the exit code, as ``Report.exit_code`` decides."""
    if finding.code in unreadable:
        return True
    return report.fail_on is not None and finding.severity.rank >= report.fail_on.rank


def to_element(report: Report) -> ET.Element:
    table = rules_by_code()
    cases: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for kind, rel in report.targets:
        cases.setdefault((kind, rel, _PASSING), [])
    kinds = {rel: kind for kind, rel in report.targets}
    for finding in report.findings:
        owner = _owner(finding.location, kinds) or ("scan", finding.location)
        cases[(owner[0], owner[1], rule_for(finding, table).family)].append(finding)
    # A target with findings needs no separate "all passed" testcase.
    families_seen = {(kind, rel) for kind, rel, family in cases if family != _PASSING}
    for kind, rel in families_seen:
        if not cases.get((kind, rel, _PASSING), True):
            del cases[(kind, rel, _PASSING)]

    suites = ET.Element("testsuites", name="dashfix")
    suite = ET.SubElement(suites, "testsuite", name="dashfix verify")
    failures = errors = skipped = 0
    unreadable = unreadable_codes()
    for (kind, rel, family), findings in sorted(cases.items()):
        case = ET.SubElement(
            suite, "testcase", classname=f"dashfix.{kind}", name=_xml_text(f"{rel} [{family}]")
        )
        case.set("file", _xml_text(rel))
        case.set("time", "0")
        failing: list[Finding] = []
        below: list[Finding] = []
        suppressed: list[Finding] = []
        for finding in findings:
            if finding.suppressed:
                suppressed.append(finding)
            else:
                (failing if _fails(finding, report, unreadable) else below).append(finding)
        if failing:
            failures += 1
            codes = sorted({f.code for f in failing})
            failure = ET.SubElement(
                case,
                "failure",
                message=_xml_text(f"{len(failing)} finding(s): {', '.join(codes)} in {rel}"),
                type=codes[0],
            )
            failure.text = "\n".join(_finding_line(f) for f in failing)
        elif below:
            # Reported, but not failing the run: a red test on a green job would mislead.
            skipped += 1
            threshold = report.fail_on.value if report.fail_on else "never"
            ET.SubElement(case, "skipped", message=_xml_text(
                f"{len(below)} finding(s) below --fail-on {threshold}: "
                f"{', '.join(sorted({f.code for f in below}))}"))
        out_lines = []
        if below:
            out_lines += ["below --fail-on (not failing the run):"]
            out_lines += [_finding_line(f) for f in below]
        if suppressed:
            out_lines += ["suppressed by baseline:"]
            out_lines += [f"{_finding_line(f)} [reason: {_xml_text(f.suppression_reason or '')}]"
                          for f in suppressed]
        if out_lines:
            ET.SubElement(case, "system-out").text = "\n".join(out_lines)
    if report.error is not None:
        errors += 1
        case = ET.SubElement(suite, "testcase", classname="dashfix.run", name="dashfix verify")
        case.set("time", "0")
        message = _xml_text(report.error)
        ET.SubElement(case, "error", message=message, type="DashfixError").text = message
    tests = len(suite)
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    properties = ET.Element("properties")
    ET.SubElement(properties, "property", name="summary", value=_xml_text(report.summary_line()))
    suite.insert(0, properties)
    return suites


def render(report: Report, out: TextIO) -> None:
    tree = ET.ElementTree(to_element(report))
    ET.indent(tree)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    tree.write(out, encoding="unicode")
    out.write("\n")
