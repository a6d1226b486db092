"""Runs this Python process's calendar `TEST_CLOCK_SHIFT_SECONDS` ahead, when that is set.

`make test TEST_TODAY=2027-03-15` sets it and puts this folder on PYTHONPATH, so every Python process
of the suite (pytest, the back office and its worker, the company systems, Rasa, the action server)
lives on that day from its start, with the clock running on. Only the calendar moves: monotonic
clocks and timed waits stay real, which libfaketime around the suite could not keep. A process a
test runs under libfaketime moves by both, so a test's own offsets still hold.
"""
import os
import sys
import time

_shift = os.environ.get("TEST_CLOCK_SHIFT_SECONDS")
if _shift:
    try:
        import time_machine
    except ImportError:  # a Python outside the test environments (pip's, the system's): its real day
        sys.stderr.write(f"sitecustomize: no time_machine in {sys.prefix}; this process keeps the real date\n")
    else:
        time_machine.travel(time.time() + float(_shift), tick=True).start()
        # time-machine's clock starts running at its first reading, not at start(): read it now, so every
        # process stands the same shift ahead of the machine's clock however long its imports take
        time.time()
