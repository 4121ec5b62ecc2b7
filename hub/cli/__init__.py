"""pelastus-hub command line: the hub's own commands (hub_commands: worker, simulate, run,
bench, validate, schemas, kafka) and the operators' (operator_commands: dead-letters,
provision, group, state, kubernetes)."""

import argparse
import sys
from importlib import metadata

from pydantic import ValidationError

from pelastus_hub.cli import hub_commands, operator_commands
from pelastus_hub.settings import SettingsError, explain


def main(argv: list[str] | None = None) -> int:
    """The command line; settings that cannot be read end it with their explanation and
    exit code 2, as a usage error does."""
    try:
        return _main(argv)
    except ValidationError as error:
        print(f"error: the settings cannot be used:\n{explain(error)}", file=sys.stderr)
    except SettingsError as error:
        print(f"error: the settings cannot be used:\n{error}", file=sys.stderr)
    return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="pelastus-hub",
        description="Event exchange of Finland's rescue departments. Configuration comes from "
        "PELASTUS_HUB_* environment variables (see README).",
    )
    # The command runs only from an installed distribution: its version is there.
    installed = metadata.version("pelastus-hub")
    parser.add_argument("--version", action="version", version=f"pelastus-hub {installed}")
    commands = parser.add_subparsers(dest="command", required=True)

    hub_commands.add_commands(commands)
    operator_commands.add_commands(commands)
    args = parser.parse_args(argv)
    return args.run(args)
