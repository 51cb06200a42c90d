"""`consent-gateway linkage ...`: batch identity resolution from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err)


@click.group("linkage")
def linkage_cli() -> None:
    """Identity resolution: link source records into persons."""


def _read_table(path: Path) -> object:
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                           encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        err.print(f"[red]cannot read {path}[/red]: {exc}. Give a UTF-8 CSV file with a header row.")
        sys.exit(2)


@linkage_cli.command("resolve")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="YAML mapping of the file's columns (default: canonical names).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write record_id,cluster_id.")
@click.option("--threshold", type=float, default=None,
              help="Match weight an edge needs to join two clusters (default: the production value).")
def resolve_command(file: Path, mapping_path: Path | None, out_path: Path, threshold: float | None) -> None:
    """Link the records of FILE (CSV) and write record_id,cluster_id for each, storing nothing.

    Exactly the production matching and clustering: normalisation, Splink model trained on
    FILE itself (EM, in memory), non-chaining clustering. Without --mapping, the columns
    named record_id, source, first_name, middle_name, last_name, birth_date, sex, email,
    phone, house_number, street, unit, po_box, city, postcode, region, country and
    loyalty_card are used (any may be missing or empty); others are ignored.
    """
    import pandas as pd

    from gateway.linkage.cluster import DEFAULT_THRESHOLD
    from gateway.linkage.mapping import MappingError, apply_frame, identity_mapping, load_mapping
    from gateway.linkage.prepare import frame_of
    from gateway.linkage.resolve import resolve_frame

    raw = _read_table(file)
    assert isinstance(raw, pd.DataFrame)
    try:
        mapping = load_mapping(mapping_path) if mapping_path else identity_mapping(list(raw.columns))
    except MappingError as exc:
        for problem in exc.problems:
            err.print(f"[red]{problem}[/red]")
        err.print("fix the mapping file and run again")
        sys.exit(2)
    key = mapping.key or ("record_id" if "record_id" in raw.columns else None)
    ids = raw[key].astype(str) if key and key in raw.columns else pd.Series(
        [str(i + 1) for i in range(len(raw))])
    with _progress() as progress:
        task = progress.add_task("prepare", total=3)
        records = apply_frame(mapping, raw)
        records["record_id"] = ids.to_numpy()
        if "source" in raw.columns and "source" not in records.columns:
            records["source"] = raw["source"].to_numpy()
        frame = frame_of(records, day_first=mapping.day_first)
        progress.update(task, advance=1, description="train, score and cluster")
        result = resolve_frame(frame, threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
        progress.update(task, advance=1, description="write")
        pd.DataFrame({"record_id": ids.to_numpy(), "cluster_id": result.labels}).to_csv(out_path, index=False)
        progress.update(task, advance=1)
    err.print(f"{len(ids)} records in {len(set(result.labels.tolist()))} clusters -> {out_path}")


def _rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    import csv
    import json

    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if fmt == "csv":
                return [dict(row) for row in csv.DictReader(handle)]
            rows = []
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise TypeError(f"line {number} is not a JSON object")
                rows.append(value)
            return rows
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        err.print(f"[red]cannot read {path}[/red]: {exc}. Give UTF-8 {fmt} (one record per row/line).")
        sys.exit(2)


@click.command("ingest")
@click.argument("source")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--mapping", "mapping_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="YAML mapping (default: policies/sources/SOURCE.yaml, else canonical names).")
@click.option("--mode", type=click.Choice(["skip", "all"]), default="skip", show_default=True,
              help="skip: ingest the valid rows; all: any bad row refuses the whole file.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the rejected rows (row, field, reason; never values) as CSV here.")
@click.option("--batch", default=20_000, show_default=True, type=click.IntRange(100, 1_000_000),
              help="Rows per transaction in skip mode.")
def ingest_command(source: str, file: Path, fmt: str, mapping_path: Path | None, mode: str,
                   report_path: Path | None, batch: int) -> None:
    """Ingest FILE from source system SOURCE: validate, match, link into persons, store sealed.

    Re-ingesting the same records changes nothing (source + source key identify a record).
    Every batch is one transaction with its audit entry (counts only).
    """
    import csv
    import getpass

    from gateway.app import build_services
    from gateway.config import Settings
    from gateway.linkage.ingest import Ingestion, ingest_audited
    from gateway.linkage.mapping import SOURCE_NAME, MappingError, identity_mapping, load_mapping
    from gateway.linkage.survivorship import SurvivorshipError, load_survivorship

    if not SOURCE_NAME.match(source):
        err.print("[red]SOURCE must be a lower-case name of 1-16 letters, digits or _[/red]")
        sys.exit(2)
    settings = Settings.from_env()
    default = settings.policy_dir / "sources" / f"{source}.yaml"
    rows = _rows(file, fmt)
    try:
        if mapping_path or default.exists():
            mapping = load_mapping(mapping_path or default)
        else:
            mapping = identity_mapping(sorted({k for r in rows for k in r}), source)
        survivorship = load_survivorship(settings.policy_dir / "survivorship.yaml")
    except (MappingError, SurvivorshipError) as exc:
        for problem in exc.problems:
            err.print(f"[red]{problem}[/red]")
        err.print("fix the file and run again; nothing was ingested")
        sys.exit(2)
    services = build_services(settings)
    ctx = Ingestion(services.vault, survivorship, actor=getpass.getuser())
    chunks = [rows] if mode == "all" else [rows[i:i + batch] for i in range(0, len(rows), batch)] or [[]]
    totals: dict[str, int] = {}
    rejected = []
    with _progress() as progress:
        task = progress.add_task(f"ingest {source}", total=len(rows))
        for offset, chunk in zip(range(0, max(len(rows), 1), batch), chunks, strict=False):
            with services.engine.begin() as conn:
                report = ingest_audited(conn, ctx, source, chunk, mapping,
                                        audit=services.pseudonyms.for_audit(), signer=services.signer,
                                        mode=mode, settings=settings)
            for name, value in report.counts().items():
                totals[name] = totals.get(name, 0) + value
            base = 0 if mode == "all" else offset
            rejected += [(r.row + base, r.field, r.reason) for r in report.rejected]
            progress.update(task, advance=len(chunk))
    services.engine.dispose()
    if report_path is not None:
        with report_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "field", "reason"])
            writer.writerows(rejected)
    summary = ", ".join(f"{k} {v}" for k, v in totals.items())
    if mode == "all" and rejected:
        err.print(f"[red]refused: {len(rejected)} bad rows, nothing ingested[/red] ({summary}); "
                  "see --report, fix the rows and run again")
        sys.exit(1)
    err.print(f"{source}: {summary}")
