"""Registries: lookups with suggestions, and third-party plugins through entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from evalkit.errors import ConfigError
from evalkit.registry import Registry


def test_unknown_name_suggests_close_matches() -> None:
    reg: Registry[int] = Registry("task", "evalkit.tests.none")
    reg.register("classification")(1)
    with pytest.raises(ConfigError, match=r"suite.yaml: unknown task 'clasification'.*Did you mean: classification"):
        reg.get("clasification", where="suite.yaml")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("classification")(2)


def test_entry_point_plugins_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.registry as registry_module

    ep = EntryPoint(name="mytask", value="json:dumps", group="evalkit.tasks")
    monkeypatch.setattr(registry_module, "entry_points",
                        lambda group: [ep] if group == "evalkit.tasks" else [])
    reg: Registry[object] = Registry("task", "evalkit.tasks")
    import json

    assert reg.get("mytask") is json.dumps
    assert "mytask" in reg.names()


def test_builtin_registries_list_their_plugins() -> None:
    from evalkit.providers import providers
    from evalkit.tasks import tasks

    assert {"mistral", "openai", "llamacpp", "replay"} <= set(providers.names())
    assert "classification" in tasks.names()
