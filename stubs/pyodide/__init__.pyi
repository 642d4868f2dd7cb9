# Typed stub for the `pyodide` package, as far as PACKAGE.broker uses it: only its `ffi` submodule
# (pyodide/ffi.pyi). Checked against Pyodide 0.28.2's API (pyodide/__init__.py in python_stdlib.zip).
# mypy reads it through `mypy_path` in pyproject.toml; nothing at runtime imports it.

__version__: str
