"""The ``closedloop`` entry point: the command group, logging set-up and error handling.

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. Errors are one or
more plain lines on stderr saying what went wrong and what to do next; a traceback appears only
with ``--verbose``. Nothing printed ever contains a secret.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import version

import click

from closedloop.cli.attribute_command import attribute
from closedloop.cli.config_commands import config
from closedloop.cli.connector_commands import check, provision
from closedloop.cli.db_commands import db
from closedloop.cli.demo_command import demo
from closedloop.cli.emulate import emulate
from closedloop.cli.import_touches_command import import_touches
from closedloop.cli.init_command import init
from closedloop.cli.options import common_options
from closedloop.cli.report_commands import import_costs_command, report
from closedloop.cli.revenue_commands import revenue
from closedloop.cli.serve_commands import replay, serve
from closedloop.cli.sync_commands import explain, status, sync
from closedloop.runtime.errors import ClosedLoopError, ConfigError
from closedloop.runtime.logging import configure_logging, redact

log = logging.getLogger("closedloop.cli")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version("closedloop"), "--version", prog_name="closedloop")
@common_options
def cli() -> None:
    r"""Connect marketing touches to CRM records, and CRM revenue back to marketing.

    \b
    Start here:
      closedloop init .            write a commented closedloop.yaml
      closedloop config check      validate it (every problem, with its key and line)
      closedloop db upgrade        create or upgrade the state store
    """


cli.add_command(demo)
cli.add_command(init)
cli.add_command(config)
cli.add_command(db)
cli.add_command(emulate)
cli.add_command(attribute)
cli.add_command(check)
cli.add_command(provision)
cli.add_command(sync)
cli.add_command(status)
cli.add_command(explain)
cli.add_command(revenue)
cli.add_command(serve)
cli.add_command(replay)
cli.add_command(report)
cli.add_command(import_costs_command)
cli.add_command(import_touches)


def _report(error: ClosedLoopError) -> None:
    """Print a closedloop error as plain lines on stderr."""
    lines = [f"error: {error}"]
    if isinstance(error, ConfigError):
        lines += [f"  - {problem}" for problem in error.problems]
    if error.hint:
        lines.append(f"hint: {error.hint}")
    click.echo(redact("\n".join(lines)), err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (also the console-script entry point)."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    configure_logging(verbose=verbose)
    try:
        cli.main(args=args, prog_name="closedloop", standalone_mode=False)
    except click.exceptions.Exit as stop:
        return int(stop.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except ClosedLoopError as exc:
        if verbose:
            log.debug("details", exc_info=True)
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        log.error("unexpected %s: %s", type(exc).__name__, exc, exc_info=verbose)
        click.echo(
            redact(f"error: unexpected {type(exc).__name__}: {exc}")
            + "\nhint: re-run with --verbose and report it if it persists",
            err=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
