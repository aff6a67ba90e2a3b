"""How the kit's command-line steps stop: with their parent, and on a signal with the signal's exit code
(130 for INT, 143 for TERM), saying so in one line rather than a traceback."""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Stopped(KeyboardInterrupt):
    """A stop by a signal: unwinds like Ctrl-C (context managers shut kernels and jobs down) and knows its code."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.exit_code = EXIT_CODES.get(signum, 128 + signum)


def exit_code(stop: KeyboardInterrupt) -> int:
    return getattr(stop, "exit_code", 130)


def _raise(signum, frame):
    raise Stopped(signum)


def die_with_parent() -> None:
    """Linux sends this process SIGTERM when its parent exits (run_all.sh killed with -9): no step works on alone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to ask
        return
    if os.getppid() == 1:  # the parent was already gone before the request
        os.kill(os.getpid(), signal.SIGTERM)


def stoppable(main):
    """Run a command-line `main` as a step of run_all.sh: SIGTERM and SIGINT stop it as Stopped, it dies with its
    parent, and a stop returns the signal's exit code with one line on stderr."""
    def wrapped(argv=None) -> int:
        signal.signal(signal.SIGTERM, _raise)
        signal.signal(signal.SIGINT, _raise)
        die_with_parent()
        try:
            return main(argv)
        except KeyboardInterrupt as stop:
            print(f"{os.path.basename(sys.argv[0]) or 'step'}: stopped", file=sys.stderr)
            return exit_code(stop)
    return wrapped
