"""What a component's config is made of (pydantic v2, torch-free so that ``zoo info`` stays fast).

- ``ComponentConfig`` / ``ModuleConfig``: base classes of every component's config; unknown
  keys are rejected, types are checked, a field's ``description`` is what ``zoo info`` shows.
- ``ComponentSpec``: one resolved component (kind, registered name, providing distribution
  and version, validated config as JSON), the unit the factory builds and a checkpoint pins.
- ``component_field(kind, ...)``: a config field whose value is another component (a loss
  term, an inner optimizer). The factory resolves it like a top-level component, pins it in
  config.json, and the requirements check walks it; third-party plugins use it too.
- Shared validators (``heads_divide_dim``), written once for every config that needs them.
"""
from __future__ import annotations

from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

COMPONENT_KIND = "zoo_component_kind"  # json_schema_extra key that marks a nested-component field
SAVED_DEFAULT = "saved_default"  # json_schema_extra key: the value a config saved before the field existed had


class ComponentConfig(BaseModel):
    """Config of a loss or an optimizer (no model width)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModuleConfig(ComponentConfig):
    """Config of an embedder, mixer or pooler: all share the model width ``dim``."""

    dim: int = Field(64, gt=0, description="model width; set it for the whole model with the top-level dim=")
    freeze: bool = Field(False, description="freeze this component's weights (requires_grad=False)")


class ComponentSource(BaseModel):
    """Where a pretrained component came from: a Hub repository pinned to a commit."""

    model_config = ConfigDict(extra="forbid")
    repo: str = Field(description="ORG/NAME on the Hub")
    revision: str = Field(description="the branch, tag or sha that was asked for")
    sha: str = Field(description="the commit it resolved to; the weights are always read from this commit")
    component: str = Field(description="the part of the source model: embed, pool, mixer.1, ...")


class ComponentSpec(BaseModel):
    """One resolved component: what was asked for, who provides it, and its validated config."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    kind: str
    name: str
    dist: str
    version: str
    config: dict[str, Any]
    source: ComponentSource | None = None  # pretrained weights (kind=hf:ORG/NAME)
    _validated: Any = PrivateAttr(default=None)  # the config object the factory validated, reused by build

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}"

    def walk(self) -> Iterator["ComponentSpec"]:
        """This spec and every component nested in its config (loss terms, inner optimizers)."""
        yield self
        for nested in nested_specs(self.config):
            yield from nested.walk()


def nested_specs(value: Any) -> Iterator[ComponentSpec]:
    """Component specs stored inside a config's JSON (dicts with kind/name/dist/version/config)."""
    if isinstance(value, dict):
        if {"kind", "name", "dist", "version", "config"} <= set(value):
            yield ComponentSpec.model_validate(value)
            return
        for item in value.values():
            yield from nested_specs(item)
    elif isinstance(value, list):
        for item in value:
            yield from nested_specs(item)


def component_field(kind: str, default: str | None = None, *, description: str = "") -> Any:
    """A config field naming another component of ``kind``: ``inner: ComponentSpec =
    component_field("optim", "smorms3")``. Users write a name (``optim.inner=radam``) and
    its fields (``optim.inner.lr=0.01``); the factory stores the resolved ComponentSpec."""
    return Field(default, description=description, json_schema_extra={COMPONENT_KIND: kind})


def component_kind_of(field) -> str | None:
    """The kind a field names when it was declared with ``component_field``."""
    extra = field.json_schema_extra
    return extra.get(COMPONENT_KIND) if isinstance(extra, dict) else None


def fill_saved_defaults(config_cls: type[BaseModel], values: dict) -> dict:
    """``values`` (a saved config) with each missing field that declares a ``saved_default``
    set to it: a field added later with a new default (``embed.hash``) keeps old models as saved."""
    missing = {name: field.json_schema_extra[SAVED_DEFAULT] for name, field in config_cls.model_fields.items()
               if name not in values and isinstance(field.json_schema_extra, dict)
               and SAVED_DEFAULT in field.json_schema_extra}
    return {**values, **missing} if missing else values


# ---- shared validators: config validators and component constructors both call these --------
def divisors(n: int, limit: int = 8) -> list[int]:
    """The first ``limit`` divisors of ``n`` (what an error message offers instead)."""
    return [d for d in range(1, n + 1) if n % d == 0][:limit]


def heads_divide_dim(dim: int, heads: int, name: str = "heads") -> None:
    """Every head (or group) owns a dim/heads slice: ``heads`` must divide ``dim``."""
    if dim % heads:
        raise ValueError(f"{name}={heads} must divide dim={dim}; choose {name} from {divisors(dim)} or change dim")


class HeadsConfig(ModuleConfig):
    """A module config whose ``heads`` (each subclass declares the field, with its own default
    and description) must divide ``dim``: every head owns a dim/heads slice."""

    @model_validator(mode="after")
    def _heads_divide_dim(self):
        heads_divide_dim(self.dim, self.heads)
        return self
