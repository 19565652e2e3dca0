"""docs/reference.md is what the code says (settings models, file loaders, message_context),
and the README's table of the template context agrees with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from storeflows.fields import Duration
from storeflows.workflows.templates import TEMPLATES
from storeflows_cli import reference
from storeflows_cli.reference_words import CONTEXT

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_what_the_code_says():
    committed = (ROOT / "docs" / "reference.md").read_text("utf-8")
    assert committed == reference.render(), "docs/reference.md is out of date: run make reference"


def test_every_template_and_setting_is_in_the_reference_with_its_default_as_written():
    text = reference.render()
    for name, model in TEMPLATES.items():
        assert f"### `{name}`\n\n{model.description}\n" in text
        keys = [row[0] for row in reference.setting_rows(model)]
        assert set(model.model_fields) - {"template"} <= set(keys), name
    assert "| `follow_up_after` |  | `10d` | duration | How long after the thanks the follow-up goes. |" in text
    assert "| `delivery.check_every` |  | `12h` | duration (at least 1m) |" in text
    assert "| `tiers[].message` | required |  | message id | Sent for the orders of this tier. |" in text
    assert "`eu_without_consent_message` must name a transactional message" in text


def test_a_setting_without_words_stops_the_generator():
    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        wait: Duration = Field(default=60, description="How long.")
        undocumented: int = 3

    with pytest.raises(reference.Drift, match="Settings.undocumented has no Field"):
        reference.setting_rows(Settings)


def test_a_context_name_or_field_without_words_stops_the_generator(monkeypatch):
    real = reference.message_context

    def with_extra(*args, **kwargs):
        context = real(*args, **kwargs)
        return {**context, "basket": {}, "store": {**context["store"], "url": "x"}}

    monkeypatch.setattr(reference, "message_context", with_extra)
    with pytest.raises(reference.Drift, match=r"context names: no words for \['basket'\]"):
        reference.render()
    monkeypatch.setitem(CONTEXT, "basket", ("A basket.", {}))
    with pytest.raises(reference.Drift, match=r"fields of store: no words for \['url'\]"):
        reference.render()


def test_the_readme_table_of_the_template_context_says_what_message_context_holds():
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("\n## Message templates\n", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)[^`]*` \| (.*) \|$", section, flags=re.MULTILINE))
    fields = reference.context_fields()
    # A list's items ("order.items", "session.products") are described in their name's row.
    for nested in [name for name in fields if "." in name]:
        fields[nested.split(".")[0]] |= fields.pop(nested)
    fields["bestsellers"] = set(CONTEXT["bestsellers"][1])
    fields["product"] = set(CONTEXT["product"][1])
    assert set(rows) == set(fields), "every name of the context, and only those, has a row"
    for name, content in rows.items():
        assert set(re.findall(r"`(\w+)`", content)) == fields[name], name
    assert "(docs/reference.md" in readme, "the README links the reference"
