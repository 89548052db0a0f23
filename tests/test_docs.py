"""Every command example of README.md and docs/*.md runs, and shows what dashfix prints.

Each ```sh and ```console block runs with bash in a fresh sandbox folder holding the
names the docs use (see ``sandbox``), with the dashfix under test first on PATH. Every
`dashfix` it runs must exit 0 (clean) or 1 (findings), unless the line says `# exits N`;
a console block's shown output must match (``...`` stands for anything, see
tests/docs_examples.py). A block that cannot run here says so in its fence
(```sh skip: WHY); those are listed in EXPECTED_SKIPS, so none is skipped silently.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dashfix.cli.main import run
from tests.docs_examples import Block, console_examples, fenced_blocks, matches_shown

REPO = Path(__file__).parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE = ("sh", "console")
EXIT_NOTE = re.compile(r"#\s*exits (\d+)")
DASHFIX_LINE = re.compile(r"^\s*(?:\$ )?dashfix\s", re.MULTILINE)

# Blocks that cannot run in the test, by file and reason. A new skip must be added here.
# Blocks marked `install` are README's install commands, run by tests/test_install.py.
INSTALL_REASON = "install commands: tests/test_install.py runs them in a fresh virtualenv"
KAFKA_REASON = "needs a Kafka broker; tests/cli/test_kafka_cli.py runs these forms against one"
REBUILD_REASON = ("needs an S3 or Redis server; tests/cli/test_rebuild_s3.py and "
                  "test_rebuild_redis.py run these forms against real ones")
EXPECTED_SKIPS = {
    ("README.md", "creates .venv and runs the whole test suite"),
    ("README.md", KAFKA_REASON),
    ("docs/streams.md", KAFKA_REASON),
    ("docs/dlq-and-replay.md", KAFKA_REASON),
    ("README.md", INSTALL_REASON),
    ("docs/fuzzing.md", "a fuzzing campaign takes minutes; tests/test_fuzz.py runs a short one"),
    ("docs/backends.md", "the stores it names are servers and files of a deployment; "
     "tests/cli/test_verify_*.py run every backend against real servers"),
    ("README.md", REBUILD_REASON),
    ("docs/backends.md", REBUILD_REASON),
}

# Records every dashfix exit status, so a failing command inside a script is not hidden by
# the script's own exit status.
WRAPPER = 'dashfix() { command dashfix "$@"; local s=$?; echo "$s" >> "$DASHFIX_STATUS_LOG"; ' \
          'return "$s"; }\n'


def all_blocks() -> list[Block]:
    return [block for path in DOCS for block in fenced_blocks(path)]


def runnable_blocks() -> list[Block]:
    return [block for block in all_blocks() if block.language in RUNNABLE]


def skip_reason(block: Block) -> str | None:
    return INSTALL_REASON if "install" in block.marks else block.skip_reason


def sandbox(folder: Path) -> Path:
    """The names the docs use: ./checkpoints (a healthy store), ./artifacts and ./big (the
    demo folder: stores, a log and a DLQ dump with known faults), fixtures/ (the repository's),
    events.kcat (the interop capture, healthy), logs/dashstream-events.jsonl (the same
    records as a file-backend log), capture.bin (the demo's capture, with faults), dlq.jsonl
    (the interop DLQ dump, one record of each fault) and .dashfix-baseline.json (for
    ./artifacts)."""
    fixtures = folder / "fixtures"
    shutil.copytree(REPO / "fixtures", fixtures, symlinks=True)
    shutil.copytree(fixtures / "interop" / "ckpt-healthy", folder / "checkpoints")
    shutil.copytree(fixtures / "demo", folder / "artifacts")
    shutil.copytree(fixtures / "demo", folder / "big")
    streams = fixtures / "interop" / "streams"
    shutil.copy(streams / "healthy.kcat", folder / "events.kcat")
    shutil.copy(fixtures / "demo" / "telemetry" / "events.kcat", folder / "capture.bin")
    shutil.copy(streams / "dlq.jsonl", folder / "dlq.jsonl")
    (folder / ".git").mkdir()  # the config search stops here
    (folder / "logs").mkdir()
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        jsonl = ["stream", "replay", "events.kcat", "--to", "logs/dashstream-events.jsonl",
                 "--to-format", "jsonl"]
        assert run(jsonl) in (0, 1)
        assert run(["baseline", "create", "artifacts", "-o", ".dashfix-baseline.json",
                    "--reason", "known demo faults"]) == 0
    finally:
        os.chdir(cwd)
    return folder


def _environment(status_log: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("DASHFIX_", "GITHUB_", "FORCE_COLOR"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               DASHFIX_STATUS_LOG=str(status_log), COLUMNS="100", NO_COLOR="1", TZ="UTC")
    return env


def _statuses(status_log: Path) -> list[int]:
    text = status_log.read_text() if status_log.exists() else ""
    status_log.unlink(missing_ok=True)
    return [int(line) for line in text.split()]


def _expected_status(command: str) -> int | None:
    note = EXIT_NOTE.search(command)
    return None if note is None else int(note.group(1))


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-o", "pipefail", "-c",
                           WRAPPER + script], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=120)


def _check_statuses(where: str, script: str, statuses: list[int], output: str) -> None:
    expected = _expected_status(script)
    allowed = {0, 1} if expected is None else {expected}
    assert statuses, f"{where}: no dashfix command ran"
    bad = [status for status in statuses if status not in allowed]
    assert not bad, f"{where}: dashfix exited {bad} (allowed {sorted(allowed)}):\n{output}"
    assert "Traceback" not in output and "internal error" not in output, f"{where}:\n{output}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sandbox(tmp_path_factory.mktemp("docs") / "sandbox")


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda block: block.where)
def test_doc_example(block: Block, template: Path, tmp_path: Path) -> None:
    if (reason := skip_reason(block)) is not None:
        pytest.skip(f"{block.where}: {reason}")
    folder = tmp_path / "sandbox"
    shutil.copytree(template, folder, symlinks=True)
    status_log = tmp_path / "statuses"
    env = _environment(status_log)
    if block.language == "sh":
        result = _bash(block.body, folder, env)
        output = result.stdout + result.stderr
        statuses = _statuses(status_log)
        assert len(statuses) == len(DASHFIX_LINE.findall(block.body)), (block.where, output)
        _check_statuses(block.where, block.body, statuses, output)
        return
    examples = console_examples(block.body)
    assert examples, f"{block.where}: a console block without a `$ ` command"
    for example in examples:
        result = _bash(example.command + " 2>&1", folder, env)
        output = result.stdout
        if DASHFIX_LINE.search(example.command):
            _check_statuses(block.where, example.command, _statuses(status_log), output)
        else:
            assert result.returncode == 0, (block.where, example.command, output)
        if example.shown:
            assert matches_shown(output, example.shown), (
                f"{block.where}: `{example.command}` printed\n{output}\n"
                "which does not match what the doc shows:\n" + "\n".join(example.shown)
            )


def test_skipped_examples_are_listed() -> None:
    skipped = {(block.where.split(":")[0], skip_reason(block)) for block in all_blocks()
               if skip_reason(block) is not None}
    assert all(reason for _, reason in skipped), "a skip must say why"
    assert skipped == EXPECTED_SKIPS


def test_every_block_says_what_it_is() -> None:
    """A block without a language, or a prompt outside a console block, would escape the
    docs test: commands go in sh or console blocks, synopses in text blocks."""
    for block in all_blocks():
        assert block.language, f"{block.where}: a fence without a language"
        if block.language not in RUNNABLE:
            assert not re.search(r"^\$ ", block.body, re.MULTILINE), block.where


def test_docs_test_sees_the_examples() -> None:
    blocks = runnable_blocks()
    commands = sum(len(DASHFIX_LINE.findall(block.body)) for block in blocks
                   if skip_reason(block) is None)
    assert len(blocks) >= 15 and commands >= 30, (len(blocks), commands)


def test_help_examples_are_found() -> None:
    assert len(help_examples()) >= 10


def help_examples() -> list[tuple[str, str]]:
    """(command, example line) for every example of every command's --help."""
    import typer.main

    from dashfix.cli.app import app
    from dashfix.cli.commands import register_all

    # Commands register themselves lazily (a run imports only the one it runs): without
    # this, the examples found would depend on what other test modules happened to import.
    register_all()
    found = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        epilog = getattr(command, "epilog", None) or ""
        if "Examples:" in epilog:
            for line in epilog.split("Examples:", 1)[1].splitlines():
                if line.strip():
                    found.append((" ".join(path) or "dashfix", line.replace("\\[", "[")))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


@pytest.mark.parametrize(("command", "example"), help_examples(),
                         ids=[f"{c}: {e}" for c, e in help_examples()])
def test_help_example(command: str, example: str, template: Path, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    if "kafka://" in example:
        pytest.skip(f"--help of {command}: needs a Kafka broker; "
                    "tests/repair/test_kafka_out.py replays into one")
    if "s3://" in example or "redis://" in example:
        pytest.skip(f"--help of {command}: {REBUILD_REASON}")
    folder = tmp_path / "sandbox"
    shutil.copytree(template, folder, symlinks=True)
    where = f"--help of {command}"
    if any(char in example for char in "|<>$;&"):
        status_log = tmp_path / "statuses"
        result = _bash(example, folder, _environment(status_log))
        _check_statuses(where, example, _statuses(status_log), result.stdout + result.stderr)
        return
    # No shell in it: run in-process, which is much faster than a new interpreter.
    for name in list(os.environ):
        if name.startswith(("DASHFIX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(folder)
    argv = shlex.split(example, comments=True)
    assert argv[0] == "dashfix"
    status = run(argv[1:])
    captured = capsys.readouterr()
    _check_statuses(where, example, [status], captured.out + captured.err)


def test_nightly_sample_expression_covers_every_day() -> None:
    """docs/incremental.md's `--sample "$(( ... $(date +%j) ... ))/10"` for every day of the
    year: days 008 and 009 are not octal errors, and day D falls in bucket D % 10 + 1."""
    (line,) = [line for block in fenced_blocks(REPO / "docs" / "incremental.md")
               for line in block.body.splitlines() if "date +%j" in line]
    expression = re.search(r'--sample "(.*?)"', line)
    assert expression is not None
    days = [f"{day:03d}" for day in range(1, 367)]
    script = "".join(
        f'echo "{expression.group(1).replace("$(date +%j)", day)}"\n' for day in days
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [f"{int(day) % 10 + 1}/10" for day in days]
