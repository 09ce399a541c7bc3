"""``wandbkit ckpt``: ls, show, verify, gc, pull.

Reading commands (ls, show, verify, pull) open the store read-only: pointed at the wrong
folder they say so in one line and create nothing. User text (names, aliases, metric keys) is
printed as Rich ``Text``, never read as markup.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Checkpoint versions: list, inspect, verify, clean up, download.",
                  no_args_is_help=True)

STORE_HELP = "local store root (default: $WANDBKIT_DIR or ./wandbkit-runs)"
DirOption = typer.Option(None, "--dir", envvar="WANDBKIT_DIR", help=STORE_HELP)


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a UserError into one line on stderr and exit code 2 (as the core CLI does)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from wandbkit.errors import UserError

        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _parse_size(text: str) -> int:
    units = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2,
             "G": 1024**3, "GB": 1024**3, "T": 1024**4, "TB": 1024**4}
    t = text.strip().upper()
    num = t.rstrip("KMGTB")
    try:
        return int(float(num) * units[t[len(num):]])
    except (KeyError, ValueError):
        from wandbkit.errors import UserError

        raise UserError(f"--cache-cap {text!r}: use a size such as 500MB or 2GB") from None


def _index(store: Path | None, readonly: bool = True) -> Any:
    from wandbkit_artifacts.index import Index

    return Index.open(store, readonly=readonly)


def _lookup(index: Any, ref: str) -> Any:
    """The listed version ``ref`` (``NAME[@RUN][:ALIAS]``) names; exit 2 listing what exists
    when it names nothing. A bare name several runs saved means the newest run's, with a
    notice naming the others (:func:`wandbkit_artifacts.loader.scope_for`)."""
    from wandbkit_artifacts.errors import UnknownReference
    from wandbkit_artifacts.loader import describe_available, parse_scoped_ref, scope_for

    name, alias, run = parse_scoped_ref(ref)
    version = index.resolve(name, alias, scope_for(index, name, run))
    if version is None:
        raise UnknownReference(f"no checkpoint {ref}; {describe_available(index, name)}")
    return version


@app.command("ls")
@_user_errors
def ls(name: str | None = typer.Argument(None, help="only this checkpoint name (NAME@RUN: "
                                         "only that run's)"),
       as_json: bool = typer.Option(False, "--json", help="one JSON list"),
       store: Path | None = DirOption) -> None:
    """List versions: the run that saved each, its aliases, step, metrics, size."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from wandbkit.formatting import human_size
    from wandbkit_artifacts.errors import UnknownReference
    from wandbkit_artifacts.loader import describe_available, parse_scoped_ref

    index = _index(store)
    run = None
    if name is not None:
        name, _, run = parse_scoped_ref(name)
        if name not in index.names():
            raise UnknownReference(f"no checkpoint named {name!r}; {describe_available(index)}")
    versions = index.versions(name, run)
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in versions], indent=1, default=repr))
        return
    table = Table("name", "version", "run", "aliases", "step", "metrics", "size", "created")
    for v in versions:
        metrics = ", ".join(f"{k}={val:.4g}" if isinstance(val, float) else f"{k}={val}"
                            for k, val in v.metrics.items())
        cells = (v.name, f"v{v.version}", v.run_id or "", ", ".join(v.aliases), str(v.step),
                 metrics, human_size(v.size),
                 datetime.fromtimestamp(v.created).strftime("%Y-%m-%d %H:%M:%S"))
        table.add_row(*(Text(c) for c in cells))
    Console().print(table if versions else Text(f"no checkpoints in {index.root}"))


@app.command("show")
@_user_errors
def show(ref: str = typer.Argument(..., help="NAME:ALIAS, NAME:vN or NAME (latest)"),
         store: Path | None = DirOption) -> None:
    """Print a version's index entry and manifest as JSON."""
    from wandbkit_artifacts.layout import read_manifest

    version = _lookup(_index(store), ref)
    try:
        manifest = read_manifest(version.path)
    except ValueError as exc:
        manifest = {"error": str(exc)}
    typer.echo(json.dumps({**version.to_dict(), "manifest": manifest}, indent=1, default=repr))


@app.command("verify")
@_user_errors
def verify(ref: str = typer.Argument(..., help="NAME (every version) or NAME:ALIAS"),
           as_json: bool = typer.Option(False, "--json"),
           store: Path | None = DirOption) -> None:
    """Check sizes and digests of every file; exit 1 on any mismatch."""
    from rich.progress import Progress

    from wandbkit_artifacts.errors import UnknownReference
    from wandbkit_artifacts.loader import describe_available, parse_scoped_ref, verify_folder

    index = _index(store)
    if ":" in ref:
        versions = [_lookup(index, ref)]
    else:
        name, _, run = parse_scoped_ref(ref)
        versions = index.versions(name, run)
        if not versions:
            raise UnknownReference(f"no checkpoint named {ref!r}; {describe_available(index)}")
    results = {}
    with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as progress:
        task = progress.add_task("verifying", total=len(versions))
        for v in versions:
            results[v.ref] = verify_folder(v.path)
            progress.advance(task)
    bad = {k: p for k, p in results.items() if p}
    if as_json:
        typer.echo(json.dumps({k: {"ok": not p, "problems": p} for k, p in results.items()},
                              indent=1))
    else:
        for k, problems in results.items():
            typer.echo(f"{k}: " + ("ok" if not problems else "FAILED"))
            for p in problems:
                typer.echo(f"  {p}")
    if bad:
        raise typer.Exit(1)


@app.command("gc")
@_user_errors
def gc_cmd(dry_run: bool = typer.Option(False, "--dry-run", help="list, delete nothing"),
           cache_cap: str = typer.Option("2GB", "--cache-cap",
                                         help="trim wandb's artifact cache to this size"),
           purge_unsynced: bool = typer.Option(False, "--purge-unsynced",
                                               help="also drop files kept for offline W&B uploads"),
           cache_dir: Path | None = typer.Option(
               None, "--cache-dir", help="also trim this cache folder (e.g. "
               "$WANDB_CACHE_DIR/artifacts); without it only the store's own cache is trimmed"),
           as_json: bool = typer.Option(False, "--json"),
           store: Path | None = DirOption) -> None:
    """Remove leftovers of crashed saves, retired versions and excess wandb cache; list again
    complete versions the index lost."""
    from wandbkit.formatting import human_size
    from wandbkit_artifacts.cleanup import gc

    report = gc(store, dry_run=dry_run, cache_cap=_parse_size(cache_cap),
                purge_unsynced=purge_unsynced, cache_dir=cache_dir)
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "dry_run": dry_run}, indent=1))
        return
    verb = "would remove" if dry_run else "removed"
    for p in report.removed:
        typer.echo(f"{verb} {p}")
    for p in report.kept_for_sync:
        typer.echo(f"kept until `wandbkit sync` applies its W&B deletion: {p}")
    for p in report.reindexed:
        typer.echo(f"{'would list' if dry_run else 'listed'} again (complete, not in the index): {p}")
    caches = ", ".join(f"{d}: {human_size(n)}" for d, n in report.caches.items())
    typer.echo(f"{verb} {len(report.removed)} item(s), {human_size(report.freed)}; "
               f"wandb artifact cache {caches}")


@app.command("pull")
@_user_errors
def pull(ref: str = typer.Argument(..., help="NAME:ALIAS, NAME@RUN:ALIAS or NAME:vN"),
         to: Path = typer.Option(..., "--to", help="destination folder"),
         hf_repo: str | None = typer.Option(None, "--hf-repo", help="HF Hub repo to try last"),
         store: Path | None = DirOption) -> None:
    """Copy a version (local index, else W&B, else HF Hub) into a folder and verify it."""
    from wandbkit_artifacts.loader import resolve, verify_folder
    from wandbkit_artifacts.remote import pull as copy_version

    path, _ = resolve(ref, _index(store), hf_repo)
    dest = copy_version(path, to)
    problems = verify_folder(dest)
    for p in problems:
        typer.echo(p, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{ref} -> {dest}")
