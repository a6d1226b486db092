import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from backoffice.knowledge.rules import KnowledgeError, diff, pick_language
from backoffice.knowledge.service import load_knowledge, publish_lock

from .conftest import KNOWLEDGE


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def test_real_knowledge_base_loads_with_two_published_versions():
    kb = load_knowledge(KNOWLEDGE)
    published = [v.version.id for v in kb.published()]
    assert len(published) >= 2
    assert kb.current(kb.published()[-1].version.effective_date).version.id == published[-1]
    assert kb.versions["draft"].version.status == "draft"


def test_current_version_depends_on_effective_date():
    kb = load_knowledge(KNOWLEDGE)
    first, second = kb.published()[:2]
    assert kb.current(second.version.effective_date - dt.timedelta(days=1)).version.id == first.version.id
    assert kb.current(second.version.effective_date).version.id == second.version.id


def test_a_version_is_current_from_midnight_in_amsterdam_until_the_next_one():
    kb = load_knowledge(KNOWLEDGE)
    first, second = kb.published()[:2]
    midnight = dt.datetime.combine(second.version.effective_date, dt.time(0), tzinfo=ZoneInfo("Europe/Amsterdam"))
    midnight_utc = midnight.astimezone(dt.UTC)
    assert midnight_utc.date() < second.version.effective_date  # 22:00 or 23:00 UTC the day before
    just_before = midnight_utc - dt.timedelta(seconds=1)
    assert kb.current_at(just_before).version.id == first.version.id
    assert kb.current_at(midnight_utc).version.id == second.version.id
    assert kb.current_until(just_before) == midnight_utc
    until = kb.current_until(midnight_utc)
    assert until is None or until > midnight_utc


def test_newer_version_adds_wifi_counting_and_changes_a_retention_period():
    kb = load_knowledge(KNOWLEDGE)
    old, new = kb.published()[:2]
    result = diff(old, new)
    assert "store_visits" in result["sections"]["categories"]["added"]
    assert "store_visitor_counting" in result["sections"]["purposes"]["added"]
    changed = result["sections"]["categories"]["changed"]["customer_service"]
    assert changed["retention.months"] == {"old": 24, "new": 12}
    assert [e["id"] for e in result["changelog"]] == [e.id for e in new.version.changelog]


def test_every_text_is_in_dutch_and_english():
    kb = load_knowledge(KNOWLEDGE)
    version = kb.current()
    nl, en = version.localized("nl"), version.localized("en")
    assert nl["categories"][0]["name"] != en["categories"][0]["name"]
    assert isinstance(nl["topics"]["topics"]["security"], str)


def test_pick_language_keeps_non_text_values():
    assert pick_language({"a": {"nl": "x", "en": "y"}, "b": 3, "c": [{"nl": "p", "en": "q"}]}, "en") == {"a": "y", "b": 3, "c": ["q"]}


def test_broken_field_names_file_entry_and_field(knowledge_copy: Path):
    path = knowledge_copy / "draft" / "categories.yml"
    edit(path, lambda d: d["categories"][2]["retention"].pop("period"))
    entry = yaml.safe_load(path.read_text())["categories"][2]["id"]
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(knowledge_copy)
    message = str(err.value)
    assert str(path) in message and f"entry '{entry}'" in message and "field retention.period" in message


def test_missing_translation_is_named(knowledge_copy: Path):
    path = knowledge_copy / "draft" / "purposes.yml"
    edit(path, lambda d: d["purposes"][0]["benefit"].pop("nl"))
    with pytest.raises(KnowledgeError, match=r"purposes.yml: entry '\w+', field benefit.nl: Field required"):
        load_knowledge(knowledge_copy)


def test_unknown_legal_basis_is_refused(knowledge_copy: Path):
    edit(knowledge_copy / "draft" / "purposes.yml", lambda d: d["purposes"][0].update(legal_basis="because"))
    with pytest.raises(KnowledgeError, match="field legal_basis"):
        load_knowledge(knowledge_copy)


def test_unknown_category_reference_is_refused(knowledge_copy: Path):
    edit(knowledge_copy / "draft" / "purposes.yml", lambda d: d["purposes"][0]["categories"].append("horoscope"))
    with pytest.raises(KnowledgeError, match="field categories: unknown category 'horoscope'"):
        load_knowledge(knowledge_copy)


def test_recipient_outside_eu_needs_a_safeguard(knowledge_copy: Path):
    def drop_safeguard(d):
        for purpose in d["purposes"]:
            for recipient in purpose["recipients"]:
                if recipient["outside_eu"]:
                    recipient["safeguard"] = None

    edit(knowledge_copy / "draft" / "purposes.yml", drop_safeguard)
    with pytest.raises(KnowledgeError, match="needs a safeguard"):
        load_knowledge(knowledge_copy)


def test_invalid_yaml_names_the_file(knowledge_copy: Path):
    path = knowledge_copy / "draft" / "topics.yml"
    path.write_text("topics: [unclosed\n")
    with pytest.raises(KnowledgeError, match="topics.yml: not valid YAML"):
        load_knowledge(knowledge_copy)


def test_editing_a_published_version_is_detected(knowledge_copy: Path):
    published = load_knowledge(knowledge_copy).published()[0].version.id
    path = knowledge_copy / published / "topics.yml"
    edit(path, lambda d: d["topics"].update(security={"nl": "Anders.", "en": "Different."}))
    with pytest.raises(KnowledgeError, match="a published version was edited"):
        load_knowledge(knowledge_copy)


def test_publishing_records_a_new_version(knowledge_copy: Path):
    edit(knowledge_copy / "draft" / "version.yml", lambda d: d.update(status="published"))
    with pytest.raises(KnowledgeError, match="published version not recorded"):
        load_knowledge(knowledge_copy)
    lock = publish_lock(knowledge_copy)
    assert "draft" in lock
    assert load_knowledge(knowledge_copy).versions["draft"].version.status == "published"


@pytest.mark.parametrize("command", ["validate", "serve"])
def test_command_line_stops_on_a_broken_file_with_the_message_not_a_traceback(knowledge_copy: Path, command):
    import os
    import subprocess
    import sys

    edit(knowledge_copy / "draft" / "categories.yml", lambda d: d["categories"][0].pop("source"))
    result = subprocess.run(
        [sys.executable, "-m", "backoffice", command] + (["--port", "18999"] if command == "serve" else []),
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "KNOWLEDGE_DIR": str(knowledge_copy)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "categories.yml: entry 'contact_details', field source: Field required" in result.stderr
    assert "Traceback" not in result.stderr
