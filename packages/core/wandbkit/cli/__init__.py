"""The ``wandbkit`` command: core commands plus whatever installed plugins register.

Every command is contributed through ``wandbkit_register_commands``, core's own included
(:mod:`wandbkit.default_plugins.commands`). A user mistake (:class:`UserError`, a bad flag)
prints one line and exits 2; no tracebacks.
"""

from __future__ import annotations

import sys

import typer

from wandbkit.errors import UserError, WandbkitError


def build_app() -> typer.Typer:
    """The root typer app with every plugin's commands registered."""
    from wandbkit.plugins import call_each

    app = typer.Typer(
        name="wandbkit", no_args_is_help=True, add_completion=False,
        pretty_exceptions_enable=False,
        help="Track, validate and tune training runs with W&B — offline-first.")
    call_each("wandbkit_register_commands", cli=app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wandbkit`` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        command = typer.main.get_command(build_app())
        # Standalone mode: click prints usage errors itself and exits 2; exceptions that are
        # not click's (our UserError) come through to the handlers below.
        command.main(args=args, prog_name="wandbkit", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WandbkitError as exc:  # e.g. a broken plugin under WANDBKIT_STRICT=1
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def run_cli() -> None:
    """``python -m wandbkit``."""
    sys.exit(main())
