"""Start-up: building the CLI imports no module that only some command needs."""

from __future__ import annotations

import subprocess
import sys

# Each is imported only by the commands (or formats, or kinds) that use it.
WORK_MODULES = (
    "rich", "google.protobuf", "zstandard", "msgpack", "pydantic", "dashfix.checks",
    "dashfix.inputs.checkpoint_files", "dashfix.inputs.streams", "dashfix.cache",
    "dashfix.gate", "dashfix.verify", "dashfix.config", "dashfix.replay", "dashfix.inspect",
    "dashfix.repair.apply", "dashfix.report.text", "dashfix.report.sarif",
)


def test_importing_the_cli_imports_no_command_work() -> None:
    probe = (
        "import sys\n"
        "import dashfix.cli.main\n"
        f"print([m for m in {WORK_MODULES!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
