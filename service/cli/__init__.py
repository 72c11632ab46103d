"""Command-line entry point. Exit codes: 0 done, 1 failed, 2 bad usage."""

from __future__ import annotations

import atexit
import gc
import os
import sys

from pipelines.lifelong import lifelong
from pipelines.native import set_native_options
from pipelines.private import private_umask
from service.cli.app import CommandFailed, app, err
from service.cli.dispatch import register


def main() -> None:
    """Run the CLI; failures print one line (no traceback unless FUNCTRAIL_DEBUG=1) and exit 1.

    Everything a command writes (database, lake, checkpoints, rejects, models, secrets) is the
    owner's alone: files 0600, folders 0700.
    """
    private_umask()
    set_native_options()  # before any command imports numpy or pyarrow
    # The interpreter's last act is a garbage collection over every object the command made
    # (0.25 s of CPU after detect over a day of logs); the process's memory goes back whole,
    # so it is skipped (an exit handler: it runs once the command's own handlers are done).
    atexit.register(gc.freeze)
    with lifelong():
        register(sys.argv[1:])  # the modules of the command this run names, not all of them
    try:
        app(standalone_mode=True)
    except CommandFailed as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, style="red")
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # last line of defence: one line, exit 1
        if os.environ.get("FUNCTRAIL_DEBUG") == "1":
            raise
        err.print(f"error: {type(exc).__name__}: {exc}", markup=False, highlight=False)
        sys.exit(1)
