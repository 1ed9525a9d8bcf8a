from __future__ import annotations

from typing import Any

from providers import services
from providers.tests.helpers import make_asset, rendered


def test_echo_returns_the_rendered_prompt_free_without_a_key(team: Any) -> None:
    asset = make_asset(team.workspace, "image")
    run = services.run_execute(
        workspace=team.workspace,
        user=team.editor,
        rendered=rendered("Hello {{name}} done", {"type": "image", "asset": str(asset.pk)}),
        target=services.Target("echo", "echo", params={"temperature": 0.5}),
    )
    assert run.status == "ok"
    assert run.output.startswith("[system] Be brief.\n[user] Hello {{name}} done [image image/png,")
    assert run.cost == 0
    assert run.usage_estimated is True
    assert run.input_tokens > 0 and run.output_tokens > 0
    assert run.credential is None


def test_echo_streams_line_by_line(team: Any) -> None:
    events = list(
        services.run_events(
            workspace=team.workspace,
            user=team.editor,
            rendered=rendered("a"),
            targets=[services.Target("echo", "echo")],
        )
    )
    deltas = [d["text"] for name, d in events if name == "delta"]
    assert deltas == ["[system] Be brief.", "\n[user] a"]
    assert events[-2][0] == "done"


def test_demo_seed_restores_the_catalog_so_echo_runs_without_keys(team: Any) -> None:
    from providers.demo import seed
    from providers.models import ModelInfo

    ModelInfo.objects.all().delete()
    seed(team.workspace, team.owner)
    run = services.run_execute(
        workspace=team.workspace, user=team.owner, rendered=rendered("demo"), target=services.Target("echo", "echo")
    )
    assert run.status == "ok"
