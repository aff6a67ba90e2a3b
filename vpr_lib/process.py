"""How the kit's command-line steps stop: with their parent, and on a signal with the signal's exit code
(130 for INT, 143 for TERM), saying so in one line rather than a traceback."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Stopped(KeyboardInterrupt):
    """A stop by a signal: unwinds like Ctrl-C (context managers shut kernels and jobs down) and knows its code."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.exit_code = EXIT_CODES.get(signum, 128 + signum)


def exit_code(stop: KeyboardInterrupt) -> int:
    return getattr(stop, "exit_code", 130)


def die_with_parent() -> None:
    """Linux sends this process SIGTERM when its parent exits: asked only by a step of run_all.sh (which exports
    VPR_DIE_WITH_PARENT=<its pid>), so that a kill -9 of run_all.sh leaves no step working on alone; a command run by
    hand (say under nohup) is left alone."""
    if os.environ.get("VPR_DIE_WITH_PARENT") != str(os.getppid()):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to ask
        return
    if os.environ.get("VPR_DIE_WITH_PARENT") != str(os.getppid()):  # the parent died before the request
        os.kill(os.getpid(), signal.SIGTERM)


def _stop_once(signum, frame):
    """The first SIGINT or SIGTERM stops the step; later ones are ignored, so that they cannot cut its unwinding
    (a kernel's shutdown, the cancelling of local jobs) short. Ctrl-C in run_all.sh sends both."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stopped(signum)


@contextmanager
def signals_held():
    """SIGINT and SIGTERM wait until the block ends (a swap of files that must not stop half-way)."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def stoppable(main):
    """Run a command-line `main` as a step: SIGTERM (and SIGINT, unless the step inherited it ignored, as run_all.sh's
    background steps do: run_all.sh then forwards a TERM) stop it as Stopped, it dies with run_all.sh, and a stop
    returns the signal's exit code with one line on stderr."""
    def wrapped(argv=None) -> int:
        signal.signal(signal.SIGTERM, _stop_once)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _stop_once)
        die_with_parent()
        try:
            return main(argv)
        except KeyboardInterrupt as stop:
            print(f"{os.path.basename(sys.argv[0]) or 'step'}: stopped", file=sys.stderr)
            return exit_code(stop)
    return wrapped
