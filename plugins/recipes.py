"""Built-in recipes (named starting points, ``recipe=NAME``), registered through the same
hook a third party uses. They live in recipes.yaml beside this file."""
from importlib import resources

import yaml

from zoo_core import hookimpl


@hookimpl
def zoo_register_recipes(register):
    text = resources.files("zoo_plugins").joinpath("recipes.yaml").read_text(encoding="utf-8")
    for name, recipe in (yaml.safe_load(text) or {}).get("recipes", {}).items():
        register(name, overrides=recipe.get("overrides") or {}, description=" ".join(recipe.get("description", "").split()))
