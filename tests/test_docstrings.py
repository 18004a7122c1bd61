"""Every fenced ```python example in the package's docstrings runs (so examples cannot rot)."""

import importlib
import inspect
import pkgutil
import re

import pytest

import electra_tf

FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples():
    for module_info in pkgutil.walk_packages(electra_tf.__path__, "electra_tf."):
        if module_info.name == "electra_tf.cli":
            continue  # defines absl flags; it has no examples
        module = importlib.import_module(module_info.name)
        objects = [module] + [obj for _, obj in inspect.getmembers(module)
                              if getattr(obj, "__module__", None) == module.__name__]
        for obj in objects:
            for index, code in enumerate(FENCE.findall(inspect.getdoc(obj) or "")):
                yield pytest.param(module, code, id=f"{module.__name__}.{getattr(obj, '__qualname__', '')}[{index}]")


@pytest.mark.parametrize("module, code", list(_examples()))
def test_docstring_example_runs(module, code):
    exec(compile(code, module.__name__, "exec"), dict(vars(module)))
