"""The table of other Schemes' names: every Gerbil name it offers is one Gerbil really has."""

from __future__ import annotations

import pytest

from gerbil_lsp.core.index import default_index
from gerbil_lsp.core.other_schemes import OtherSchemesError, other_name, parse_table, table


def test_every_name_offered_is_known_to_the_bundled_index_and_none_replaced_is_gerbils_own():
    index = default_index()
    prelude = index.visible_names([])
    unknown = [(row.name, g) for row in table().values() for g in row.gerbil
               if g not in prelude and not index.modules_exporting(g)]
    assert unknown == []
    assert [name for name in table() if name in prelude] == []  # the prelude's own names are no mistakes
    assert len(table()) >= 80


def test_a_row_tells_where_the_name_comes_from():
    row = other_name("string->jsexpr")
    assert (row.gerbil, row.origin) == (("string->json-object",), "Racket")
    assert other_name("hash-ref") is None


def test_a_bad_row_or_file_is_named():
    with pytest.raises(OtherSchemesError, match=r"other_schemes.toml: 'x' needs gerbil = \["):
        parse_table('[names]\n"x" = { from = "Racket" }\n')
    with pytest.raises(OtherSchemesError, match="other_schemes.toml: .*line 2"):
        parse_table('[names]\n"x" = {\n')
