"""GT4xx: problems with the CI gate's own inputs (the baseline file).

None of these can be baselined: a baseline cannot vouch for itself.
"""

from dashfix.findings import Rule, Severity

BASELINE_ENTRY_EXPIRED = Rule(
    code="GT401",
    name="baseline-entry-expired",
    severity=Severity.WARNING,
    family="gate",
    summary="A baseline entry is past its `expires` date, so it no longer suppresses anything.",
    explanation=(
        "The finding it accepted is reported live again (and counts for the exit code). "
        "An expiry date forces someone to look at an accepted problem again."
    ),
    bug="-",
    fix="Fix the underlying finding, or review it and move `expires` to a later date.",
    baselinable=False,
)

BASELINE_REASON_PLACEHOLDER = Rule(
    code="GT402",
    name="baseline-reason-placeholder",
    severity=Severity.WARNING,
    family="gate",
    summary="A baseline entry still has the placeholder reason (or an empty one).",
    explanation=(
        "`dashfix baseline create` writes a placeholder reason unless --reason is given. "
        "The entry still suppresses its finding, but nobody has said why the problem is "
        "acceptable."
    ),
    bug="-",
    fix="Replace the placeholder `reason` in the baseline file with a real explanation.",
    baselinable=False,
)

BASELINE_NOT_BASELINABLE = Rule(
    code="GT403",
    name="baseline-entry-not-baselinable",
    severity=Severity.WARNING,
    family="gate",
    summary="A baseline entry tries to accept integrity damage (CRC, length, magic), "
    "which is never suppressed.",
    explanation=(
        "Corrupt data is never 'known and accepted': the entry is ignored and the finding it "
        "names stays live."
    ),
    bug="-",
    fix="Remove the entry from the baseline and repair or quarantine the damaged file.",
    baselinable=False,
)

BASELINE_ENTRY_STALE = Rule(
    code="GT404",
    name="baseline-entry-stale",
    severity=Severity.INFO,
    family="gate",
    summary="A baseline entry matches no current finding.",
    explanation=(
        "The problem it accepted is gone (fixed, or the file moved). Stale entries would "
        "silently accept the same problem if it came back."
    ),
    bug="-",
    fix="Remove the entry, or regenerate the file with `dashfix baseline create`.",
    baselinable=False,
)

BASELINE_UNKNOWN_CODE = Rule(
    code="GT405",
    name="baseline-entry-unknown-code",
    severity=Severity.WARNING,
    family="gate",
    summary="A baseline entry names a finding code this dashfix version does not know.",
    explanation=(
        "The baseline was probably written by another dashfix version, or edited by hand. "
        "The entry is kept but cannot match anything."
    ),
    bug="-",
    fix="Check the code against `dashfix rules`; regenerate the baseline if it is outdated.",
    baselinable=False,
)

RULES = (
    BASELINE_ENTRY_EXPIRED,
    BASELINE_REASON_PLACEHOLDER,
    BASELINE_NOT_BASELINABLE,
    BASELINE_ENTRY_STALE,
    BASELINE_UNKNOWN_CODE,
)
