"""The notebook user's door, ``import capforecast as cf``: lazy names, no TensorFlow, runnable class examples.

The notebooks and the README use these names only; every public class (the classes among them and every model of
``cf.MODELS``) has an example in its docstring, and the examples run here as doctests.
"""

from __future__ import annotations

import doctest
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import capforecast as cf

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return done.stdout.strip()


def test_get_model_through_cf_does_not_import_tensorflow():
    out = run_python("import sys, capforecast as cf; cf.get_model('seasonal_naive'); cf.PoolSpec; cf.plan_capacity;"
                     "cf.cross_validation; cf.registry; cf.load_pools; cf.simulate; cf.fetch;"
                     "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    assert out == "[]"


def test_import_capforecast_alone_imports_nothing_heavy():
    out = run_python("import sys, capforecast; print(json.dumps(sorted(m for m in ('pandas', 'numpy', 'pydantic',"
                     "'matplotlib', 'tensorflow') if m in sys.modules)))".replace("import sys,", "import sys, json,"))
    assert json.loads(out) == []


def test_every_public_name_resolves_and_is_listed():
    for name in cf.__all__:
        assert getattr(cf, name) is not None, name
    assert set(cf.__all__) <= set(dir(cf))
    assert cf.plot_forecast.__module__ == "capforecast.evaluation.plot"  # the existing function, not a copy
    assert cf.registry.__name__ == "capforecast.registry"
    assert cf.get_model is __import__("capforecast.models", fromlist=["get_model"]).get_model
    with pytest.raises(AttributeError, match="the public names are"):
        cf.no_such_name  # noqa: B018


def public_classes() -> dict[str, type]:
    classes = {name: getattr(cf, name) for name in cf.__all__ if inspect.isclass(getattr(cf, name))}
    from capforecast.models import model_class

    classes.update({model_class(alias).__name__: model_class(alias) for alias in cf.MODELS})
    return classes


FAST = sorted(name for name in public_classes() if name != "LSTMForecaster")


def run_doctests(obj: object, name: str) -> doctest.TestResults:
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    module = sys.modules[obj.__module__] if hasattr(obj, "__module__") else obj
    for test in finder.find(obj, name, module=module, globs=dict(vars(module))):
        runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize("name", FAST)
def test_public_class_has_a_runnable_example(name):
    cls = public_classes()[name]
    assert ">>>" in (cls.__doc__ or ""), f"{name} has no example in its docstring"
    result = run_doctests(cls, name)
    assert result.attempted > 0 and result.failed == 0, result


@pytest.mark.slow
def test_the_lstm_example_runs():
    result = run_doctests(public_classes()["LSTMForecaster"], "LSTMForecaster")
    assert result.attempted > 0 and result.failed == 0, result


def test_the_package_example_runs():
    result = run_doctests(cf, "capforecast")
    assert result.attempted > 0 and result.failed == 0, result


def code_cells() -> list[tuple[str, str]]:
    nbformat = pytest.importorskip("nbformat")
    cells = [(nb.name, c.source) for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))
             for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
    readme = (ROOT / "README.md").read_text()
    return cells + [("README.md", block) for block in re.findall(r"```python\n(.*?)```", readme, re.S)]


def test_notebooks_and_readme_use_the_public_names_only():
    for where, source in code_cells():
        for line in source.splitlines():
            imports = re.match(r"\s*(from|import)\s+capforecast\b", line)
            assert not imports or line.strip() == "import capforecast as cf", (where, line)
            assert not re.search(r"(?<![\"'\w])capforecast\.\w", line), (where, line)  # a module path, not cf
        for used in re.findall(r"\bcf\.(\w+)", source):
            assert used in cf.__all__, (where, used)


def test_the_readme_example_runs(tmp_path):
    from tests.conftest import make_frame

    frame = make_frame(ids=("a100-train",), periods=24 * 7)
    frame.rename(columns={"unique_id": "pool", "ds": "timestamp", "y": "gpus_busy"}).to_csv(
        tmp_path / "my_gpus.csv", index=False)
    (tmp_path / "my_pools.yaml").write_text((ROOT / "data" / "sample" / "pools.yaml").read_text())
    block = [source for where, source in code_cells() if where == "README.md"][0]
    done = subprocess.run([sys.executable, "-c", block + "\nprint(plan[['unique_id', 'nodes']].head(1).to_dict())"],
                          cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT),
                                                                             "PATH": "/usr/bin:/bin",
                                                                             "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    assert "a100-train" in done.stdout and (tmp_path / "forecast.png").stat().st_size > 10_000


def _modules() -> list[str]:
    import pkgutil

    names = [m.name for m in pkgutil.walk_packages(cf.__path__, "capforecast.")]
    return sorted(n for n in ["capforecast", *names] if "lstm" not in n)  # the LSTM's example: the slow test above


@pytest.mark.parametrize("module", _modules())
def test_every_example_in_the_modules_docstrings_runs(module):
    """Examples of functions and private modules too, not only the public classes': a wrong example is a bug."""
    import importlib

    mod = importlib.import_module(module)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(mod, module, globs=dict(vars(mod))):
        if test.filename == getattr(mod, "__file__", None):  # only what this module defines, each example once
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
