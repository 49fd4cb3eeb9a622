"""The ``curate`` command: registers one thin module per command, turns user errors into one
line on stderr and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from curate.cli import (
    active,
    check,
    compare,
    dedupe,
    diversity,
    evaluate,
    explain,
    export,
    filtering,
    hpo,
    importer,
    info,
    inspect,
    label,
    run,
    sample,
    select,
    systems,
    train,
    train_mlip,
)

from curate.core.errors import CurateError

app = typer.Typer(
    name="curate",
    help="Build and judge training sets for machine-learned interatomic potentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def os_error_line(exc: OSError) -> str:
    """An operating-system error (no space, no permission, no such folder) as one line: what
    the system said, and the path."""
    reason = exc.strerror or str(exc).strip().splitlines()[0] or type(exc).__name__
    where = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{reason}: {' -> '.join(where)}" if where else reason


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Report a CurateError, or an OSError the user's file system raised, as
    ``curate: error: ...`` and exit 2, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CurateError as exc:
            print(f"curate: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        except OSError as exc:
            print(f"curate: error: {os_error_line(exc)}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        from curate import __version__

        print(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show debug messages, libraries' own output included."
    ),
) -> None:
    """Build and judge training sets for machine-learned interatomic potentials."""
    if verbose:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logging.getLogger("curate").addHandler(handler)
        logging.getLogger("curate").setLevel(logging.DEBUG)


for name, module in (
    ("systems", systems),
    ("sample", sample),
    ("label", label),
    ("info", info),
    ("check", check),
    ("inspect", inspect),
    ("export", export),
    ("import", importer),
    ("select", select),
    ("filter", filtering),
    ("dedupe", dedupe),
    ("diversity", diversity),
    ("train", train),
    ("evaluate", evaluate),
    ("hpo", hpo),
    ("explain", explain),
    ("compare", compare),
    ("run", run),
    ("train-mlip", train_mlip),
    ("active", active),
):
    app.command(name)(user_errors(module.command))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
