"""The ``kavach`` command: one Typer app, one sub-module per area."""

from __future__ import annotations

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


def _register() -> None:
    # Imported here so that `import kavach.cli.main` stays cheap and free of cycles.
    from kavach.cli import hash as hash_cli

    hash_cli.register(app)
    from kavach.cli import db as db_cli

    db_cli.register(app)
    from kavach.cli import bank as bank_cli

    bank_cli.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors from Kavach print one line and exit with their exit code."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except KavachError as exc:
        typer.echo(f"kavach: error: {exc.message}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("kavach: aborted", err=True)
        return 130
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
