"""Parse Gerbil reference markdown into documented symbols.

The reference pages (``doc/reference/**.md``) document one binding (or a few)
per ``##``/``###``/``####`` heading, followed by a fenced usage block::

    ## string-trim-prefix
    ``` scheme
    (string-trim-prefix pfix str) -> string

      pfix := string prefix to trim
    ```

then prose and an optional ``::: tip Examples:`` block.  The module to import
is stated in a ``::: tip`` block holding ``(import :std/x)``; it holds for the
rest of the page (a page may switch module half way).  Pages under
``reference/gerbil/`` document the prelude and runtime: no import needed.

Signatures are read with a small tolerant s-expression tokenizer (the usage
text is not always valid Gerbil: ``[opt]``, ``<pattern>``, ``...``), and the
arity computed from them is conservative: whenever a signature is unclear the
arity is left unknown, since diagnostics flag calls from it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .model import Arity, Symbol

DOCS_BASE_URL = "https://cons.io/reference/"

#: Pages (relative to the reference dir) whose entries need no import.
PRELUDE_PREFIXES = ("gerbil/prelude/", "gerbil/runtime/")
#: Pages documenting the expander API (importable as ``:gerbil/expander``).
EXPANDER_PREFIX = "gerbil/expander/"
EXPANDER_MODULE = ":gerbil/expander"
#: Reference folders that document tools, not bindings.
SKIP_PREFIXES = ("dev/",)

SUMMARY_MAX = 200

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_TIP_OPEN = re.compile(r"^\s*:::\s*(\w+)\s*(.*)$")
_TIP_CLOSE = re.compile(r"^\s*:::\s*$")
_IMPORT_MOD = re.compile(r"\(import\s+(:[^\s()\[\]]+)")
_IDENT = re.compile(r"^[^\s()\[\]{}\"',`;]+$")
_PARAM_LINE = re.compile(r"^\s*\S.*?\s:=\s")
_LABEL_LINE = re.compile(r"^\s*<?[\w\-*]+>?:\s*$")


# ---------------------------------------------------------------------------
# tiny tolerant s-expression reader for usage blocks
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class SAtom:
    text: str
    start: int
    end: int


@dataclass(slots=True)
class SList:
    delim: str
    items: list
    start: int
    end: int
    closed: bool = True


_CLOSE = {"(": ")", "[": "]", "{": "}"}
_DELIMS = set("()[]{}")


def _read_one(text: str, pos: int):
    """Read one datum at ``pos`` (no leading whitespace). Returns (datum, newpos)."""
    n = len(text)
    ch = text[pos]
    if ch in "([{":
        items: list = []
        start = pos
        pos += 1
        while True:
            pos = _skip_ws(text, pos)
            if pos >= n:
                return SList(ch, items, start, n, closed=False), n
            c = text[pos]
            if c in ")]}":
                return SList(ch, items, start, pos + 1), pos + 1
            datum, pos = _read_one(text, pos)
            items.append(datum)
    if ch in ")]}":
        return SAtom(ch, pos, pos + 1), pos + 1
    if ch == '"':
        j = pos + 1
        while j < n and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return SAtom(text[pos:j + 1], pos, min(j + 1, n)), min(j + 1, n)
    if ch in "'`," and pos + 1 < n and text[pos + 1] not in " \t\n":
        # quote prefix: read it as part of the following datum's text
        datum, j = _read_one(text, pos + 1 if text[pos + 1] != "@" else pos + 2)
        return SAtom(text[pos:j], pos, j), j
    j = pos
    if text.startswith("#\\", pos):
        j = pos + 3
    while j < n and not text[j].isspace() and text[j] not in _DELIMS and text[j] != '"':
        if text[j] == ";":
            break
        j += 1
    if j == pos:
        j = pos + 1
    return SAtom(text[pos:j], pos, j), j


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n:
        c = text[pos]
        if c.isspace():
            pos += 1
        elif c == ";":
            nl = text.find("\n", pos)
            pos = n if nl < 0 else nl
        else:
            break
    return pos


def _atoms(datum) -> list[str]:
    if isinstance(datum, SAtom):
        return [datum.text]
    out: list[str] = []
    for it in datum.items:
        out.extend(_atoms(it))
    return out


def _head(datum) -> str | None:
    if isinstance(datum, SList) and datum.delim == "(" and datum.items:
        first = datum.items[0]
        if isinstance(first, SAtom):
            return first.text
    return None


# ---------------------------------------------------------------------------
# arity from a documented signature
# ---------------------------------------------------------------------------

_ELLIPSES = {"...", "....", "...+", "…"}
_BAD_ATOMS = {"|", "=>", "->", "::", ":="}


def _is_keyword(tok: str) -> bool:
    return len(tok) > 1 and tok.endswith(":") and not tok.startswith(":") and tok != "::"


def signature_arity(form: SList) -> Arity | None:
    """Arity of ``(name args ...)``; ``None`` when the form is not clear enough."""
    if not form.closed:
        return None
    args = form.items[1:]
    lo = hi = 0
    variadic = False
    optional_mode = False
    prev_required = False
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if isinstance(a, SAtom):
            t = a.text
            if t in _BAD_ATOMS:
                return None
            if t == ".":
                variadic = True
                break
            if t in _ELLIPSES:
                variadic = True
                if prev_required:
                    lo -= 1
                    prev_required = False
                continue
            if t == "#!optional":
                optional_mode = True
                prev_required = False
                continue
            if t in ("#!rest", "#!key"):
                variadic = True
                break
            if _is_keyword(t):
                # keyword argument: counts as two items in a call, optional
                variadic = True
                i += 1
                prev_required = False
                continue
            if t.endswith("...") and len(t) > 3:  # e.g. "arg..." written glued
                variadic = True
                prev_required = False
                continue
            if optional_mode:
                hi += 1
                prev_required = False
            else:
                lo += 1
                hi += 1
                prev_required = True
            continue
        # a list in argument position
        prev_required = False
        if a.delim == "[":
            inner = _bracket_count(a)
            if inner is None:
                variadic = True
            else:
                hi += inner
        else:
            # (opt default) for procedures, a sub-form for macros: optional for min
            hi += 1
    if lo < 0:
        lo = 0
    return Arity(lo, None if variadic else max(hi, lo))


def _bracket_count(lst: SList) -> int | None:
    """How many optional arguments ``[a b = default ...]`` stands for; None = unbounded."""
    count = 0
    items = lst.items
    i = 0
    while i < len(items):
        it = items[i]
        i += 1
        if isinstance(it, SAtom):
            t = it.text
            if t == "=":
                i += 1  # skip the default value
                continue
            if t in _ELLIPSES or _is_keyword(t) or t == ".":
                return None
            if t in _BAD_ATOMS:
                return None
            count += 1
        elif it.delim == "[":
            inner = _bracket_count(it)
            if inner is None:
                return None
            count += inner
        else:
            count += 1
    return count


# ---------------------------------------------------------------------------
# usage block
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class UsageForm:
    head: str | None
    datum: object
    text: str  # normalised one-line text of the form
    returns: str | None = None
    expansion: bool = False  # follows a ``=>``


@dataclass(slots=True)
class Usage:
    forms: list[UsageForm] = field(default_factory=list)
    bare: list[str] = field(default_factory=list)  # bare identifiers on their own line
    params: list[str] = field(default_factory=list)
    has_expansion: bool = False
    atoms: set[str] = field(default_factory=set)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def parse_usage(block: str) -> Usage:
    """Split a usage block into signature forms, ``-> ret`` parts and ``:=`` lines."""
    u = Usage()
    lines = block.split("\n")
    # line start offsets
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln) + 1)
    text = block
    n = len(text)
    pos = 0
    expect_expansion = False
    in_grammar = False  # after a "label:" line, until a blank line
    while pos < n:
        # are we at a line start?
        line_no = _line_of(starts, pos)
        line_start = starts[line_no]
        line = lines[line_no] if line_no < len(lines) else ""
        if pos == line_start or not text[line_start:pos].strip():
            stripped = line.strip()
            if not stripped:
                in_grammar = False
                pos = starts[line_no + 1] if line_no + 1 < len(starts) else n
                continue
            if _PARAM_LINE.match(line) and not stripped.startswith(("(", "[", "{")):
                u.params.append(stripped)
                pos = starts[line_no + 1]
                continue
            if _LABEL_LINE.match(line):
                in_grammar = True
                pos = starts[line_no + 1]
                continue
        pos = _skip_ws(text, pos)
        if pos >= n:
            break
        datum, end = _read_one(text, pos)
        for a in _atoms(datum):
            u.atoms.add(a)
        if isinstance(datum, SAtom):
            t = datum.text
            if t == "=>":
                expect_expansion = True
                u.has_expansion = True
                pos = end
                continue
            if t == "->":
                ln = _line_of(starts, pos)
                rest = text[end:starts[ln + 1] - 1] if ln + 1 < len(starts) else text[end:]
                ret = _strip_comment(rest).strip()
                if u.forms and u.forms[-1].returns is None and ret:
                    u.forms[-1].returns = ret
                pos = starts[ln + 1] if ln + 1 < len(starts) else n
                continue
            if not in_grammar and _IDENT.match(t) and not expect_expansion:
                # a bare name on its own line documents a value/parameter
                ln = _line_of(starts, pos)
                if not lines[ln][: pos - starts[ln]].strip():
                    u.bare.append(t)
            expect_expansion = False
            pos = end
            continue
        form = UsageForm(
            head=_head(datum), datum=datum, text=_norm(text[datum.start:datum.end]),
            expansion=expect_expansion or in_grammar,
        )
        expect_expansion = False
        u.forms.append(form)
        pos = end
    return u


def _strip_comment(s: str) -> str:
    i = s.find(";")
    return s if i < 0 else s[:i]


def _line_of(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ---------------------------------------------------------------------------
# markdown page structure
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class _Block:
    kind: str  # heading | fence | text | tip-open | tip-close
    line: int
    text: str = ""
    level: int = 0
    tip: str | None = None  # for fences/text: title of the enclosing tip, if any


def _blocks(text: str) -> list[_Block]:
    out: list[_Block] = []
    lines = text.split("\n")
    i = 0
    tip: str | None = None
    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(marker[:3]):
                body.append(lines[j])
                j += 1
            out.append(_Block("fence", i, "\n".join(body), tip=tip))
            i = j + 1
            continue
        if _TIP_CLOSE.match(line):
            tip = None
            out.append(_Block("tip-close", i))
            i += 1
            continue
        m = _TIP_OPEN.match(line)
        if m:
            tip = (m.group(1) + " " + m.group(2)).strip()
            out.append(_Block("tip-open", i, tip, tip=tip))
            i += 1
            continue
        m = _HEADING.match(line)
        if m:
            if tip is not None:  # an unclosed ``::: tip`` ends at the next heading
                tip = None
                out.append(_Block("tip-close", i))
            out.append(_Block("heading", i, m.group(2), level=len(m.group(1))))
            i += 1
            continue
        out.append(_Block("text", i, line, tip=tip))
        i += 1
    return out


def heading_text(raw: str) -> str:
    """Heading content as rendered: closing ``#`` run, backticks and Markdown's escapes (``letrec\\*``) removed."""
    t = re.sub(r"\s+#+\s*$", "", raw).strip()
    t = re.sub(r"\\([\\`*_{}\[\]()#+.!|-])", r"\1", t)
    return t.replace("`", "").strip()


def slugify(text: str) -> str:
    """VuePress' heading slug (anchor) for ``text``."""
    s = unicodedata.normalize("NFKD", text)
    s = re.sub(r"[\u0300-\u036F]", "", s)
    s = re.sub(r"[\u0000-\u001f]", "", s)
    s = re.sub(r"[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:\"'“”‘’–—<>,.?/]+", "-", s)
    s = re.sub(r"-{2,}", "-", s).strip("-")
    s = re.sub(r"^(\d)", r"_\1", s)
    return s.lower()


def page_url(page: str, base: str = DOCS_BASE_URL) -> str:
    if page.endswith("README.md"):
        return base + page[: -len("README.md")]
    return base + page[:-3] + ".html"


def _heading_candidates(text: str) -> tuple[list[str], bool, bool] | None:
    """Split a heading into candidate names.

    Returns (names, is_range, space_separated) or None when the heading is prose.
    """
    t = text.replace("…", "...")
    is_range = "..." in t
    t = t.replace("...", ",")
    parts = [p.strip() for p in t.split(",") if p.strip()]
    if not parts:
        return None
    if len(parts) == 1 and " " in parts[0]:
        toks = parts[0].split()
        if all(_IDENT.match(x) for x in toks):
            return toks, is_range, True
        return None
    if any(" " in p or not _IDENT.match(p) for p in parts):
        return None
    return parts, is_range, False


def _module_from_path(page: str) -> str | None:
    if not page.startswith(("std/", "srfi/")):
        return None
    stem = page[:-3]
    if stem.endswith("/README"):
        stem = stem[: -len("/README")]
    return ":" + stem


def _first_sentence(text: str) -> str | None:
    t = _norm(text)
    if not t:
        return None
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z`*(\[])", t)
    s = t[: m.start()] if m else t
    if len(s) > SUMMARY_MAX:
        s = s[: SUMMARY_MAX - 1].rstrip() + "…"
    return s


_MACRO_WORDS = re.compile(r"\b(macro|special form|syntax|syntactic form|binding form)\b", re.I)


def _doc_kind(name: str, page: str, usage: Usage, forms: list[UsageForm], first_para: str) -> str:
    if page.startswith(("gerbil/prelude/macros", "gerbil/prelude/core-expander-syntax")):
        return "macro"
    if not forms:
        if name.endswith("::t"):
            return "class"
        if "parameter" in first_para.lower():
            return "parameter"
        return "value"
    if usage.has_expansion:
        return "macro"
    sig_atoms = set()
    for f in forms:
        sig_atoms.update(_atoms(f.datum))
    if {"body", "body...", "expr"} & sig_atoms and not any(f.returns for f in forms):
        return "macro"
    if any(a.startswith("<") and a.endswith(">") for a in sig_atoms) and not any(
        f.returns for f in forms
    ):
        return "macro"
    fp = first_para[:200]
    if _MACRO_WORDS.search(fp) and not any(f.returns for f in forms):
        return "macro"
    if name.startswith("def") and not any(f.returns for f in forms):
        return "macro"
    return "procedure"


@dataclass(slots=True)
class DocPage:
    page: str
    symbols: list[Symbol]
    modules: list[str]


def parse_page(text: str, page: str, *, base_url: str = DOCS_BASE_URL,
               keep_prose: bool = True) -> DocPage:
    """Documented symbols of one reference page (``page`` relative to the reference dir)."""
    prelude = page.startswith(PRELUDE_PREFIXES)
    module: str | None
    if prelude:
        module = None
    elif page.startswith(EXPANDER_PREFIX):
        module = EXPANDER_MODULE
    else:
        module = _module_from_path(page)
    blocks = _blocks(text)
    url = page_url(page, base_url)
    slugs: dict[str, int] = {}
    out: list[Symbol] = []
    modules_seen: list[str] = []

    # group blocks into sections, remembering the module in force at each heading
    sections: list[tuple[_Block | None, list[_Block], str | None]] = []
    cur_head: _Block | None = None
    cur: list[_Block] = []
    cur_mod = module
    head_mod = module
    tip_buf: list[str] = []
    content_seen = False
    for b in blocks:
        if b.kind == "tip-open":
            tip_buf = []
            if "example" not in b.text.lower():
                tip_buf.append(b.text)
        elif b.kind in ("fence", "text") and b.tip and "example" not in b.tip.lower():
            tip_buf.append(b.text)
        elif b.kind == "tip-close":
            m = _IMPORT_MOD.search("\n".join(tip_buf))
            if m and not prelude:
                cur_mod = m.group(1)
                if cur_mod not in modules_seen:
                    modules_seen.append(cur_mod)
                if not content_seen:  # tip right under the heading governs this section
                    head_mod = cur_mod
            tip_buf = []
        if b.kind == "heading":
            sections.append((cur_head, cur, head_mod))
            cur_head, cur, head_mod = b, [], cur_mod
            content_seen = False
            continue
        cur.append(b)
        if b.tip is None and (b.kind == "fence" or (b.kind == "text" and b.text.strip())):
            content_seen = True
    sections.append((cur_head, cur, head_mod))

    for head, body, sec_mod in sections:
        if head is None:
            continue
        htext = heading_text(head.text)
        base_slug = slugify(htext)
        k = slugs.get(base_slug, 0)
        slugs[base_slug] = k + 1
        anchor = base_slug if k == 0 else f"{base_slug}-{k}"
        if head.level < 2 or head.level > 4:
            continue
        cands = _heading_candidates(htext)
        if cands is None:
            continue
        names, is_range, spaced = cands
        usage_block = next((b for b in body if b.kind == "fence" and b.tip is None), None)
        if usage_block is None:
            continue
        out.extend(_section_symbols(
            names, is_range, spaced, usage_block.text, body, page, sec_mod, url, anchor,
            keep_prose=keep_prose,
        ))
    if module and module not in modules_seen and any(s.module == module for s in out):
        modules_seen.insert(0, module)
    return DocPage(page, out, modules_seen)


def _section_symbols(names, is_range, spaced, block, body, page, module, url, anchor,
                     *, keep_prose) -> list[Symbol]:
    usage = parse_usage(block)
    stripped = block.lstrip()
    if stripped.startswith("(extern"):
        return _extern_symbols(usage, page, module, url, anchor)
    heads = [f.head for f in usage.forms if not f.expansion and f.head]
    head_set = set(heads)
    chosen: list[str] = []
    if spaced:
        # "### defclass defstruct define-class define-struct": the names the block uses as forms, and
        # those it defines as aliases ((defalias define-struct defstruct)); "letrec letrec*": (letrec[*] ...);
        # "mult-mod a b n": a name and its parameters
        if names[0] not in head_set:
            return []  # prose ("The `instance` Syntax"), not names
        aliases = {a for f in usage.forms if f.head == "defalias" for a in _atoms(f.datum)}
        chosen = [n for n in names if n in head_set or n in aliases
                  or (n.endswith("*") and n[:-1] in head_set and f"({n[:-1]}[*]" in block)]
    else:
        present = [n for n in names if n in usage.atoms or n in usage.bare]
        if not present:
            return []
        chosen = list(names)
    if is_range:
        for h in heads:
            if h not in chosen and _IDENT.match(h) and not h.startswith(("#", ":")):
                chosen.append(h)
    chosen = [n for n in chosen if not n.startswith(":") and not n.isdigit()]
    if not chosen:
        return []

    # prose and examples
    prose_lines: list[str] = []
    examples: list[str] = []
    seen_usage = False
    for b in body:
        if b.kind == "fence" and b.tip is None and not seen_usage:
            seen_usage = True
            continue
        if b.kind == "fence" and b.tip and "example" in b.tip.lower():
            examples.append(b.text.strip("\n"))
        elif b.kind == "text" and b.tip is None:
            prose_lines.append(b.text)
    description = "\n".join(prose_lines).strip() or None
    first_para = (description or "").split("\n\n")[0]
    summary = _first_sentence(first_para) if first_para else None

    out = []
    for name in chosen:
        forms = [f for f in usage.forms if not f.expansion and f.head == name]
        arity: Arity | None = None
        sigs: list[str] = []
        returns: list[str] = []
        if forms:
            arity = Arity.merge_all(signature_arity(f.datum) for f in forms)
            for f in forms:
                sigs.append(f.text + (f" -> {f.returns}" if f.returns else ""))
                if f.returns and f.returns not in returns:
                    returns.append(f.returns)
        else:
            c_forms = [f for f in usage.forms if f.head == "define-c-lambda"
                       and isinstance(f.datum, SList) and len(f.datum.items) >= 3
                       and isinstance(f.datum.items[1], SAtom) and f.datum.items[1].text == name]
            if c_forms:
                f = c_forms[0]
                argl = f.datum.items[2]
                sigs.append(f.text)
                if isinstance(argl, SList) and f.datum.closed:
                    arity = Arity(len(argl.items), len(argl.items))
                if len(f.datum.items) >= 4:
                    returns.append(_norm(block[f.datum.items[3].start:f.datum.items[3].end]))
        kind = "procedure" if (sigs and not forms) else _doc_kind(
            name, page, usage, forms, first_para)
        if kind == "macro" and forms and arity is not None:
            # macro usage text is a pattern language; keep only the minimum bound
            arity = Arity(arity.min, None) if any(
                isinstance(a, SList) for f in forms for a in f.datum.items[1:]
            ) else arity
        out.append(Symbol(
            name=name, module=module, kind=kind, signatures=sigs, arity=arity,
            returns=" | ".join(returns) if returns else None,
            doc_url=f"{url}#{anchor}", doc_page=page, documented=True,
            description=description if keep_prose else None,
            summary=summary,
            examples=examples if keep_prose else [],
            params=usage.params if keep_prose else [],
        ))
    return out


def _extern_symbols(usage: Usage, page, module, url, anchor) -> list[Symbol]:
    out: list[Symbol] = []
    for f in usage.forms:
        if f.head != "extern" or not isinstance(f.datum, SList):
            continue
        items = f.datum.items[1:]
        mod = module
        i = 0
        while i < len(items):
            it = items[i]
            i += 1
            if isinstance(it, SAtom) and _is_keyword(it.text):
                if it.text == "namespace:" and i < len(items):
                    ns = items[i]
                    if isinstance(ns, SAtom) and ns.text != "#f":
                        mod = EXPANDER_MODULE
                i += 1
                continue
            if isinstance(it, SAtom):
                name = it.text
            elif isinstance(it, SList) and it.items and isinstance(it.items[0], SAtom):
                name = it.items[0].text  # (name internal-name)
            else:
                continue
            if not _IDENT.match(name):
                continue
            out.append(Symbol(
                name=name, module=mod, kind="procedure", doc_url=f"{url}#{anchor}",
                doc_page=page, documented=True,
            ))
    return out


def find_reference_dir(docs: Path) -> Path:
    """Accept the docs root (``doc/``) or the reference dir itself."""
    docs = Path(docs)
    if (docs / "reference").is_dir():
        return docs / "reference"
    return docs


def parse_docs(docs: Path, *, base_url: str = DOCS_BASE_URL, keep_prose: bool = True,
               progress=None) -> list[Symbol]:
    """All documented symbols under a docs tree, in a deterministic order.

    The same name documented twice for the same module (e.g. a range heading
    and its own section) is merged: signatures are pooled and the first
    page/anchor kept.
    """
    ref = find_reference_dir(docs)
    pages = sorted(p for p in ref.rglob("*.md"))
    merged: dict[tuple[str | None, str], Symbol] = {}
    for p in pages:
        rel = p.relative_to(ref).as_posix()
        if rel.startswith(SKIP_PREFIXES):
            continue
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        page = parse_page(text, rel, base_url=base_url, keep_prose=keep_prose)
        for sym in page.symbols:
            key = (sym.module, sym.name)
            old = merged.get(key)
            if old is None:
                merged[key] = sym
            else:
                merge_doc_symbols(old, sym)
        if progress:
            progress(rel)
    return list(merged.values())


def merge_doc_symbols(old: Symbol, new: Symbol) -> None:
    """Fold a second documentation entry for the same name into ``old``."""
    had = bool(old.signatures)
    for sig in new.signatures:
        if sig not in old.signatures:
            old.signatures.append(sig)
    if new.signatures:
        old.arity = Arity.merge_all([old.arity, new.arity]) if had else new.arity
        if not had:  # the entry with a usage block is the better page to link
            old.doc_url, old.doc_page, old.kind = new.doc_url, new.doc_page, new.kind
    old.returns = old.returns or new.returns
    old.summary = old.summary or new.summary
    old.description = old.description or new.description
    if old.kind in ("procedure", "value") and new.kind not in ("procedure", "value"):
        old.kind = new.kind
    if not old.examples:
        old.examples = new.examples
