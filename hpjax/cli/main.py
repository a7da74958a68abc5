"""``hpjax``: parse the command line and hand it to the command's module (see :mod:`hpjax.cli`)."""

from __future__ import annotations

import argparse
import sys

from . import demo, fit, hypotest, scan
from .common import Interrupted

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

# each module's register(sub) adds its subcommands; a new command is one module and one entry here
COMMAND_MODULES = (demo, fit, scan, hypotest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpjax", description="Higgs-portal likelihoods for Belle II B+ -> K+ nu nubar")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def persistent_cache() -> str | None:
    """Compiled XLA programs kept on disk between hpjax commands (JAX's persistent compilation
    cache): a second ``hpjax scan`` of the same specification loads its programs instead of
    compiling them (fits/fig1_unified.toml: 5.4 -> 3.5 s). The directory is JAX_COMPILATION_CACHE_DIR
    when set (the Makefile's .cache/jax), else HPJAX_CACHE_DIR, else $XDG_CACHE_HOME/hpjax/jax
    (~/.cache/hpjax/jax); HPJAX_CACHE_DIR=none switches it off. It is not size-limited (JAX's limit
    needs the filelock package): a scan's programs take a few MB; delete the directory to clear it.
    Returns the directory in use, or None."""
    import os

    import jax

    chosen = os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir
    if chosen:
        return chosen
    d = os.environ.get("HPJAX_CACHE_DIR")
    if d and d.lower() == "none":
        return None
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "hpjax", "jax")
    jax.config.update("jax_compilation_cache_dir", d)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # JAX's 1 s would keep none of a scan's
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    return d


def main(argv: list[str] | None = None) -> int:
    """Run the hpjax command (``argv``: the arguments; None: the command line).

    Ctrl-C ends with one line saying what was kept (exit status 130), never a traceback. On the
    command line (``argv`` None) the process then leaves with ``os._exit`` after flushing its
    output: a KeyboardInterrupt raised while XLA compiles (the compile returns with the signal's
    error while its worker threads still run) otherwise crashes the interpreter's shutdown with
    a segmentation fault.
    """
    args = build_parser().parse_args(argv)
    from ..inference.distributed import prefer_wide_vectors

    prefer_wide_vectors()  # AVX-512: 1.3-1.4x per core on the q^2 nodes (before JAX starts its backend)
    persistent_cache()
    previous_hook = sys.unraisablehook

    def unraisable(u):
        # a Ctrl-C that lands in a callback whose exceptions Python ignores (jax's gc callback
        # during compilation: "Exception ignored in _xla_gc_callback") would be lost and the
        # command would run on: deliver it again to the main thread, at its next instruction
        if u.exc_type is not None and issubclass(u.exc_type, KeyboardInterrupt):
            import _thread
            import threading

            # from another thread: called here it would be raised, and ignored, inside this hook
            threading.Timer(0.01, _thread.interrupt_main).start()
            return
        previous_hook(u)

    sys.unraisablehook = unraisable
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        msg = str(exc) if isinstance(exc, Interrupted) else f"hpjax {args.command}: interrupted; nothing was written"
        print(msg, file=sys.stderr)
        if argv is not None:
            sys.unraisablehook = previous_hook
            raise SystemExit(130) from None
        import os

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(130)
    finally:
        sys.unraisablehook = previous_hook


if __name__ == "__main__":
    sys.exit(main())
