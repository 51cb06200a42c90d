"""`consent-gateway linkage ...`: batch identity resolution from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

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
