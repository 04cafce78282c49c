"""`thbdb` for national database operators: pushing an export, the country's keys, its
quarantine, and erasing its records."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from config.settings import COUNTRIES
from thbdb.cli.common import (
    FormatOption,
    OutputFormat,
    TokenOption,
    _ask,
    _fail,
    _print_rows,
    _settings,
    app,
    err,
    keys_app,
    out,
)


@app.command()
def produce(
    country: Annotated[str, typer.Option("--country", help=f"Reporting country: {', '.join(COUNTRIES)}.")],
    input: Annotated[
        Path, typer.Option("--input", help="The national export: victims.csv or perpetrators.csv (format v1).")
    ],
    create_key: Annotated[
        bool,
        typer.Option(help="Create the country's pseudonymisation key if it has none (local demo only)."),
    ] = False,
) -> None:
    """Push a national export: check every row, pseudonymise at source, publish to Kafka.

    Refused rows are listed on stderr by row number, column and reason (never a value);
    the exit code is 1 if any row was refused.
    """
    from producers import country_keys
    from producers.national_export import ExportRejected
    from producers.pseudonymise import KeyMissing
    from producers.publisher import PublishFailed
    from producers.push import push_export
    from thbdb import accounts

    country = country.upper()
    if not input.is_file():
        raise _fail(f"no such file: {input}")
    settings = _settings()
    handle, keys_ready = None, False
    try:
        if accounts.enforced(settings.accounts) and country in COUNTRIES:
            # Open the export as the user who ran this, put the keys in place, then go on
            # as the country's own account: it can open its keys and nobody else's.
            handle = input.open("rb")
            folder = country_keys.prepare(settings, country, create_key)
            account = accounts.country_for(settings, country, folder)
            assert account is not None
            accounts.become(account)
            keys_ready = True
        with err.status(f"{country}: reading, pseudonymising and publishing {input.name}…") as spinner:
            report = push_export(
                settings,
                country,
                input,
                create_key=create_key,
                on_progress=lambda n: spinner.update(f"{country}: {n} rows published…"),
                handle=handle,
                keys_ready=keys_ready,
            )
    except (ExportRejected, KeyMissing, PublishFailed, accounts.AccountError) as error:
        raise _fail(f"{input.name}: {error}") from None
    for refusal in report.refused:
        err.print(f"{input.name}: {refusal}", highlight=False, markup=False)
    if report.broker_interruptions:
        err.print(
            f"{country}: {report.broker_interruptions} connection fault(s) while the broker was unreachable;"
            " the producer retried and every event was acknowledged"
        )
    out.print(
        f"{country}: {report.published} rows published, {report.refused_rows} rows refused (batch {report.batch_id})"
    )
    if not report.linkage:
        err.print(
            f"no shared linkage key under {settings.country_keys_dir(country)}: records published without linkage"
            f" encodings (store the region's with `thbdb keys import-linkage FILE --country {country}`)"
        )
    if report.refused:
        raise typer.Exit(1)


def _store_new_key(country: str, file_name: str, key: bytes, if_there: str) -> Path:
    """Write ``key`` to a new owner-only file in the country's key folder (its keys moved
    there from an older home; with accounts on, the folder owned by the country's account).
    Fails, naming ``if_there``, rather than replace a key."""
    from producers import country_keys, key_files
    from thbdb import accounts

    country = country.upper()
    if country not in COUNTRIES:
        raise _fail(f"unknown country {country!r}; one of {', '.join(COUNTRIES)}")
    settings = _settings()
    folder = country_keys.migrate(settings, country)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / file_name
    if not key_files.write_key(path, key):
        raise _fail(f"{path} exists: {if_there}")
    try:
        accounts.country_for(settings, country, folder)
    except accounts.AccountError as error:
        raise _fail(str(error)) from None
    return path


@keys_app.command("init")
def keys_init(country: Annotated[str, typer.Option("--country", help="The country whose key to make.")]) -> None:
    """Make the country's pseudonymisation key (32 random bytes, 0600). Refuses to replace
    one: a new key gives every record a new pseudonym, and each would count twice."""
    from producers.key_files import new_key

    path = _store_new_key(country, f"{country.upper()}.key", new_key(), "a country key is made once (README, Keys)")
    out.print(f"{country.upper()}: pseudonymisation key made at {path}; back it up with the national database")


@keys_app.command("init-linkage")
def keys_init_linkage(
    country: Annotated[str, typer.Option("--country", help="The focal point's country: the key is made there.")],
) -> None:
    """Make the region's shared linkage key, once, at one national focal point; hand it to
    the other countries out of band (never through the hub), who import it."""
    from producers.key_files import new_key
    from producers.linkage import KEY_FILE

    if_there = "the region has a linkage key; rotating it is a joint decision (README)"
    path = _store_new_key(country, KEY_FILE, new_key(), if_there)
    out.print(f"{country.upper()}: linkage key made at {path}; give it to the other focal points out of band")


@keys_app.command("import-linkage")
def keys_import_linkage(
    file: Annotated[Path, typer.Argument(help="The linkage key as the focal point handed it over (64 hex digits).")],
    country: Annotated[str, typer.Option("--country", help="Your country.")],
) -> None:
    """Store the region's linkage key in your country's folder (0600, never overwritten)."""
    from producers.key_files import read_key
    from producers.linkage import KEY_FILE

    try:
        key = read_key(file, ValueError, str(file))
    except OSError:
        raise _fail(f"{file} cannot be read") from None
    except ValueError as error:
        raise _fail(f"{error} (64 hex digits)") from None
    path = _store_new_key(country, KEY_FILE, key, "remove it first if the region rotated its key (README)")
    out.print(f"{country.upper()}: linkage key stored at {path}")


@app.command()
def quarantine(
    country: Annotated[str, typer.Option("--country", help="Your country: its refused events.")],
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="Your national export: record ids are matched to the pseudonyms with your key, on this machine.",
        ),
    ] = None,
    show_resolved: Annotated[bool, typer.Option("--all", help="Also events a later version resolved.")] = False,
    format: FormatOption = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Events of a country that validation refused, with the reasons.

    The hub sends a national officer (or a data-protection officer) of the country its
    own entries: pseudonyms, positions and reasons. With --records (an export holding the
    record ids), each pseudonym is matched to its national record_id on this machine,
    with the country's key: fix the record and push it again, and the entry shows as
    resolved. Nothing here opens the warehouse.
    """
    from producers import country_keys
    from producers.pseudonymise import KeyMissing, record_ids_by_pseudonym

    settings = _settings()
    country = country.upper()
    entries = _ask("quarantine", {"country": country}, token)["entries"]
    try:
        names = record_ids_by_pseudonym(country_keys.migrate(settings, country), country, records) if records else {}
    except (KeyMissing, FileNotFoundError, PermissionError) as error:
        raise _fail(str(error)) from None
    if not show_resolved:
        entries = [e for e in entries if not e["resolved"]]
    columns = ["quarantined_at", "offset", "record", "reasons", "resolved"]
    rows = []
    for e in entries:
        pseudonym = e["record_ref"] or ""
        record = names.get(pseudonym, pseudonym[:12] or "unreadable")
        position = f"{e['partition']}:{e['offset']}"
        rows.append([str(e["quarantined_at"])[:19], position, record, e["reasons"], str(e["resolved"]).lower()])
    _print_rows(columns, rows, format, title=f"{country}: {len(rows)} quarantined events")


class ErasedKind(StrEnum):
    victims = "victims"
    perpetrators = "perpetrators"


@app.command()
def erase(
    country: Annotated[str, typer.Option("--country", help="Your country: the records are its.")],
    records: Annotated[
        Path,
        typer.Option(
            "--records",
            help="A file of national record ids: one per line, or a CSV with a record_id column.",
            exists=True,
            dir_okay=False,
        ),
    ],
    kind: Annotated[ErasedKind, typer.Option("--kind", help="victims or perpetrators.")] = ErasedKind.victims,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    token: TokenOption = None,
) -> None:
    """Erase records from the hub, for a court order or a data subject's request.

    The record ids become pseudonyms here, with your country's key; only those go to
    the hub, with a national officer's token of your country. The hub removes every
    version of the records from the topic, the raw layer, the linkage store, the marts,
    the release snapshots and the quarantine, rewrites its database files, and drops the
    records if they are pushed again. It cannot be undone. Remove the records from your
    national export too: each push of them is dropped at the hub (counted as erased).
    """
    from producers import country_keys
    from producers.erasure_list import ErasureListRejected, pseudonyms, record_ids
    from producers.pseudonymise import KeyMissing

    settings = _settings()
    country = country.upper()
    if country not in COUNTRIES:
        raise _fail(f"unknown country {country!r}; one of {', '.join(COUNTRIES)}")
    try:
        ids = record_ids(records)
        refs = pseudonyms(country_keys.migrate(settings, country), country, kind.value, ids)
    except (ErasureListRejected, KeyMissing, PermissionError) as error:
        raise _fail(str(error)) from None
    if not yes and not typer.confirm(f"Erase {len(refs)} {kind.value} record(s) of {country} from the hub, for good?"):
        raise _fail("nothing erased", code=1)
    answer = _ask("erase", {"country": country, "kind": kind.value, "record_refs": refs}, token)
    erased = answer["erased"]
    table = Table(
        "store", "removed", title=f"{country}: {erased['found']} of {erased['records']} records found and erased"
    )
    table.add_row("raw layer: record versions", str(erased["versions"]))
    table.add_row("quarantine: entries", str(erased["quarantined"]))
    table.add_row("linkage store: encodings", str(erased["encodings"]))
    table.add_row("release snapshots: older ones deleted", str(erased["snapshots_deleted"]))
    table.add_row("database files rewritten", str(erased["files_rewritten"]))
    table.add_row("Kafka: waiting events of the records, dropped", str(erased["dropped_waiting"]))
    out.print(table)
    out.print(
        f"Marts rebuilt and a new release published. The broker's files hold no event of these records after"
        f" {erased['broker_clear_by']} (the stated erasure time). Pushed again, they are dropped at load."
    )
