"""``dashfix`` (the console script) and ``python -m dashfix``.

Ctrl-C must end dashfix cleanly at any moment, imports included, so the SIGINT handler goes
in first, before the CLI (typer, rich and every command) is imported."""

from __future__ import annotations

from dashfix import interrupts


def main() -> None:
    interrupts.exit_at_once_on_interrupt()
    from dashfix.cli.main import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
