"""Each mutation of tests/property/mutations.py still names a line that exists, once: a
refactor that moves the code it breaks must move the mutation with it (docs/TESTING.md,
Mutations), or the mutation run stops on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.property.mutations import MUTATIONS, ROOT


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_the_line_each_mutation_changes_is_there_once(mutation):
    text = (ROOT / mutation.path).read_text()
    assert text.count(mutation.old) == 1, f"{mutation.name}: move it with the code it breaks"
    mutated = text.replace(mutation.old, mutation.new)
    compile(mutated, str(Path(mutation.path)), "exec")  # the mutated engine still runs
