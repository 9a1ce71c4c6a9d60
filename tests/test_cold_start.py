"""Cold start (docs/performance.md, "Cold import"): what ``import app`` leaves for first use.

Request bodies are ``validation.Body`` declarations built as pydantic models on first use, and
chalicelib's dataclasses are ``records.dataclass`` classes made on their first instantiation.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import validation
from chalicelib.records import dataclass

ROOT = Path(__file__).resolve().parent.parent


def test_import_app_imports_no_pydantic_and_makes_few_dataclasses():
    probe = (
        "import json, sys, app; from chalicelib import records; "
        "print(json.dumps([sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'annotated_types')), len(records._PENDING)]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    imported, pending = json.loads(out.stdout.strip().splitlines()[-1])
    assert imported == []
    assert pending >= 20  # made on their first instantiation, not at import


def _declarations(cls: type) -> list[type]:
    return [cls, *(d for sub in cls.__subclasses__() for d in _declarations(sub))]


def test_every_body_builds_with_its_name_fields_and_docstring():
    import app  # noqa: F401  (every domain's bodies declared)

    bodies = _declarations(validation.Body)[1:]
    assert len(bodies) >= 40
    for body in bodies:
        model = body.model()
        names = (model.__name__, model.__module__, model.__doc__)
        assert names == (body.__name__, body.__module__, body.__doc__)
        assert set(body.__dict__.get("__annotations__", {})) <= set(model.model_fields)
        assert model.model_config["strict"] and model.model_config["extra"] == "ignore"
        assert body.model() is model and body.model_fields is model.model_fields  # built once
        model.model_json_schema()


def test_a_declaration_behaves_as_its_model():
    from chalicelib.repositories.services import CreateRepoBody, RepoSettings, UpdateRepoBody

    body = CreateRepoBody(desc="x", private="true")
    assert isinstance(body, CreateRepoBody) and isinstance(body, RepoSettings)
    assert not isinstance(body, UpdateRepoBody)
    assert body.private is True and body.model_fields_set == {"desc", "private"}
    with pytest.raises(validation.BadRequest, match="gpg_use_owner_key"):  # its model_validator
        validation.parse_body(b'{"gpg_use_owner_key": true, "gpg_sign_files": true}', UpdateRepoBody)
    with pytest.raises(validation.BadRequest, match="Invalid value for 'private'"):  # Flag
        validation.parse_body(b'{"private": "maybe"}', CreateRepoBody)


def test_records_dataclass_is_a_dataclass_once_instantiated():
    @dataclass(frozen=True)
    class Base:
        a: int
        tags: tuple[str, ...] = dataclasses.field(default=())

    @dataclass(frozen=True)
    class Derived(Base):
        b: str = "b"

    @dataclass
    class Plain:
        n: int = 0

    assert not dataclasses.is_dataclass(Derived)  # not made yet
    value = Derived(1, b="x")
    assert dataclasses.is_dataclass(Base) and dataclasses.is_dataclass(Derived)
    assert value == Derived(1, (), "x") and hash(value) == hash(Derived(1, (), "x"))
    assert repr(value).endswith("Derived(a=1, tags=(), b='x')")
    assert dataclasses.replace(value, a=2).a == 2
    assert [f.name for f in dataclasses.fields(Base)] == ["a", "tags"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.a = 3  # type: ignore[misc]
    plain = Plain()
    plain.n = 4
    assert plain == Plain(4)
