#!/usr/bin/env python3
"""Writes Tandem's API reference (Markdown) from schema.graphql.

    python3 docs/gen-api-reference.py schema.graphql > docs/api.md
    python3 docs/gen-api-reference.py --check docs/api.md schema.graphql

The second form writes nothing: it exits 0 when docs/api.md is what the
first form would write, and 1 with a short diff otherwise (CI runs it).

The reference is built from the schema alone: its descriptions are the doc
comments of `service/src/graphql/`, exported by `tandem export-schema`.
The output is stable: no dates, no versions; types and fields sorted by
name; arguments and enum values kept in schema order (their order means
something: `first` before `after`, DRAFT before ENROLLING).

Needs Python 3.11 and graphql-core (`python3 -m pip install graphql-core`).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

try:
    import graphql
    from graphql import (
        GraphQLArgument,
        GraphQLEnumType,
        GraphQLField,
        GraphQLInputObjectType,
        GraphQLInterfaceType,
        GraphQLObjectType,
        GraphQLScalarType,
        GraphQLSchema,
        GraphQLUnionType,
    )
except ImportError:  # pragma: no cover - a message beats a traceback
    sys.stderr.write(
        "gen-api-reference: graphql-core is missing: python3 -m pip install graphql-core\n"
    )
    sys.exit(2)

REGENERATE = "python3 docs/gen-api-reference.py schema.graphql > docs/api.md"

INTRO = """\
This reference is for developers who call Tandem's GraphQL API: intranet
front-ends, the HRIS connector, dashboards and scripts. It lists every
query and mutation, then every type, with the descriptions the service
publishes. Who may call what, and the rules behind each operation, are in
[design.md](design.md); settings are in [configuration.md](configuration.md).

This file is generated from `schema.graphql` by `docs/gen-api-reference.py`;
do not edit it by hand. The descriptions are the doc comments in
`service/src/graphql/`: change them there, then run

```sh
cargo run -q -- export-schema > schema.graphql
{regenerate}
```

CI fails when this file is stale.

Conventions, true of every operation:

- One endpoint, `POST /graphql` (JSON, or a multipart upload for
  `importUnavailability`), with `Authorization: Bearer <token>`. Without a
  valid token the answer is HTTP 401.
- Every error carries `extensions.code`: `UNAUTHENTICATED`, `FORBIDDEN` (a
  kind of caller that may never use the field), `NOT_FOUND` (also for an id
  the caller may not see: no existence oracle), `BAD_USER_INPUT` (with
  `extensions.field`), `CONFLICT` (a rule or a state forbids it; nothing
  changed), `RATE_LIMITED`, `PERSISTED_QUERY_NOT_FOUND`,
  `INTERNAL_SERVER_ERROR`.
- Lists that grow are Relay connections: `first` is 1 to 100 (default 20),
  `after` is an opaque cursor from `pageInfo.endCursor`.
- Ids are UUIDs. Instants are RFC 3339 with an offset; dates are
  `YYYY-MM-DD`.
- Types are written as in GraphQL: `!` means never null, `[T]` a list.
  `String`, `Int` (32-bit), `Float` and `Boolean` are GraphQL's own scalars.
"""

BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}
BUILT_IN_DIRECTIVES = {d.name for d in graphql.specified_directives}


# --- anchors -------------------------------------------------------------


class Slugger:
    """GitHub's heading anchors (github-slugger): lower case, punctuation
    dropped, spaces to hyphens, repeats numbered -1, -2 …"""

    _drop = re.compile(r"[^\w\- ]", re.UNICODE)

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = self._drop.sub("", text.strip().lower()).replace(" ", "-")
        slug = base
        while slug in self.seen:
            self.seen[base] += 1
            slug = f"{base}-{self.seen[base]}"
        self.seen[slug] = 0
        return slug


# --- text helpers ----------------------------------------------------------


def cell(text: str | None) -> str:
    """A description inside a table cell: one line, pipes escaped,
    paragraphs kept apart with <br><br>."""
    if not text:
        return ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "<br><br>".join(p for p in paragraphs if p).replace("|", "\\|")


def block(text: str | None) -> str:
    """A description as a paragraph of its own; a Markdown heading in it
    becomes bold text, so it cannot break the reference's outline."""
    lines = (text or "").strip().splitlines()
    return "\n".join(re.sub(r"^#{1,6}\s+(.+?)\s*#*$", r"**\1**", line) for line in lines)


def named(type_) -> str:
    return graphql.get_named_type(type_).name


def printed(type_) -> str:
    return str(type_)


def default_of(arg) -> str | None:
    """The default value as GraphQL would print it, if there is one."""
    if arg.default_value is graphql.Undefined:
        return None
    node = graphql.ast_from_value(arg.default_value, arg.type)
    return graphql.print_ast(node) if node is not None else "null"


def deprecation(reason: str | None) -> str:
    if reason is None:
        return ""
    text = cell(reason) or "no reason given"
    return f"**Deprecated:** {text}"


def signature(name: str, field: GraphQLField) -> str:
    args = []
    for arg_name, arg in field.args.items():
        text = f"{arg_name}: {printed(arg.type)}"
        default = default_of(arg)
        if default is not None:
            text += f" = {default}"
        args.append(text)
    inner = f"({', '.join(args)})" if args else ""
    return f"{name}{inner}: {printed(field.type)}"


# --- the document ----------------------------------------------------------


class Reference:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
        self.roots = [r for r in roots if r is not None]
        root_names = {r.name for r in self.roots}
        types = [
            t
            for name, t in sorted(schema.type_map.items())
            if not name.startswith("__")
            and name not in BUILT_IN_SCALARS
            and name not in root_names
        ]
        self.groups: list[tuple[str, list]] = [
            ("Objects", [t for t in types if isinstance(t, GraphQLObjectType)]),
            ("Interfaces", [t for t in types if isinstance(t, GraphQLInterfaceType)]),
            ("Unions", [t for t in types if isinstance(t, GraphQLUnionType)]),
            ("Input objects", [t for t in types if isinstance(t, GraphQLInputObjectType)]),
            ("Enums", [t for t in types if isinstance(t, GraphQLEnumType)]),
            ("Scalars", [t for t in types if isinstance(t, GraphQLScalarType)]),
        ]
        self.groups = [(title, members) for title, members in self.groups if members]
        self.directives = sorted(
            (d for d in schema.directives if d.name not in BUILT_IN_DIRECTIVES),
            key=lambda d: d.name,
        )
        self.anchor: dict[tuple, str] = {}
        self._plan_anchors()

    # Every heading, in document order, so anchors match GitHub's numbering.
    def _headings(self):
        yield ("title",), "Tandem API reference"
        yield ("contents",), "Contents"
        for root in self.roots:
            yield ("section", root.name), root.name
            for name in sorted(root.fields):
                yield ("field", root.name, name), f"{root.name}.{name}"
        for title, members in self.groups:
            yield ("section", title), title
            for t in members:
                yield ("type", t.name), t.name
        if self.directives:
            yield ("section", "Directives"), "Directives"
            for d in self.directives:
                yield ("directive", d.name), f"@{d.name}"

    def _plan_anchors(self) -> None:
        slugger = Slugger()
        for key, text in self._headings():
            self.anchor[key] = slugger.slug(text)

    def link(self, type_) -> str:
        """The type as written, linked to its section when it has one."""
        text = f"`{printed(type_)}`"
        key = ("type", named(type_))
        return f"[{text}](#{self.anchor[key]})" if key in self.anchor else text

    # --- rendering ---------------------------------------------------------

    def render(self) -> str:
        out: list[str] = ["# Tandem API reference", "", INTRO.format(regenerate=REGENERATE)]
        out += self.contents()
        for root in self.roots:
            out += self.root_section(root)
        for title, members in self.groups:
            out += [f"## {title}", ""]
            for t in members:
                out += self.type_section(t)
        if self.directives:
            out += ["## Directives", ""]
            for d in self.directives:
                out += self.directive_section(d)
        text = "\n".join(out)
        text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
        return text

    def contents(self) -> list[str]:
        out = ["## Contents", ""]
        for root in self.roots:
            links = ", ".join(
                f"[{name}](#{self.anchor[('field', root.name, name)]})"
                for name in sorted(root.fields)
            )
            out.append(f"- [{root.name}](#{self.anchor[('section', root.name)]}) "
                       f"({len(root.fields)}): {links}")
        for title, members in self.groups:
            links = ", ".join(f"[{t.name}](#{self.anchor[('type', t.name)]})" for t in members)
            out.append(f"- [{title}](#{self.anchor[('section', title)]}) "
                       f"({len(members)}): {links}")
        if self.directives:
            links = ", ".join(
                f"[@{d.name}](#{self.anchor[('directive', d.name)]})" for d in self.directives
            )
            out.append(f"- [Directives](#{self.anchor[('section', 'Directives')]}): {links}")
        out.append("")
        return out

    def root_section(self, root: GraphQLObjectType) -> list[str]:
        out = [f"## {root.name}", ""]
        if root.description:
            out += [block(root.description), ""]
        for name in sorted(root.fields):
            field = root.fields[name]
            out += [f"### {root.name}.{name}", "", "```graphql", signature(name, field), "```", ""]
            if field.description:
                out += [block(field.description), ""]
            if field.deprecation_reason is not None:
                out += [deprecation(field.deprecation_reason), ""]
            out += [f"Returns {self.link(field.type)}.", ""]
            if field.args:
                out += self.arguments_table(field.args)
        return out

    def arguments_table(self, args: dict[str, GraphQLArgument]) -> list[str]:
        return self.value_table("Argument", args.items())

    def value_table(self, title: str, items) -> list[str]:
        """Arguments or input fields: name, type, and the Default and
        Description columns only when some row fills them."""
        rows = []
        for name, value in items:
            default = default_of(value)
            notes = " ".join(
                x for x in (cell(value.description), deprecation(value.deprecation_reason)) if x
            )
            rows.append((f"`{name}`", self.link(value.type),
                         f"`{default}`" if default is not None else "", notes))
        show_default = any(r[2] for r in rows)
        show_notes = any(r[3] for r in rows)
        head = [title, "Type"] + (["Default"] if show_default else []) + (
            ["Description"] if show_notes else [])
        out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for name, type_, default, notes in rows:
            row = [name, type_] + ([default] if show_default else []) + (
                [notes] if show_notes else [])
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        return out

    def type_section(self, t) -> list[str]:
        out = [f"### {t.name}", ""]
        if t.description:
            out += [block(t.description), ""]
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)):
            if t.interfaces:
                names = ", ".join(self.link(i) for i in sorted(t.interfaces, key=lambda i: i.name))
                out += [f"Implements {names}.", ""]
            if isinstance(t, GraphQLInterfaceType):
                impls = self.schema.get_implementations(t)
                names = sorted(o.name for o in impls.objects + impls.interfaces)
                if names:
                    listed = ", ".join(self.link(self.schema.type_map[n]) for n in names)
                    out += [f"Implemented by {listed}.", ""]
            out += self.fields_table(t.fields)
        elif isinstance(t, GraphQLUnionType):
            members = ", ".join(self.link(m) for m in sorted(t.types, key=lambda m: m.name))
            out += [f"One of {members}.", ""]
        elif isinstance(t, GraphQLInputObjectType):
            out += self.value_table("Field", ((n, t.fields[n]) for n in sorted(t.fields)))
        elif isinstance(t, GraphQLEnumType):
            out += ["| Value | Description |", "| --- | --- |"]
            for name, value in t.values.items():
                notes = " ".join(
                    x for x in (cell(value.description), deprecation(value.deprecation_reason)) if x
                )
                out.append(f"| `{name}` | {notes} |")
            out.append("")
        elif isinstance(t, GraphQLScalarType):
            if t.specified_by_url:
                out += [f"Specified by <{t.specified_by_url}>.", ""]
        return out

    def fields_table(self, fields: dict[str, GraphQLField]) -> list[str]:
        rows = []
        for name in sorted(fields):
            field = fields[name]
            parts = [cell(field.description)]
            if field.args:
                args = []
                for arg_name, arg in field.args.items():
                    text = f"`{arg_name}: {printed(arg.type)}"
                    default = default_of(arg)
                    if default is not None:
                        text += f" = {default}"
                    text += "`"
                    more = " ".join(
                        x for x in (cell(arg.description), deprecation(arg.deprecation_reason)) if x
                    )
                    if more:
                        text += f" {more}"
                    args.append(text)
                parts.append("Arguments: " + ", ".join(args) + ".")
            parts.append(deprecation(field.deprecation_reason))
            rows.append((f"`{name}`", self.link(field.type), "<br>".join(p for p in parts if p)))
        if any(notes for _, _, notes in rows):
            out = ["| Field | Type | Description |", "| --- | --- | --- |"]
            out += [f"| {name} | {type_} | {notes} |" for name, type_, notes in rows]
        else:
            out = ["| Field | Type |", "| --- | --- |"]
            out += [f"| {name} | {type_} |" for name, type_, _ in rows]
        out.append("")
        return out

    def directive_section(self, d) -> list[str]:
        out = [f"### @{d.name}", ""]
        if d.description:
            out += [block(d.description), ""]
        where = ", ".join(loc.name for loc in d.locations)
        out += [f"On {where}.", ""]
        if d.args:
            out += self.arguments_table(d.args)
        return out


# --- command line ------------------------------------------------------------


def generate(schema_path: Path) -> str:
    sdl = schema_path.read_text(encoding="utf-8")
    schema = graphql.build_schema(sdl)
    return Reference(schema).render()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Write the Markdown API reference of a GraphQL schema to stdout."
    )
    parser.add_argument("schema", type=Path, help="the SDL file, e.g. schema.graphql")
    parser.add_argument(
        "--check",
        metavar="FILE",
        type=Path,
        help="write nothing; exit 1 when FILE differs from what would be generated",
    )
    args = parser.parse_args(argv)
    regenerate = f"python3 docs/gen-api-reference.py {args.schema} > {args.check or 'docs/api.md'}"
    try:
        text = generate(args.schema)
    except (OSError, graphql.GraphQLError) as err:
        sys.stderr.write(f"gen-api-reference: cannot read {args.schema}: {err}\n")
        return 2
    if args.check is None:
        sys.stdout.buffer.write(text.encode("utf-8"))
        return 0
    try:
        current = args.check.read_text(encoding="utf-8")
    except OSError as err:
        sys.stderr.write(
            f"gen-api-reference: {args.check} cannot be read ({err.strerror}).\n"
            f"Generate it: {regenerate}\n"
        )
        return 1
    if current == text:
        return 0
    diff = list(
        difflib.unified_diff(
            current.splitlines(),
            text.splitlines(),
            fromfile=str(args.check),
            tofile=f"{args.check} (generated from {args.schema})",
            lineterm="",
        )
    )
    shown = diff[:60]
    sys.stderr.write(
        f"gen-api-reference: {args.check} is out of date with {args.schema} "
        f"({sum(1 for l in diff if l[:1] in '+-' and l[:3] not in ('+++', '---'))} lines differ).\n"
        f"Regenerate it: {regenerate}\n\n"
    )
    sys.stderr.write("\n".join(shown) + "\n")
    if len(diff) > len(shown):
        sys.stderr.write(f"… {len(diff) - len(shown)} more diff lines\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
