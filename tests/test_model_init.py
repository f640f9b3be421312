"""The model's classes are built by an __init__ that writes the instance dict directly (model._direct_init): it must
behave exactly like the one dataclasses generates, which each class is compared with here."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from samldebug import model

CLASSES = [c for c in vars(model).values() if isinstance(c, type) and dataclasses.is_dataclass(c)]


def _reference(cls: type) -> type:
    """The same fields, with the __init__ dataclasses itself generates."""
    specs = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            spec = dataclasses.field(default=f.default)
        elif f.default_factory is not dataclasses.MISSING:
            spec = dataclasses.field(default_factory=f.default_factory)
        else:
            spec = dataclasses.field()
        specs.append((f.name, f.type, spec))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True)


def _required(cls: type) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _values(cls: type) -> dict[str, Any]:
    """A distinct value per field (identity is what is compared, so any object will do)."""
    return {f.name: [f"{cls.__name__}.{f.name}"] for f in dataclasses.fields(cls)}


def test_every_model_class_is_covered() -> None:
    assert {"Finding", "Report", "Message", "Values", "ChecklistRow", "Diagnosis", "SignInEvent"} <= {
        c.__name__ for c in CLASSES
    }
    for cls in CLASSES:
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"  # type: ignore[misc]
        assert "__dataclass_builtins_object__" not in cls.__init__.__code__.co_names  # type: ignore[misc]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_same_signature_as_dataclasses(cls: type) -> None:
    assert str(inspect.signature(cls)) == str(inspect.signature(_reference(cls)))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_same_instance_state_as_dataclasses(cls: type) -> None:
    ref = _reference(cls)
    values = _values(cls)
    required = {k: values[k] for k in _required(cls)}
    # Only the required fields: defaults and factories fill the rest, the same way.
    got, want = cls(**required), ref(**required)
    assert list(vars(got)) == list(vars(want)) == [f.name for f in dataclasses.fields(cls)]
    for name in vars(want):
        g, w = vars(got)[name], vars(want)[name]
        assert g == w and type(g) is type(w), name
    # Every field given, positionally and by keyword.
    args = list(values.values())
    assert all(vars(cls(*args))[k] is v for k, v in values.items())
    assert all(vars(cls(**values))[k] is v for k, v in values.items())
    # A default_factory makes a new object for every instance.
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            assert getattr(cls(**required), f.name) is not getattr(cls(**required), f.name)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_same_errors_and_frozen(cls: type) -> None:
    ref = _reference(cls)
    values = _values(cls)
    required = {k: values[k] for k in _required(cls)}
    for missing in required:
        partial = {k: v for k, v in required.items() if k != missing}
        with pytest.raises(TypeError):
            cls(**partial)
        with pytest.raises(TypeError):
            ref(**partial)
    with pytest.raises(TypeError):
        cls(**required, not_a_field=1)
    with pytest.raises(TypeError):
        cls(*values.values(), "one too many")
    obj = cls(**required)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, "changed")


def test_replace_copy_and_pickle_keep_working() -> None:
    f = model.Finding("code", model.Severity.WARNING, "title", actual="a")
    assert dataclasses.replace(f, message=3) == model.Finding(
        "code", model.Severity.WARNING, "title", actual="a", message=3
    )
    assert f.at(2).message == 2 and f.at(2).actual == "a"
    assert pickle.loads(pickle.dumps(f)) == f and copy.deepcopy(f) == f and hash(f) == hash(copy.copy(f))
    m = model.Message(0, "response", "r", None, None, model.Values(issuer="i"), "<x/>")
    assert m.extra == {} and pickle.loads(pickle.dumps(m)) == m
