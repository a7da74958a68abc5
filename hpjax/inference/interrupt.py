"""Ctrl-C that is never lost in a long loop: a SIGINT latch.

Python turns SIGINT into a ``KeyboardInterrupt`` at the main thread's next bytecode check,
wherever that is. Two places swallow it there and the loop would run on to its end:

- a callback whose exceptions Python ignores: JAX's garbage-collection callback
  (``_xla_gc_callback``) runs during tracing; a ``KeyboardInterrupt`` raised in it is printed
  as "Exception ignored in ..." and dropped. 8 of 25 SIGINTs sent at random moments while the
  ``paper`` likelihood's gradient was traced were lost this way (benchmarks/NOTES.md,
  2026-12-08). The hpjax command's unraisable hook delivers those again (0 of 40 lost with it),
  a library caller has no such hook;
- a bare ``except:`` in JAX's tracing code (``lax.broadcast_shapes``, ``core.is_dim`` and others
  catch everything to try another way): none of those 40, but possible wherever one runs.

:func:`remembers_sigint` wraps a long-running function (:func:`hpjax.inference.scan.scan`,
:func:`hpjax.inference.sample.sample`): while it runs, every SIGINT is counted before the
previous handler runs (which raises ``KeyboardInterrupt`` as before), and :func:`check`, called
by the loop at each safe point (after a chunk, after a segment of draws), raises
``KeyboardInterrupt`` if a SIGINT arrived that nothing raised. The loop's own Ctrl-C handling
then keeps what is finished, as for an interrupt that was raised at once.

Only in the main thread, and only over a Python-level handler (the default one, or a user's):
where SIGINT is ignored or handled outside Python nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading

__all__ = ["remembers_sigint", "sigint_latch", "check"]


class _Latch:
    __slots__ = ("count",)

    def __init__(self):
        self.count = 0


_active: list[_Latch] = []


@contextlib.contextmanager
def sigint_latch():
    """Count the SIGINTs that arrive inside the block (the previous handler still runs)."""
    latch = _Latch()
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if not callable(previous):  # another thread, SIG_IGN, SIG_DFL, or a handler set from C
        yield latch
        return

    def handler(signum, frame):
        latch.count += 1
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    _active.append(latch)
    try:
        yield latch
    finally:
        _active.remove(latch)
        signal.signal(signal.SIGINT, previous)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT arrived inside an active latch since the last check."""
    if any(latch.count for latch in _active):
        for latch in _active:  # one Ctrl-C, one KeyboardInterrupt (a nested latch counted it too)
            latch.count = 0
        raise KeyboardInterrupt


def remembers_sigint(fn):
    """Run ``fn`` inside :func:`sigint_latch`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with sigint_latch():
            return fn(*args, **kwargs)

    return wrapper
