"""Where commands write: every target is checked before any work starts, and outputs appear whole or not at
all. A command builds its files in a staging folder beside the target and moves each into place with a
rename at the end, so an interrupt or a failure leaves the previous outputs as they were, never a mix."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mbrlbench.errors import UserInputError


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    return next(p for p in (path, *path.parents) if p.exists())


def check_output_dir(path: Path, flag: str, named: Path | None = None) -> None:
    """``path`` can be a folder of outputs: it is one or can be made, and files can be written there
    (``named``: the flag's value the message names, when it is a file in ``path``)."""
    existing = _nearest_existing(Path(path))
    named = named or path
    if not existing.is_dir():
        raise UserInputError(f"{flag} {named}: {existing} is a file, not a folder; give a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".mbrlbench-probe-")
    except OSError as err:
        raise UserInputError(f"{flag} {named}: cannot write in {existing} ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path: Path, flag: str) -> None:
    """``path`` can be a file of output: not a folder, and its folder can be written."""
    if Path(path).is_dir():
        raise UserInputError(f"{flag} {path}: is a folder; give a file name")
    check_output_dir(Path(path).parent, flag, named=Path(path))


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A staging folder for what will land in ``target``: on success each of its entries replaces the
    same-named entry of ``target`` (files by an atomic rename; folders as a whole); on any exception,
    KeyboardInterrupt included, the staging folder is removed and ``target`` is untouched."""
    target = Path(target)
    made = [p for p in (target.absolute(), *target.absolute().parents) if not p.exists()]
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
    try:
        try:
            yield stage
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            for folder in made:  # deepest first: the folders this call made, if nothing else is in them
                try:
                    folder.rmdir()
                except OSError:
                    break
            raise
        for entry in sorted(stage.iterdir()):
            into = target / entry.name
            if entry.is_dir():
                if into.exists():
                    old = target / f".{entry.name}.old-{os.getpid()}"
                    os.replace(into, old)
                    os.replace(entry, into)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.replace(entry, into)
            else:
                os.replace(entry, into)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
