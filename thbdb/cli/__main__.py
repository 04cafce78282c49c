"""`python -m thbdb.cli`: the same as `thbdb`."""

from thbdb.cli import app

app()
