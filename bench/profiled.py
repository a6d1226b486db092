"""Run a Python module under cProfile and write its statistics when sent SIGUSR1, for the profile of a server
that is stopped from outside: `python -m bench.profiled OUT.pstats module [args...]` (bench/profile.py runs the
action server so)."""
from __future__ import annotations

import cProfile
import runpy
import signal
import sys


def main() -> None:
    out, module, *rest = sys.argv[1:]
    profiler = cProfile.Profile()

    def dump(*_: object) -> None:
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = [module, *rest]
    profiler.enable()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
