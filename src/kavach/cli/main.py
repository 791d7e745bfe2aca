"""The ``kavach`` command: one Typer app, one sub-module per area."""

from __future__ import annotations

import functools
import sys

import typer

from kavach.errors import KavachError

app = typer.Typer(
    name="kavach",
    help="Find known abuse material by hash, report it, and get it taken down.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Kavach: identify known material by hash, act on it, get it taken down, share with allies."""


@functools.cache
def _register() -> None:
    # Imported here so that `import kavach.cli.main` stays cheap and free of cycles. Once per
    # process: Typer appends a command each time one is registered, so a second registration
    # would double every command (and the time to build the command tree on every call).
    from kavach.cli import hash as hash_cli

    hash_cli.register(app)
    from kavach.cli import demo as demo_cli

    demo_cli.register(app)
    from kavach.cli import db as db_cli

    db_cli.register(app)
    from kavach.cli import bank as bank_cli

    bank_cli.register(app)
    from kavach.cli import scan as scan_cli

    scan_cli.register(app)
    from kavach.cli import match as match_cli

    match_cli.register(app)
    from kavach.cli import serve as serve_cli

    serve_cli.register(app)
    from kavach.cli import worker as worker_cli

    worker_cli.register(app)
    from kavach.cli import user as user_cli

    user_cli.register(app)
    from kavach.cli import apikey as apikey_cli

    apikey_cli.register(app)
    from kavach.cli import blocklist as blocklist_cli
    from kavach.cli import stats as stats_cli
    from kavach.cli import takedown as takedown_cli

    for module in (blocklist_cli, stats_cli, takedown_cli):
        module.register(app)
    from kavach.cli import report as report_cli

    report_cli.register(app)
    from kavach.cli import audit as audit_cli

    audit_cli.register(app)
    from kavach.cli import review as review_cli

    review_cli.register(app)
    from kavach.cli import exchange as exchange_cli

    exchange_cli.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors from Kavach print one line and exit with their exit code."""
    _register()
    try:
        app(args=argv, prog_name="kavach")
    except KavachError as exc:
        sys.stderr.write(f"kavach: error: {exc.message}\n")
        return exc.exit_code
    except SystemExit as exc:  # click ends every run, usage errors included, with SystemExit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
