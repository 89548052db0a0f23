"""Coverage-guided fuzzing of every decoder with atheris (libFuzzer): ``python -m fuzz``.

``fuzz/targets.py`` holds one target per decoder; ``fuzz/run_target.py`` fuzzes one target
in its own process (libFuzzer ends the process when done); ``fuzz/__main__.py`` runs the
targets one after another and prints how many inputs each took. docs/fuzzing.md says how to
run it and what the last long run found.
"""
