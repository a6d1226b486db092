"""The training data holds none of the evaluation's questions, nor one of them with a word changed: they
measure understanding, so a model that was trained on them would be measured on what it memorised
(docs/evaluation.md)."""
from __future__ import annotations

import csv
import difflib
import re
from pathlib import Path

import yaml
from conftest import ROOT

EVAL_FILES = [ROOT.parent / "shared" / "eval" / name for name in ("questions_en_dev.tsv", "questions_nl_dev.tsv")]
HELD_OUT = ROOT / "tests" / "eval" / "questions_nl_heldout.tsv"
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\{[^}]*\}|\([^)]*\))")
# an example this similar to an evaluation question (difflib's ratio of the normalised texts) is the
# question with a word changed: it would be measured as understood when it was memorised
NEAR_DUPLICATE_RATIO = 0.9


def normalised(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def questions(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return {normalised(r["question"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r.get("question")}


def training_examples() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "data").rglob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
            for line in str(block.get("examples", "")).splitlines():
                example = ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
                found[normalised(example)] = str(path.relative_to(ROOT))
    return found


def test_no_evaluation_question_is_in_the_training_data():
    examples = training_examples()
    assert len(examples) > 1000
    for path in [*EVAL_FILES, HELD_OUT]:
        leaked = sorted((q, examples[q]) for q in questions(path) & set(examples))
        assert not leaked, f"{path.name} questions in the training data: {leaked}"


def test_no_training_example_is_a_near_duplicate_of_an_evaluation_question():
    examples = training_examples()
    near: list[tuple[float, str, str, str]] = []
    matcher = difflib.SequenceMatcher(autojunk=False)
    for path in [*EVAL_FILES, HELD_OUT]:
        for question in questions(path):
            matcher.set_seq2(question)  # difflib caches what it learns of the second text
            for example, source in examples.items():
                matcher.set_seq1(example)
                if matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO and matcher.quick_ratio() >= NEAR_DUPLICATE_RATIO \
                        and matcher.ratio() >= NEAR_DUPLICATE_RATIO:
                    near.append((round(matcher.ratio(), 2), example, question, source))
    assert not near, f"training examples nearly the same as evaluation questions: {sorted(near, reverse=True)}"


def test_an_annotated_data_category_is_whole_words():
    # "[eID]-gegevens" marks part of a token: the tokenizer cannot align it, and Rasa drops the entity in training
    inside_a_word = re.compile(r"\w\[[^\]]+\]\{|\[[^\]]+\]\{[^}]*\}[\w-]")
    found = []
    for path in sorted((ROOT / "data").rglob("*.yml")):
        found += [f"{path.relative_to(ROOT)}: {line.strip()}" for line in path.read_text(encoding="utf-8").splitlines()
                  if inside_a_word.search(line)]
    assert not found, found
