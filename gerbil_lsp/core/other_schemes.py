"""Names from other Schemes that Gerbil spells differently, and the Gerbil names to use instead.

Code models trained mostly on Racket, Guile and SRFI code write ``hash-table-ref``
where Gerbil has ``hash-ref``. The table is data (``other_schemes.toml``, beside
this module); :func:`gerbil_names` answers only names the caller's index knows,
so a suggestion is always something the user can really call.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


class OtherSchemesError(ValueError):
    """The table does not read; names its file and what is wrong."""


@dataclass(frozen=True, slots=True)
class OtherName:
    """A name from elsewhere: where it comes from, Gerbil's names for the same job, a difference worth saying."""

    name: str
    gerbil: tuple[str, ...]
    origin: str
    note: str = ""


WHERE = "gerbil_lsp/core/other_schemes.toml"


@cache
def table() -> dict[str, OtherName]:
    """The whole table, read once."""
    return parse_table(resources.files("gerbil_lsp.core").joinpath("other_schemes.toml").read_text(encoding="utf-8"))


def parse_table(text: str, where: str = WHERE) -> dict[str, OtherName]:
    try:
        rows = tomllib.loads(text).get("names", {})
    except tomllib.TOMLDecodeError as exc:
        raise OtherSchemesError(f"{where}: {exc}") from None
    out = {}
    for name, row in rows.items():
        gerbil = row.get("gerbil") if isinstance(row, dict) else None
        if not gerbil or not isinstance(gerbil, list) or not isinstance(row.get("from"), str):
            raise OtherSchemesError(f'{where}: {name!r} needs gerbil = ["name", ...] and from = "where it comes from"')
        out[name] = OtherName(name, tuple(gerbil), row["from"], row.get("note", ""))
    return out


def other_name(name: str) -> OtherName | None:
    """The table's row for ``name``, if it is another Scheme's name for something Gerbil has."""
    return table().get(name)
