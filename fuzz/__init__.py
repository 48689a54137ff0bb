"""confide's fuzz targets: coverage-guided fuzzing of everything that parses peer bytes.

Run from a checkout with the test extras installed::

    python -m fuzz all --runs 20000        # every target, 20,000 inputs each
    python -m fuzz framing --runs 1000000  # one target
    python -m fuzz --list                  # the targets and what each one feeds

How this works. ``fuzz/targets.py`` holds one plain function per target that
takes the fuzzer's bytes, drives one parser with them, and lets only the
errors that parser documents pass (``ConfideError`` subclasses; the relay's
routing code has its own ``FrameError``). Anything else, an assertion in a
target included, is a finding. Each target also brings seeds: real transcripts
made with fixed randomness, so the fuzzer starts from inputs that get past the
handshake.

``python -m fuzz`` (``__main__.py``) runs each target in a child process
(``worker.py``), because libFuzzer ends its process when it is done, and
prints one summary line per target: name, inputs run, result, seconds,
engine. The engine is atheris (libFuzzer with Python coverage feedback) when
it is installed; otherwise, or with ``--engine mutate``, a seeded
random-mutation loop over the same seeds and target functions, and the
summary says so. A failing input is saved under ``--artifacts`` (default
``fuzz-crashes/``) and the exit status is 1.
"""
