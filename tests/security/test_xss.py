"""XSS: payloads in every user-controlled string we can reach, rendered on every page, stay escaped.

Each payload is planted (through the real services where they accept it) in a workspace's name, the
user's display name, prompt names/descriptions/tags/messages/variable defaults and descriptions, version
messages, template names, dataset names, columns and cells, A/B test names, trial and run outputs, run
model names and errors, credential labels and audit details; then every page reachable from the sidebar
is fetched and parsed. A payload must never become markup: no script without src, no on*= attribute,
no javascript: URL, no <img src=x>, and ``{{7*7}}`` is never evaluated.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from abtests.models import ABTest, TestStatus, Trial, TrialStatus
from abtests.services import dataset_create
from abtests.tests.factories import make_test
from accounts.services import user_create, workspace_update
from audit.services import record
from prompts.services import label_set, prompt_create, prompt_update, version_create
from providers.models import Run, RunSource, RunStatus
from providers.services import credential_create
from templates_app.services import template_create
from tests.security.crawl import crawl

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "javascript:alert(1)",
]
MARK = "xss-"
EVALUATED = re.compile(rf"{MARK}[a-z]+:49")
TRIED: dict[str, int] = {}


class _Markup(HTMLParser):
    """Finds markup that a payload would have produced if it escaped its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in (
                "href",
                "src",
                "action",
                "formaction",
                "xlink:href",
                "hx-get",
                "hx-post",
            ) and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and values.get("src") == "x":
            self.problems.append("<img src=x>")
        self._script = tag == "script" and "src" not in values

    def handle_data(self, data: str) -> None:
        if self._script and "alert(1)" in data:
            self.problems.append(f"inline script: {data[:80]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False


def markup_problems(html: str) -> list[str]:
    parser = _Markup()
    parser.feed(html)
    problems = parser.problems
    for raw in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"):
        if raw in html:
            problems.append(f"raw {raw}")
    if EVALUATED.search(html):
        problems.append("{{7*7}} was evaluated")
    return problems


def test_the_checker_catches_unescaped_payloads() -> None:
    for payload in PAYLOADS[:2]:
        assert markup_problems(f"<p>{MARK}{payload}</p>")
        assert not markup_problems(f'<p>{escape(MARK + payload)}</p><a title="{escape(payload)}">x</a>')
    assert markup_problems('<a href="javascript:alert(1)">x</a>')
    assert markup_problems(f"<p>{MARK}workspace:49</p>")
    assert not markup_problems('<a href="/prompts/?q=javascript%3Aalert(1)">x</a>')


def _try(planted: dict[str, bool], field: str, make: Any) -> Any:
    try:
        result = make()
    except ValidationError:
        planted[field] = False  # refused by validation: the payload never gets stored
        return None
    planted[field] = True
    return result


def plant(payload: str) -> tuple[Any, dict[str, str], ABTest]:
    """A user and workspace full of the payload, a distinct marker per field.

    Returns the user and ``{field: planted value}`` for every field that accepted the payload (a field
    whose validation refuses it, such as tags and label names, never stores it and is left out).
    """
    planted: dict[str, str] = {}

    def value(field: str) -> str:
        return f"{MARK}{field}:{payload}"

    def attempt(field: str, make: Any) -> Any:
        try:
            result = make(value(field))
        except ValidationError:
            return None  # refused by validation: the payload never gets stored
        planted[field] = value(field)
        return result

    user = attempt(
        "displayname",
        lambda v: user_create(email="xss@studio.test", password="a-long-enough-pass-9421", display_name=v),
    )
    workspace = user.workspaces.get()
    attempt("workspace", lambda v: workspace_update(workspace=workspace, name=v))
    prompt = attempt("promptname", lambda v: prompt_create(workspace=workspace, user=user, name=v))
    attempt("promptdesc", lambda v: prompt_update(prompt=prompt, description=v))
    attempt("prompttag", lambda v: prompt_update(prompt=prompt, tags=[v]))

    def content(message: str | None, default: str, description: str) -> dict[str, Any]:
        text = "Describe {{subject}}" + (f" {message}" if message else "")
        return {
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
            "variables": [{"name": "subject", "type": "text", "default": default, "description": description}],
            "model": {"provider": "echo", "name": "echo"},
        }

    attempt("messagetext", lambda v: version_create(prompt=prompt, user=user, content=content(v, "x", "x")))
    attempt(
        "vardefault",
        lambda v: version_create(
            prompt=prompt, user=user, content=content(None, v, value("vardesc")), message=value("commit")
        ),
    )
    if "vardefault" in planted:
        planted["vardesc"], planted["commit"] = value("vardesc"), value("commit")
    attempt("labelname", lambda v: label_set(prompt=prompt, name=v, version=1, user=user))
    label_set(prompt=prompt, name="production", version=1, user=user)
    attempt(
        "templatename",
        lambda v: template_create(
            workspace=workspace, user=user, name=v, description=v, content=content(None, "x", "x")
        ),
    )
    attempt(
        "datasetname",
        lambda v: dataset_create(
            workspace=workspace,
            user=user,
            name=v,
            description=v,
            columns=[{"name": "question", "type": "text"}],
            rows=[{"question": value("datasetcell")}],
        ),
    )
    if "datasetname" in planted:
        planted["datasetcell"] = value("datasetcell")
    test = make_test(workspace, rows=2, name=value("abtestname"))
    planted["abtestname"] = value("abtestname")
    run = Run.objects.create(
        workspace=workspace,
        user=user,
        prompt=prompt,
        provider="echo",
        model=value("runmodel")[:200],
        output=value("runoutput"),
        error_message=value("runerror"),
        status=RunStatus.OK,
        source=RunSource.PLAYGROUND,
    )
    planted.update(runmodel=value("runmodel"), runoutput=value("runoutput"), runerror=value("runerror"))
    for variant in test.variants.all():
        for row in range(2):
            Trial.objects.create(
                test=test, variant=variant, row_index=row, status=TrialStatus.OK, output=value("trialoutput"), run=run
            )
    planted["trialoutput"] = value("trialoutput")
    ABTest.objects.filter(pk=test.pk).update(status=TestStatus.COMPLETED)
    attempt(
        "credential",
        lambda v: credential_create(
            workspace=workspace, user=user, provider="openai", api_key="sk-test-0123456789abcdef", label=v
        ),
    )
    record(action="member.invited", actor=user, workspace=workspace, target=prompt, details={"email": value("audit")})
    planted["audit"] = value("audit")
    return user, planted, test


# Where each field must show up (escaped): it's really rendered, so the check above checked something.
NOT_ON_A_PAGE = {"runerror", "runoutput", "commit"}  # runs surface through trials; no page lists a run itself


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_stays_escaped_on_every_page(client: Any, payload: str, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    user, planted, test = plant(payload)
    client.force_login(user)
    extra = tuple(reverse(f"abtests:{name}", args=[test.pk]) for name in ("trials", "results"))
    result = crawl(client, "/", limit=200, depth=3, extra=extra)
    assert not [url for url, status in result.statuses.items() if status >= 500], result.statuses
    pages = {url: response.content.decode() for url, response in result.pages.items()}
    problems = {url: found for url, html in pages.items() if (found := markup_problems(html))}
    assert not problems, problems
    shown = {field: [url for url, html in pages.items() if escape(v) in html] for field, v in planted.items()}
    missing = sorted(field for field, urls in shown.items() if not urls and field not in NOT_ON_A_PAGE)
    assert not missing, f"planted but never rendered: {missing}"
    TRIED[payload] = len(pages)
    print(
        f"\nXSS {payload!r}: {len(pages)} pages x {len(planted)} fields; "
        + ", ".join(f"{f}:{len(u)}" for f, u in shown.items())
    )
