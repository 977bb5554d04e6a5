"""What `kgtoolkit db up` adds to Neo4j Browser: the style of graph_schema/kgtoolkit.grass (a colour
and a caption per label) and a guide that walks through graph_schema/QUERIES.md, one slide per
query, built from that file at each start so that the two never differ.

`LocalNeo4j` writes both into its home's browser/ folder (`write_browser_files`); the server's
HTTP connector serves them at /kgtoolkit/ (the unmanaged extension KgToolkitBrowserFiles.java) and
the Browser runs `post_connect_commands` when it logs in: it applies the style and opens the guide.

A guide slide sets the query's parameters with `:param`, picking ids from the graph with the
Cypher of `PLACEHOLDERS` (the same choices as tests/test_queries.py), so that a newcomer can run
every query on their own graph with two clicks.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kgtoolkit.schema import LABELS, REL_TYPES, SCHEMA_DIR

STYLE_FILE = SCHEMA_DIR / "kgtoolkit.grass"
QUERIES_FILE = SCHEMA_DIR / "QUERIES.md"
MOUNT = "/kgtoolkit"  # where the server serves the files below
GUIDE_NAME = "guide.html"
STYLE_NAME = "kgtoolkit.grass"

_SHARED_PAIR = ("MATCH (a:Action)-[:INVOLVES]->(:BodyMovement)<-[:INVOLVES]-(b:Action) WHERE a.id < b.id "
                "RETURN {col} ORDER BY a.id, b.id LIMIT 1")
# QUERIES.md's `params` placeholders -> a Cypher expression that picks such an id from the graph.
PLACEHOLDERS = {
    "$VIDEO": "COLLECT { MATCH (v:Video {split: 'test'}) RETURN v.id ORDER BY v.id LIMIT 1 }[0]",
    "$ACTION": f"COLLECT {{ {_SHARED_PAIR.format(col='a.id')} }}[0]",
    "$OTHER_ACTION": f"COLLECT {{ {_SHARED_PAIR.format(col='b.id')} }}[0]",
    "$MOVEMENT": "COLLECT { MATCH (m:BodyMovement) RETURN m.id ORDER BY m.id LIMIT 1 }[0]",
}


@dataclass(frozen=True)
class CookbookQuery:
    title: str
    description: str  # the Markdown between the title and the query
    params: dict  # as QUERIES.md writes them: placeholders ($VIDEO, ...) or values
    cypher: str

    def param_commands(self) -> list[str]:
        """The Browser commands that set this query's parameters, one each (`:param video => <Cypher>`:
        the Browser evaluates the right side on the server; `:params {...}` takes literals only)."""
        commands = []
        for name, value in self.params.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{QUERIES_FILE}: {self.title!r}: parameter name {name!r} is not an identifier")
            if isinstance(value, str) and value.startswith("$"):
                if value not in PLACEHOLDERS:
                    raise ValueError(f"{QUERIES_FILE}: {self.title!r}: unknown placeholder {value} "
                                     f"(known: {', '.join(PLACEHOLDERS)})")
                commands.append(f":param {name} => {PLACEHOLDERS[value]}")
            else:
                commands.append(f":param {name} => {json.dumps(value)}")
        return commands


def cookbook_queries(text: str | None = None) -> list[CookbookQuery]:
    """The read queries of graph_schema/QUERIES.md: every `## title` followed by a `params` comment
    and a ```cypher block (the write example, without them, is left out)."""
    text = QUERIES_FILE.read_text() if text is None else text
    pattern = re.compile(r"^## (.+?)\n((?:(?!\n## ).)*?)<!-- params: (\{.*?\}) -->\n```cypher\n(.*?)```", re.S | re.M)
    queries = []
    for title, description, params, cypher in pattern.findall(text):
        try:
            parsed = json.loads(params)
        except ValueError as error:
            raise ValueError(f"{QUERIES_FILE}: {title!r}: its params comment is not JSON: {error}") from None
        queries.append(CookbookQuery(title.strip(), description.strip(), parsed, cypher.strip()))
    return queries


def _inline(text: str) -> str:
    """One line of QUERIES.md's Markdown as HTML: `code` marked, everything else escaped."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(" ".join(text.split())))


def _markdown(text: str) -> str:
    """The little Markdown QUERIES.md uses (paragraphs of text and `code`) as HTML."""
    return "\n".join(f"<p>{_inline(p)}</p>" for p in re.split(r"\n\s*\n", text.strip()) if p.strip())


def _runnable(command: str) -> str:
    return f'<pre class="runnable">{html.escape(command)}</pre>'


def guide_html(text: str | None = None) -> str:
    """A Neo4j Browser guide (`:guide URL`): a slide on the graph model, then one per QUERIES.md query."""
    text = QUERIES_FILE.read_text() if text is None else text
    intro = text.split("\n## ", 1)[0].split("\n", 1)[-1]  # the file's preamble, below its title
    relationships = "".join(f"<li><code>(:{r.source})-[:{r.name}]-&gt;(:{r.target})</code></li>"
                            for r in REL_TYPES.values())
    slides = [f"""<slide>
<h3>kgtoolkit's knowledge graph</h3>
<p>Labels: {', '.join(f'<code>{label}</code>' for label in LABELS)}, each with a unique <code>id</code> and a
<code>name</code> (graph_schema/MODEL.md). Relationships:</p>
<ul>{relationships}</ul>
<p>Click a block to put it in the editor, then run it (Ctrl+Enter):</p>
{_runnable("CALL db.schema.visualization()")}
{_runnable("MATCH (n) RETURN labels(n)[0] AS label, count(*) AS nodes ORDER BY label")}
{_runnable("MATCH p = (:Video)-[:SHOWS]->(:Action)-[:INVOLVES]->(:BodyMovement)-[:OF_PART]->(:BodyPart) "
           "RETURN p LIMIT 10")}
</slide>""", f"""<slide>
<h3>The cookbook: graph_schema/QUERIES.md</h3>
{_markdown(intro)}
<p>Each next slide is one query: first set its parameters with the <code>:param</code> blocks (they pick
ids from your graph), then run the query.</p>
</slide>"""]
    for query in cookbook_queries(text):
        slides.append(f"""<slide>
<h3>{_inline(query.title)}</h3>
{_markdown(query.description)}
{"".join(_runnable(command) for command in query.param_commands())}
{_runnable(query.cypher)}
</slide>""")
    body = "\n".join(slides)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>kgtoolkit: the graph and its queries</title></head>
<body>
{body}
</body></html>
"""


def write_browser_files(folder: Path) -> None:
    """The style and the guide, where KgToolkitBrowserFiles.java serves them from."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STYLE_NAME).write_text(STYLE_FILE.read_text())
    (folder / GUIDE_NAME).write_text(guide_html())


def file_url(http_port: int, name: str) -> str:
    return f"http://127.0.0.1:{http_port}{MOUNT}/{name}"


def post_connect_commands(http_port: int) -> str:
    """browser.post_connect_cmd: apply kgtoolkit's style, open the guide in the sidebar."""
    return f"style {file_url(http_port, STYLE_NAME)}; guide {file_url(http_port, GUIDE_NAME)}"
