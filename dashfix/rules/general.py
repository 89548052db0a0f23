"""Rules raised by the scan itself rather than by one input kind."""

from dashfix.findings import Rule, Severity

UNREADABLE_PATH = Rule(
    code="DF001",
    name="unreadable-path",
    severity=Severity.ERROR,
    family="scan",
    summary="A path that was asked for, or found under it, could not be read.",
    explanation=(
        "dashfix could not open or list this path (missing, permission denied, I/O error). "
        "Nothing under it was checked, so the run cannot be called clean: the exit code is 3."
    ),
    bug="-",
    fix="Check the path and its permissions, then run dashfix verify again.",
    baselinable=False,
    unreadable=True,
)

SYMLINK_NOT_FOLLOWED = Rule(
    code="DF002",
    name="symlink-not-followed",
    severity=Severity.WARNING,
    family="scan",
    summary="A symbolic link under the scanned root was not followed.",
    explanation=(
        "Read-only commands never follow a symlink, so whatever it points to was not checked. "
        "DashFlow itself would follow it, possibly outside the store."
    ),
    bug="#7",
    fix="Replace the link with the real file, or scan its target explicitly.",
)

NOTHING_TO_CHECK = Rule(
    code="DF003",
    name="nothing-to-check",
    severity=Severity.WARNING,
    family="scan",
    summary="A PATH held no checkpoint store, stream log or DLQ dump.",
    explanation=(
        "The gate would pass vacuously. Usually the artifact folder is wrong or empty; "
        "`dashfix verify --list-inputs PATH` shows what was discovered and why files were skipped."
    ),
    bug="-",
    fix="Point dashfix verify at the folder that holds the artifacts.",
)

RULES = (UNREADABLE_PATH, SYMLINK_NOT_FOLLOWED, NOTHING_TO_CHECK)
