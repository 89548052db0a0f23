"""Build configuration beyond pyproject.toml: the optional C helpers (``dashfix/native.py``).

``optional=True``: where no C compiler is available the install still succeeds, and the
stream checks use the same rules written in Python (dashfix.checks.stream.scan), slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "dashfix._native",
            ["dashfix/_native.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
        )
    ]
)
