"""Ending runs when the process ends, so nothing is left RUNNING.

- ``atexit``: a run still open at a normal exit is finished (FINISHED, or FAILED /
  KILLED when an uncaught exception ended the program: ``sys.excepthook`` notes it).
- SIGTERM (when ``handle_signals``): open runs are finished as KILLED, then the
  handler that was installed before ours runs (Lightning's, a SLURM requeue hook...);
  when there was none, SIGTERM's default action follows and the process ends as it
  would have without Kiroku. A SIGTERM that was ignored stays ignored.
- A forked child (DataLoader workers) inherits the runs but records nothing to them
  and never finishes them.
- SIGKILL cannot be caught: the server marks the run CRASHED once its heartbeat stops.

Installed once per process, on the first ``kiroku.init()``; handlers are chained,
never replaced.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiroku.run import Run

logger = logging.getLogger("kiroku")
_runs: list[Run] = []
_lock = threading.RLock()
_installed_atexit = False
_installed_signal = False
_previous_sigterm: Any = None
_previous_excepthook: Any = None


def register(run: Run, *, handle_signals: bool) -> None:
    global _installed_atexit, _previous_excepthook
    with _lock:
        _runs.append(run)
        if not _installed_atexit:
            atexit.register(_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork)
            _previous_excepthook = sys.excepthook
            sys.excepthook = _excepthook
            _installed_atexit = True
    if handle_signals:
        _install_sigterm()


def unregister(run: Run) -> None:
    with _lock:
        if run in _runs:
            _runs.remove(run)


def open_runs() -> list[Run]:
    with _lock:
        return [r for r in _runs if r._pid == os.getpid()]


def _install_sigterm() -> None:
    global _installed_signal, _previous_sigterm
    if _installed_signal:
        return
    if threading.current_thread() is not threading.main_thread():
        logger.debug("kiroku: init() outside the main thread; no SIGTERM handler")
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        return
    _previous_sigterm = previous
    signal.signal(signal.SIGTERM, _on_sigterm)
    _installed_signal = True


def _finish_all(status: str, *, on_signal: bool = False) -> None:
    for run in open_runs():
        timeout = run.settings.sigterm_timeout if on_signal else None
        try:
            run.finish(run._exit_status or status, timeout=timeout)
        except Exception:  # one run's trouble must not keep the others open
            logger.exception("kiroku: could not finish %r", run)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for run in open_runs():
        run._exit_status = "killed"
    _finish_all("killed", on_signal=True)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # The default action: end the process by the same signal, as without Kiroku.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _excepthook(
    kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    status = "killed" if issubclass(kind, KeyboardInterrupt) else "failed"
    for run in open_runs():
        run._exit_status = run._exit_status or status
    hook = _previous_excepthook or sys.__excepthook__
    hook(kind, value, traceback)


def _after_fork() -> None:
    """In a forked child (a DataLoader worker...) the parent's runs are not ours: their
    sender thread does not exist here, so logging would only fill memory."""
    global _lock
    _lock = threading.RLock()  # another thread may have held it at the fork
    for run in _runs:
        run._accepting = False


def _at_exit() -> None:
    _finish_all("finished")
