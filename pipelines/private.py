"""The data folder is private: folders 0700, files 0600, whatever the process umask says.

The database, the lake, checkpoints, rejects and secrets hold audit records and credentials:
a default umask (022) left all of them readable by every user of the host. Commands narrow
their umask once (``private_umask``); library code that creates folders or files of the data
folder also sets the modes itself (``private_dir``, ``private_file``), since it may run in a
process that did not (a test, an embedding application).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("functrail.files")

PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Make every file and folder this process creates from now on owner-only; the old mask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path | str, *, narrow: bool = True) -> Path:
    """``path`` created 0700 (missing parents too, also 0700); with ``narrow``, an existing
    folder of ours that others can enter is narrowed to 0700. Only for folders functrail owns
    (the data folder, the lake): never narrow a folder the operator merely chose for a file."""
    folder = Path(path)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for new in reversed(missing):  # parents too: mkdir(parents=True) gives them the umask's
        with contextlib.suppress(FileExistsError):
            new.mkdir(mode=0o700)
    info = folder.stat()
    if narrow and info.st_mode & 0o077 and info.st_uid == os.getuid():
        try:
            folder.chmod(stat.S_IMODE(info.st_mode) & 0o700)
        except OSError as exc:  # a mount point or an ACL we cannot change: say so, go on
            log.warning("%s is readable by others and could not be narrowed: %s", folder, exc)
    return folder


def private_file(path: Path | str) -> None:
    """Narrow an existing file to 0600 (files written by libraries that take no mode)."""
    os.chmod(path, 0o600)


def create_private(path: Path | str) -> None:
    """Create ``path`` empty and 0600 unless it exists (a file a library then opens itself)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
