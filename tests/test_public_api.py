"""The package as a JupyterLab user and the ``sipas`` command see it: names, errors, start-up."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import types

import pytest

import sipas_analysis as sa
from sipas_analysis.paths import REPO_ROOT

MODULES = sorted(m.name for m in pkgutil.walk_packages(sa.__path__, "sipas_analysis."))


def test_dir_lists_the_modules_and_the_errors():
    names = dir(sa)
    assert {"SipasError", "InputError", "ConfigError", "__version__"} <= set(names)
    assert {"waves", "indices", "estimate", "errors", "pipeline", "report"} <= set(names)
    assert not {"importlib", "annotations", "Any"} & set(names)
    assert sa.SipasError is importlib.import_module("sipas_analysis.errors").SipasError
    assert issubclass(sa.InputError, sa.SipasError) and issubclass(sa.ConfigError, sa.SipasError)
    assert isinstance(sa.errors, types.ModuleType)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = sa.nonexistent


def test_every_submodule_is_reachable_from_the_package():
    top = {m.split(".")[1] for m in MODULES}
    assert top == set(sa.SUBMODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_its_public_names(name):
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list | tuple), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    leaked = {"os", "sys", "json", "np", "pd", "re", "argparse", "annotations"} & set(
        module.__all__
    )
    assert not leaked, (name, leaked)
    assert not {"run", "add_arguments"} & set(module.__all__), f"{name} exports CLI glue"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_package_loads_no_numerical_library():
    loaded = _modules_after("import sipas_analysis")
    assert not {"numpy", "pandas", "scipy", "matplotlib"} & loaded


def test_the_cli_imports_only_the_module_of_the_command_it_runs():
    parse = (
        "from sipas_analysis import cli\n"
        "cli.build_parser().parse_args(['estimate', '--data', 'x', '--items', 'q', '--out', 'y'])"
    )
    loaded = _modules_after(parse)
    assert "sipas_analysis.estimate" in loaded
    heavy = {"matplotlib", "scipy.stats", "sipas_analysis.plots", "sipas_analysis.pipeline"}
    assert not heavy & loaded, heavy & loaded
    other = {"sipas_analysis.sample", "sipas_analysis.briefs", "sipas_analysis.official"}
    assert not other & loaded
    assert not {"numpy", "pandas"} & _modules_after(
        "from sipas_analysis import cli\ncli.build_parser().format_help()"
    )


def test_a_commands_help_lists_its_own_arguments(capsys):
    from sipas_analysis import cli

    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["estimate", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--items" in out and "--lonely-psu" in out
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["estimate"])
    err = capsys.readouterr().err
    assert "--data" in err and "required" in err
