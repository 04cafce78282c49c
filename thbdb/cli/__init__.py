"""The `thbdb` command line: one entry point for operators, analysts and officers, its
commands in a module per user: whoever runs the hub (hub), national database operators
(national), regional analysts (analyst), data-protection officers (data_protection)."""

# Importing a module registers its commands; their order is the order of `thbdb --help`.
# isort: off
from thbdb.cli import hub  # noqa: F401
from thbdb.cli import national  # noqa: F401
from thbdb.cli import analyst  # noqa: F401
from thbdb.cli import data_protection  # noqa: F401

# isort: on
from thbdb.cli.common import app

__all__ = ["app"]
