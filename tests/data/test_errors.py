"""Warnings name the user's line, wherever the user's code sits."""

import warnings
from pathlib import Path

import pytest

from bayespatial.data import errors

ROOT = Path(errors.__file__).resolve().parents[1]


def _compiled(source: str, path: Path, scope: dict) -> None:
    exec(compile(source, str(path), "exec"), scope)


def test_a_script_inside_the_clone_is_the_users_code():
    """In an editable install the package folder is the git clone; a script saved there is
    the user's, and a warning raised two package frames deep points at it."""
    scope = {"warnings": warnings, "user_stacklevel": errors.user_stacklevel}
    inner = (
        "def inner():\n    warnings.warn('careful', UserWarning, stacklevel=user_stacklevel())\n"
    )
    _compiled(inner, ROOT / "models" / "_not_a_module.py", scope)
    _compiled("def middle():\n    inner()\n", ROOT / "engine" / "_not_a_module.py", scope)
    script = ROOT / "my_analysis.py"
    _compiled("def analysis():\n    middle()\n", script, scope)
    with pytest.warns(UserWarning, match="careful") as record:
        scope["analysis"]()
    assert record[0].filename == str(script)
    assert record[0].lineno == 2


def test_top_level_modules_are_listed():
    """Every module at the package's top level counts as the package's own code."""
    here = {p.name for p in ROOT.glob("*.py")}
    assert here <= set(errors.TOP_LEVEL_MODULES)
