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
    severity=Severity.ERROR,
    family="scan",
    summary="A PATH held no checkpoint store, stream log or DLQ dump: nothing was checked.",
    explanation=(
        "A gate over it would pass vacuously, so the exit code is 3. Usually the artifact "
        "folder is wrong or was not produced; `dashfix verify --list-inputs PATH` shows what "
        "was discovered and why files were skipped. When an empty folder is expected, "
        "`--allow-empty` (or `allow_empty = true`) turns this into a note and lets the run pass."
    ),
    bug="-",
    fix="Point dashfix verify at the folder that holds the artifacts, or pass --allow-empty.",
    baselinable=False,
    unreadable=True,
)

RULES = (UNREADABLE_PATH, SYMLINK_NOT_FOLLOWED, NOTHING_TO_CHECK)
