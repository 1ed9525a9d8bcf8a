"""The A/B test run engine (DESIGN.md "Execution").

A started test has one Trial per cell (variant x snapshot row x repetition); the Trial row is the
durable state. ``enqueue_pending`` sends the pending Trials to Celery in chunks
(``abtests.run_chunk(test_id, trial_ids, concurrency)``): waves of ``ABTEST_PARALLEL_CHUNKS`` chunks
that share the test's concurrency (``chunk_plan``), so a worker with that many processes runs one test
on that many cores without passing its limit. ``run_chunk`` runs a chunk's cells on an asyncio loop
with the adapters' async SDK clients: ``LANES_PER_SLOT`` lanes per slot of its share of the
concurrency, per provider. A slot is held only around the provider calls (step 2), so a lane claims
its next cell, or records its last one, while the other lanes' calls are in flight; the slots alone
bound the calls in flight.

Each cell goes through three steps:

1. claim (``cells_claim``, database thread): render the row, resolve media, estimate the cost, then in
   one transaction *claim* the Trial (``UPDATE ... WHERE status = 'pending'``: two workers never run
   the same cell; the claim sets a lease and bumps ``attempts``, the claim token) and *reserve* the
   estimated cost on the test, with its row locked, only while the test is running and spent +
   reserved stays within the cost cap. A test that is no longer running (cancelled, stopped) or would
   cross its cost cap refuses the claim, so no new cell starts; the cap is never crossed as long as
   the estimate (prompt length and ``max_tokens``, times ``ABTEST_COST_RESERVE_FACTOR``) bounds the
   real cost.
2. the provider call (no database), then LLM-judge calls for judge evaluators; each call holds a slot
   of the workspace's call cap (``providers.quota``) from the chunk's ``SlotPool``, which hands a
   finished call's slot to the next call instead of two Redis round trips per call on the loop.
3. finish (``cells_finish``, database thread, one transaction): record the Run(s) (source "abtest"),
   evaluate, and write the Trial only if the claim token still matches; update the test's counters.

When a claim finds the test no longer running (cancelled, stopped by the budget), the chunk claims
no more and the cells it claimed but has not called yet go back to pending unsent (``UNSENT``); the
stopped test's pending cells are then skipped. When the next cell would cross the cost cap, the chunk
claims no more but calls the cells it already claimed: their cost is reserved within the cap.

Steps 1 and 3 are group-committed (``_Batches``): the cells that queue up while the database thread
is busy are claimed, or finished, in one transaction. Nothing waits on a timer, so a lone cell is not
delayed; under load the per-cell cost of round trips, commits and ORM compilation is paid per batch.

Rate limits (429) don't fail a cell: the cell goes back to pending with ``not_before``, the provider's
limiter halves its concurrency and pauses for the retry-after, and the cell is retried (up to
``ABTEST_MAX_RATE_LIMIT_RETRIES``). Other retryable errors are retried ``ABTEST_MAX_ATTEMPTS`` times
with backoff, then the Trial records the error. The SDKs' own retries are off (``max_retries=0``) so
the engine alone decides.

A killed worker leaves its in-flight Trials ``running`` with a lease and its unstarted Trials
``pending``; ``sweep`` (Celery beat) puts expired leases back to pending, recomputes the reservation,
re-enqueues pending work of stalled tests and finalises tests whose cells are all done. Re-running a
chunk skips finished Trials, so nothing finished is called again.

``run_cells_sync`` runs cells in the calling thread (no asyncio), for the demo seeder and scripts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.utils import timezone

from abtests.evaluators import evaluate
from abtests.models import (
    ACTIVE_STATUSES,
    ABTest,
    DatasetSnapshot,
    TestStatus,
    Trial,
    TrialStatus,
    Variant,
)
from providers.adapters.base import close_shared_clients
from providers.catalog import estimate_cost
from providers.quota import CallQuotaExceeded, SlotPool
from providers.services import PreparedCall, RunRefused, Target, call_prepare, model_lookup
from providers.types import CompletionRequest, MediaPart, Message, ProviderError, Result, TextPart

log = logging.getLogger(__name__)
T = TypeVar("T")

COST_CAP_REACHED = "Stopped before the cost cap of ${cap}: the next cell (about ${estimate}) would have crossed it."
BUDGET_STOPPED = "Stopped by the workspace budget: {error}"
RENDER_FAILED = "The row could not be rendered for this variant: {error}"
JUDGE_NO_SCORE = "the judge's answer had no score from 1 to 5"
JUDGE_FAILED = "the judge call failed: {error}"
JUDGE_NO_IMAGES = (
    "{model} can't take images, and the judge is sent the images of each row; choose a model that takes "
    "images, or turn off include_images."
)
RATE_LIMIT_GAVE_UP = "The provider kept answering 429 (rate limited) after {n} retries: {error}"
LABEL_NOT_FOUND = "Variant {name}: the prompt has no label {label!r}."
NO_VERSION = "Variant {name} has no prompt version."

JUDGE_INSTRUCTIONS = (
    "You are grading an AI assistant's answer against the rubric in the system message. "
    "Reply with the score as 'Score: N' where N is a whole number from 1 (poor) to 5 (excellent), "
    "then one sentence of reasons."
)
JUDGE_MAX_TOKENS = 64
SCORE_RE = re.compile(r"score\s*[:=]?\s*\**\s*([1-5])\b", re.IGNORECASE)
DIGIT_RE = re.compile(r"\b([1-5])\b")


# --- settings ------------------------------------------------------------------------------------
def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def lease_seconds() -> float:
    return float(_setting("ABTEST_LEASE_SECONDS", 300))


def stall_seconds() -> float:
    return float(_setting("ABTEST_STALL_SECONDS", 120))


def chunk_size() -> int:
    return int(_setting("ABTEST_CHUNK_SIZE", 500))


def parallel_chunks() -> int:
    return max(1, int(_setting("ABTEST_PARALLEL_CHUNKS", 2)))


def max_attempts() -> int:
    return int(_setting("ABTEST_MAX_ATTEMPTS", 3))


def max_rate_limit_retries() -> int:
    return int(_setting("ABTEST_MAX_RATE_LIMIT_RETRIES", 30))


def reserve_factor() -> Decimal:
    return Decimal(str(_setting("ABTEST_COST_RESERVE_FACTOR", "1.25")))


# --- values, rendering and checks -------------------------------------------------------------------
def prompt_values(document: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The row's values for the variables the prompt declares (other columns feed evaluators)."""
    from prompts.rendering import declared_variables

    names = declared_variables(document)
    return {name: value for name, value in row.items() if name in names}


def resolve_variants(test: ABTest, variants: list[Variant]) -> None:
    """Pin each variant given as prompt + label to the version the label points at now."""
    from abtests.services import TestError
    from prompts.models import Label

    for variant in variants:
        if variant.label and variant.prompt_id:
            label = Label.objects.select_related("version").filter(prompt_id=variant.prompt_id, name=variant.label)
            found = label.first()
            if found is None:
                raise TestError(LABEL_NOT_FOUND.format(name=variant.name, label=variant.label), field="variants")
            variant.prompt_version = found.version
            variant.save(update_fields=["prompt_version"])
        if variant.prompt_version is None:
            raise TestError(NO_VERSION.format(name=variant.name), field="variants")


def _judge_configs(test: ABTest) -> list[tuple[int, dict[str, Any]]]:
    return [(i, c) for i, c in enumerate(test.evaluators or []) if c.get("type") == "llm-judge"]


JUDGE_PROBE = {"messages": [{"role": "user", "content": [{"type": "text", "text": "probe"}]}], "model": {}}


def check_startable(test: ABTest, variants: list[Variant], snapshot: DatasetSnapshot) -> None:
    """Refuse (TestError) anything that would fail every cell: rows that don't render, unknown models,
    missing credentials, parts a model can't take, an unknown judge model or one that can't see the
    images it would be sent. Nothing is called."""
    from abtests.services import JUDGE_REFUSED, VARIANT_REFUSED, VARIANT_ROW_REFUSED, TestError
    from prompts.rendering import RenderError
    from prompts.selectors import render_checked

    # the judges are sent the images the variants see: the rows' image cells and the prompts' images
    sees_images = any(column["type"] == "image" for column in snapshot.columns)
    for variant in variants:
        document = variant.prompt_version.content  # type: ignore[union-attr]
        first: dict[str, Any] | None = None
        for position in range(snapshot.row_count):
            try:
                rendered = render_checked(
                    document=document,
                    workspace_id=test.workspace_id,
                    values=prompt_values(document, snapshot.row_values(position)),
                )
            except RenderError as exc:
                raise TestError(
                    VARIANT_ROW_REFUSED.format(name=variant.name, row=position + 1, error=exc), field="variants"
                ) from None
            first = first or rendered
        try:
            call_prepare(workspace_id=test.workspace_id, rendered=first or {}, target=_target(variant))
        except RunRefused as exc:
            raise TestError(VARIANT_REFUSED.format(name=variant.name, error=exc.text), field="variants") from None
        sees_images = sees_images or any(
            part.get("type") == "image"
            for message in (first or {}).get("messages", [])
            for part in message.get("content", [])
            if isinstance(part, dict)
        )
    for index, config in _judge_configs(test):
        try:
            judge = call_prepare(
                workspace_id=test.workspace_id,
                rendered=JUDGE_PROBE,
                target=Target(provider=config["provider"], model=config["model"], params={}),
            )
        except RunRefused as exc:
            raise TestError(JUDGE_REFUSED.format(index=index, error=exc.text), field="evaluators") from None
        takes = judge.adapter.capabilities(judge.model_info.modalities).input_modalities
        if sees_images and config.get("include_images", True) and "image" not in takes:
            error = JUDGE_NO_IMAGES.format(model=f"{judge.adapter.label} model {config['model']}")
            raise TestError(JUDGE_REFUSED.format(index=index, error=error), field="evaluators")


def _target(variant: Variant) -> Target:
    return Target(
        provider=variant.provider, model=variant.model, params=dict(variant.params), credential_id=variant.credential_id
    )


def _placeholder_messages(rendered: dict[str, Any]) -> list[Message]:
    """Neutral messages for estimating tokens (media counted, not read)."""
    messages = []
    for message in rendered.get("messages", []):
        parts: list[Any] = []
        for part in message.get("content", []):
            if part.get("type") == "text":
                parts.append(TextPart(part.get("text", "")))
            else:
                parts.append(MediaPart(kind=part.get("type", "image")))
        messages.append(Message(role=message.get("role", "user"), parts=tuple(parts)))
    return messages


def plan_estimate(test: ABTest) -> dict[str, Any]:
    """Calls and estimated cost for a test (from the dataset as it is now, or the frozen snapshot)."""
    from prompts.rendering import RenderError, render
    from providers.catalog import Prices

    variants = list(test.variants.select_related("prompt_version", "prompt").order_by("order", "id"))
    if test.snapshot_id is not None:
        rows = [r["values"] for r in test.snapshot.rows]  # type: ignore[union-attr]
    elif test.dataset_id is not None:
        rows = list(test.dataset.rows.order_by("index").values_list("values", flat=True))  # type: ignore[union-attr]
    else:
        rows = []
    judges = _judge_configs(test)
    per_variant = []
    total = Decimal(0)
    problems: list[str] = []
    for variant in variants:
        version = variant.prompt_version
        if version is None and variant.prompt_id and variant.label:
            from prompts.models import Label

            label = Label.objects.select_related("version").filter(prompt_id=variant.prompt_id, name=variant.label)
            found = label.first()
            version = found.version if found else None
        cost = Decimal(0)
        input_tokens = output_tokens = 0
        try:
            info = model_lookup(workspace_id=test.workspace_id, provider=variant.provider, model=variant.model)
        except RunRefused as exc:
            problems.append(f"{variant.name}: {exc.text}")
            info = None
        if version is None:
            problems.append(NO_VERSION.format(name=variant.name))
        if info is not None and version is not None:
            prices = Prices.of(info)
            max_tokens = variant.params.get("max_tokens") or (version.content.get("model") or {}).get("max_tokens")
            for row in rows:
                try:
                    rendered = render(version.content, prompt_values(version.content, row))
                except RenderError:
                    continue
                estimate = estimate_cost(variant.provider, prices, _placeholder_messages(rendered), max_tokens)
                cost += estimate.cost
                input_tokens += estimate.input_tokens
                output_tokens += estimate.output_tokens
        cost *= test.repetitions
        total += cost
        per_variant.append(
            {
                "variant": variant.name,
                "calls": len(rows) * test.repetitions,
                "input_tokens": input_tokens * test.repetitions,
                "output_tokens": output_tokens * test.repetitions,
                "cost": str(cost.quantize(Decimal("0.000001"))),
            }
        )
    cells = len(variants) * len(rows) * test.repetitions
    judge_calls = cells * len(judges)
    return {
        "rows": len(rows),
        "variants": len(variants),
        "repetitions": test.repetitions,
        "cells": cells,
        "calls": cells + judge_calls,
        "judge_calls": judge_calls,
        "estimated_cost": str(total.quantize(Decimal("0.000001"))),
        "per_variant": per_variant,
        "problems": problems,
        "note": "An estimate from the prompts' length (about 4 characters a token) and max_tokens;"
        " judge calls are not priced in it.",
    }


# --- the plan a chunk works from ----------------------------------------------------------------------
@dataclass
class VariantPlan:
    variant: Variant
    base: PreparedCall
    document: dict[str, Any]


@dataclass
class JudgePlan:
    index: int
    config: dict[str, Any]
    base: PreparedCall


@dataclass
class Plan:
    test: ABTest
    rows: list[dict[str, Any]]
    variants: dict[int, VariantPlan]
    judges: list[JudgePlan]
    budget_checked_at: float = 0.0


def load_plan(test_id: int) -> Plan | None:
    """Everything a chunk needs, or None when the test is no longer running (or can't be prepared)."""
    ABTest.objects.filter(pk=test_id, status=TestStatus.QUEUED).update(status=TestStatus.RUNNING)
    test = ABTest.objects.select_related("snapshot").filter(pk=test_id).first()
    if test is None or test.status != TestStatus.RUNNING or test.snapshot is None:
        return None
    rows = [r["values"] for r in test.snapshot.rows]
    variants: dict[int, VariantPlan] = {}
    from prompts.rendering import render

    try:
        for variant in test.variants.select_related("prompt_version").order_by("order", "id"):
            document = variant.prompt_version.content  # type: ignore[union-attr]
            rendered = render(document, prompt_values(document, rows[0]))
            base = call_prepare(workspace_id=test.workspace_id, rendered=rendered, target=_target(variant))
            variants[variant.pk] = VariantPlan(variant=variant, base=base, document=document)
        judges = [
            JudgePlan(
                index=index,
                config=config,
                base=call_prepare(
                    workspace_id=test.workspace_id,
                    rendered=JUDGE_PROBE,
                    target=Target(config["provider"], config["model"], {"max_tokens": JUDGE_MAX_TOKENS}),
                ),
            )
            for index, config in _judge_configs(test)
        ]
    except RunRefused as exc:
        status = TestStatus.STOPPED_BUDGET if "budget" in exc.message_dict else TestStatus.FAILED
        reason = BUDGET_STOPPED.format(error=exc.text) if status == TestStatus.STOPPED_BUDGET else exc.text
        ABTest.objects.filter(pk=test_id, status=TestStatus.RUNNING).update(status=status, reason=reason)
        finalize(test_id)
        return None
    return Plan(test=test, rows=rows, variants=variants, judges=judges)


# --- one cell ----------------------------------------------------------------------------------------
@dataclass
class Cell:
    """A claimed Trial with the calls ready to send."""

    trial_id: int
    token: int  # the Trial's attempts after the claim: finishing requires it unchanged
    variant_id: int
    workspace_id: int
    provider: str
    call: PreparedCall
    values: dict[str, Any]
    reserved: Decimal
    judge_calls: list[tuple[JudgePlan, list[MediaPart]]] = field(default_factory=list)  # with their images
    rate_limit_retries: int = 0


SKIP = "skip"  # not pending any more (finished, or claimed by another worker)
STOP = "stop"  # the test is not running (cancelled, stopped): claimed cells are not called either
CAPPED = "capped"  # this cell would cross the cost cap: no new claims, cells already claimed still run
LATER = "later"  # pending but not before a retry time


def _judge_messages(judge: JudgePlan, row: dict[str, Any], output: str, media: list[MediaPart]) -> list[Message]:
    from abtests.evaluators import substitute

    try:
        rubric = substitute(judge.config["rubric"], row)
    except Exception:  # a missing variable: the rubric as written
        rubric = judge.config["rubric"]
    parts: list[Any] = [TextPart(f"{JUDGE_INSTRUCTIONS}\n\nThe answer to grade:\n{output}")]
    if judge.config.get("include_images", True):
        parts.extend(p for p in media if p.kind == "image")
    return [Message("system", (TextPart(rubric),)), Message("user", tuple(parts))]


def _row_images(plan: Plan, row: dict[str, Any]) -> list[MediaPart]:
    """The row's image cells as media parts (for the judge)."""
    from abtests.models import MEDIA_COLUMN_TYPES
    from providers.media import resolve_messages

    columns = {c["name"]: c["type"] for c in plan.test.snapshot.columns}  # type: ignore[union-attr]
    content = []
    for name, kind in columns.items():
        value = row.get(name)
        if kind in MEDIA_COLUMN_TYPES and kind == "image" and isinstance(value, dict):
            content.append({"type": "image", **{k: v for k, v in value.items() if k in ("asset", "url")}})
    if not content:
        return []
    messages = resolve_messages(
        {"messages": [{"role": "user", "content": content}]},
        workspace_id=plan.test.workspace_id,
        url_kinds=frozenset({"image"}),
    )
    return [p for m in messages for p in m.parts if isinstance(p, MediaPart)]


def _judge_images(row_images: list[MediaPart], messages: list[Message]) -> list[MediaPart]:
    """The images a judge is sent: the row's image cells and the prompt's own images, each once."""
    prompt_images = [p for m in messages for p in m.parts if isinstance(p, MediaPart) and p.kind == "image"]
    images: list[MediaPart] = []
    seen: set[str] = set()
    for part in [*row_images, *prompt_images]:
        key = part.asset_id or part.url or hashlib.sha256(part.data or b"").hexdigest()
        if key not in seen:
            seen.add(key)
            images.append(part)
    return images


def _budget_ok(plan: Plan) -> str | None:
    """Check the workspace's hard-stop budget (at most every 2 s per chunk); the error text or None."""
    from analytics.budgets import BudgetExceeded, enforce_budget

    now = time.monotonic()
    if now - plan.budget_checked_at < 2.0:
        return None
    plan.budget_checked_at = now
    try:
        enforce_budget(plan.test.workspace_id)
    except BudgetExceeded as exc:
        return exc.text
    return None


@dataclass
class _Ready:
    """A cell rendered and priced, not claimed yet."""

    trial_id: int
    variant_id: int
    call: PreparedCall
    row: dict[str, Any]
    reserved: Decimal
    judge_calls: list[tuple[JudgePlan, list[MediaPart]]]


def _ready(plan: Plan, trial_id: int, variant_id: int, row_index: int) -> _Ready | None:
    """Render the row, resolve its media and estimate the cost; None (the Trial recorded as an error) when
    the row can't be sent to this variant."""
    from prompts.rendering import RenderError, render
    from providers.catalog import Prices
    from providers.media import MediaError, resolve_messages

    vplan = plan.variants[variant_id]
    row = plan.rows[row_index]
    test = plan.test
    try:
        rendered = render(vplan.document, prompt_values(vplan.document, row))
        messages = resolve_messages(rendered, workspace_id=test.workspace_id, url_kinds=vplan.base.adapter.url_kinds)
        call = replace(vplan.base, messages=messages, rendered=rendered)
        probe = CompletionRequest(
            model=call.model_info.model_id,
            messages=messages,
            params=call.params,
            api_key="-",
            input_modalities=call.model_info.modalities,
        )
        call.adapter.check(probe)
    except (RenderError, MediaError, ProviderError) as exc:
        _fail_unclaimed(test.pk, trial_id, RENDER_FAILED.format(error=getattr(exc, "message", None) or exc))
        return None
    estimate = estimate_cost(call.target.provider, Prices.of(call.model_info), messages, call.params.get("max_tokens"))
    reserved = estimate.cost
    judge_calls: list[tuple[JudgePlan, list[MediaPart]]] = []
    if plan.judges:
        images = _judge_images(_row_images(plan, row), messages)
        for judge in plan.judges:
            # the output is unknown yet: reserve for the rendered prompt's length as the answer
            judge_messages = _judge_messages(judge, row, " " * (estimate.output_tokens * 4), images)
            reserved += estimate_cost(
                judge.base.target.provider, Prices.of(judge.base.model_info), judge_messages, JUDGE_MAX_TOKENS
            ).cost
            judge_calls.append((judge, images))
    reserved = (reserved * reserve_factor()).quantize(Decimal("0.00000001"))
    return _Ready(trial_id, variant_id, call, row, reserved, judge_calls)


def cells_claim(plan: Plan, specs: list[tuple[int, int, int]]) -> list[Cell | str]:
    """Claim a batch of cells (trial id, variant id, row index) in one transaction (database thread).

    Each cell is rendered and priced first. Then, with the test's row locked, the Trials still pending
    (and due) are *claimed* (``UPDATE ... WHERE status = 'pending'``: two workers never run the same cell;
    the claim sets a lease and bumps ``attempts``, the claim token) and their estimated cost *reserved*
    on the test, in order, as long as the test is running and ``spent + reserved`` stays within the cost
    cap. One result per spec: a Cell to call, SKIP (finished, claimed elsewhere or unrenderable), LATER
    (pending, not due yet), STOP (the test is not running) or CAPPED (this cell would cross the cap).
    """
    return cells_step(plan, [(CLAIM, spec) for spec in specs])


CLAIM, FINISH = "claim", "finish"


@contextlib.contextmanager
def _write_turn() -> Iterator[None]:
    """On SQLite, the engine's writers (the chunks of every worker process) take turns through an OS
    file lock beside the database. SQLite lets one writer in at a time and makes the others poll with
    sleeps that grow to 100 ms, so a chunk could starve for a few hundred ms behind another process's
    chunk; the file lock queues them instead and wakes the next one as soon as it is free."""
    import fcntl

    connection = connections[Trial.objects.db]
    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or connection.is_in_memory_db() or not name:
        yield
        return
    with open(f"{name}.engine-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cells_step(plan: Plan, items: list[tuple[str, Any]]) -> list[Any]:
    """A batch of finishes (``(FINISH, (cell, outcome))``, see ``cells_finish``) and claims (``(CLAIM,
    spec)``, see ``cells_claim``) in one transaction: one wait for the write lock and one commit for
    the lot. The finishes go first (they release reserved cost), and the work that needs no lock
    (rendering, pricing, building Runs) is done before the transaction opens. One result per item."""
    finishing = [index for index, (kind, _) in enumerate(items) if kind == FINISH]
    claiming = [index for index, (kind, _) in enumerate(items) if kind == CLAIM]
    finish_items = [items[index][1] for index in finishing]
    runs = _finish_runs(plan, finish_items)
    claimed, ready = _claims_ready(plan, [items[index][1] for index in claiming])
    finished: list[str] = []
    if finish_items or ready:
        with _write_turn(), transaction.atomic():
            if finish_items:
                finished = _finish_take(plan, finish_items, runs)
            if ready:
                _claims_take(plan, claimed, ready)
    results: list[Any] = [None] * len(items)
    for index, result in zip(finishing + claiming, finished + claimed, strict=True):
        results[index] = result
    return results


def _claims_ready(plan: Plan, specs: list[tuple[int, int, int]]) -> tuple[list[Cell | str], list[tuple[int, _Ready]]]:
    """The part of a claim outside the transaction: render and price each cell, check the budget. The
    results so far (SKIP for an unrenderable cell, STOP for all over the budget) and the cells to take."""
    results: list[Cell | str] = [SKIP] * len(specs)
    ready: list[tuple[int, _Ready]] = []
    for position, spec in enumerate(specs):
        prepared = _ready(plan, *spec)
        if prepared is not None:
            ready.append((position, prepared))
    if ready:
        budget_error = _budget_ok(plan)
        if budget_error is not None:
            _stop(plan.test.pk, TestStatus.STOPPED_BUDGET, BUDGET_STOPPED.format(error=budget_error))
            for position, _ in ready:
                results[position] = STOP
            return results, []
    return results, ready


def _claims_take(plan: Plan, results: list[Cell | str], ready: list[tuple[int, _Ready]]) -> None:
    """The part of a claim inside the (caller's) transaction: claim and reserve, setting ``results``."""
    test = plan.test
    now = timezone.now()
    ids = [prepared.trial_id for _, prepared in ready]
    taken: list[tuple[int, _Ready]] = []
    capped: _Ready | None = None
    # the lock orders claims of one test (other workers' chunks) around its spent/reserved figures
    state = ABTest.objects.select_for_update().filter(pk=test.pk).values("status", "cost_spent", "cost_reserved")
    current = state.first()
    if current is None or current["status"] != TestStatus.RUNNING:
        for position, _ in ready:
            results[position] = STOP
        return
    due = dict(
        Trial.objects.select_for_update()
        .filter(pk__in=ids, status=TrialStatus.PENDING)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .values_list("id", "attempts")
    )
    committed = current["cost_spent"] + current["cost_reserved"]
    total = Decimal(0)
    for position, prepared in ready:
        if prepared.trial_id not in due:
            continue
        if test.cost_cap is not None and committed + total + prepared.reserved > test.cost_cap:
            capped = prepared
            break
        taken.append((position, prepared))
        total += prepared.reserved
    if taken:
        lease = now + timedelta(seconds=lease_seconds())
        _update_trials(
            [
                (
                    {
                        "status": TrialStatus.RUNNING,
                        "lease_expires_at": lease,
                        "started_at": now,
                        "reserved_cost": prepared.reserved,
                    },
                    {"id": prepared.trial_id, "status": TrialStatus.PENDING},
                )
                for _, prepared in taken
            ],
            bump_attempts=True,
        )
        ABTest.objects.filter(pk=test.pk).update(cost_reserved=F("cost_reserved") + Value(total))
    for position, prepared in taken:
        results[position] = Cell(
            trial_id=prepared.trial_id,
            token=due[prepared.trial_id] + 1,
            variant_id=prepared.variant_id,
            workspace_id=test.workspace_id,
            provider=prepared.call.target.provider,
            call=prepared.call,
            values=prepared.row,
            reserved=prepared.reserved,
            judge_calls=prepared.judge_calls,
        )
    if capped is not None:
        _stop(
            test.pk,
            TestStatus.STOPPED_COST_CAP,
            COST_CAP_REACHED.format(cap=f"{test.cost_cap:.4f}", estimate=f"{capped.reserved:.6f}"),
        )
        claimed = {prepared.trial_id for _, prepared in taken}
        for position, prepared in ready:
            if prepared.trial_id in due and prepared.trial_id not in claimed:
                results[position] = CAPPED
    not_due = [prepared.trial_id for _, prepared in ready if prepared.trial_id not in due]
    if not_due:
        later = set(Trial.objects.filter(pk__in=not_due, status=TrialStatus.PENDING).values_list("id", flat=True))
        for position, prepared in ready:
            if prepared.trial_id in later:
                results[position] = LATER


def trials_create(test: ABTest, cells: list[tuple[int, int, int]]) -> None:
    """Insert a new Trial per cell (variant id, row index, repetition), pending, with the model's defaults:
    one parametrised INSERT run with ``executemany``. Every row but the cell's three values is the same,
    so it is prepared once; ``bulk_create`` prepared each of the ~20 fields of every row (a third of a
    second for 10,000 cells)."""
    connection = connections[Trial.objects.db]
    quote = connection.ops.quote_name
    fields = [f for f in Trial._meta.concrete_fields if not f.primary_key]
    template = Trial(test=test, variant_id=cells[0][0] if cells else None, row_index=0, repetition=0)
    row = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    varying = [fields.index(Trial._meta.get_field(name)) for name in ("variant", "row_index", "repetition")]
    sql = (
        f"INSERT INTO {quote(Trial._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    params = []
    for cell in cells:
        values = list(row)
        for position, value in zip(varying, cell, strict=True):
            values[position] = value
        params.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _update_trials(updates: list[tuple[dict[str, Any], dict[str, Any]]], *, bump_attempts: bool = False) -> None:
    """Many Trial UPDATEs, each (fields to set, fields the row must still have): one parametrised
    statement per shape, run with ``executemany``. Compiling an ORM update per Trial cost more CPU than
    the statements themselves. ``bump_attempts`` also adds one to ``attempts`` (the claim token)."""
    connection = connections[Trial.objects.db]
    quote = connection.ops.quote_name
    shapes: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for values, where in updates:
        shapes.setdefault((tuple(sorted(values)), tuple(sorted(where))), []).append((values, where))

    def prepared(names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
        fields = (Trial._meta.get_field(name) for name in names)
        return [
            field.get_db_prep_save(getattr(values[field.name], "pk", values[field.name]), connection)  # type: ignore[union-attr]
            for field in fields
        ]

    for (set_names, where_names), group in shapes.items():
        columns = [Trial._meta.get_field(name).column for name in set_names]  # type: ignore[union-attr]
        assignments = [f"{quote(column)} = %s" for column in columns]
        if bump_attempts:
            assignments.append(f"{quote('attempts')} = {quote('attempts')} + 1")
        conditions = [f"{quote(Trial._meta.get_field(name).column)} = %s" for name in where_names]  # type: ignore[union-attr]
        sql = f"UPDATE {quote(Trial._meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}"
        params = [prepared(set_names, values) + prepared(where_names, where) for values, where in group]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def cell_prepare(plan: Plan, trial_id: int, variant_id: int, row_index: int) -> Cell | str:
    """Claim one cell (see ``cells_claim``)."""
    return cells_claim(plan, [(trial_id, variant_id, row_index)])[0]


def _fail_unclaimed(test_id: int, trial_id: int, message: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        if Trial.objects.filter(pk=trial_id, status=TrialStatus.PENDING).update(
            status=TrialStatus.ERROR, error=message, finished_at=now, passed=False, score=0.0
        ):
            ABTest.objects.filter(pk=test_id).update(
                finished_cells=F("finished_cells") + 1, failed_cells=F("failed_cells") + 1, last_progress_at=now
            )


def _stop(test_id: int, status: str, reason: str) -> None:
    ABTest.objects.filter(pk=test_id, status=TestStatus.RUNNING).update(status=status, reason=reason)


def _request(call: PreparedCall) -> CompletionRequest:
    request = call.request()
    request.max_retries = 0  # the engine retries (shared backoff), not each SDK call on its own
    return request


def parse_judge_score(text: str) -> float | None:
    match = SCORE_RE.search(text) or DIGIT_RE.search(text)
    return float(match.group(1)) if match else None


@dataclass
class Outcome:
    """What came back for a cell: the variant's result or error, and each judge's."""

    result: Result | None
    error: ProviderError | None
    judges: list[tuple[JudgePlan, PreparedCall, Result | ProviderError]] = field(default_factory=list)
    sent: bool = True  # False: the call was never made (no slot of the workspace's call cap came free)


class JudgeNotCalled(ProviderError):
    """A judge call that was never made (no slot of the workspace's call cap came free): no Run."""


# A claimed cell that was never called because its chunk stopped first: ``cells_finish`` puts it back.
UNSENT = Outcome(result=None, error=None, sent=False)
LANES_PER_SLOT = 4  # lanes a chunk runs per call slot (see _run_chunk_async)


def _unexpected(exc: BaseException) -> ProviderError:
    return ProviderError("server", f"The call failed unexpectedly ({type(exc).__name__}).")


def _build_run(test: ABTest, variant: Variant | None, call: PreparedCall, outcome: Result | ProviderError) -> Any:
    """The Run row for one call (not saved: a batch saves its Runs together)."""
    from providers.catalog import cost_for
    from providers.media import storable_input
    from providers.models import Run, RunSource, RunStatus

    now = timezone.now()
    run = Run(
        workspace_id=test.workspace_id,
        user_id=test.created_by_id,
        prompt_id=variant.prompt_id if variant else None,
        prompt_version_id=variant.prompt_version_id if variant else None,
        provider=call.target.provider,
        model=call.model_info.model_id,
        credential=call.credential,
        params=call.params,
        input=storable_input(call.rendered) if call.rendered is not JUDGE_PROBE else {"judge": True},
        source=RunSource.ABTEST,
        finished_at=now,
    )
    if isinstance(outcome, Result):
        usage = outcome.usage
        run.output = outcome.text
        run.finish_reason = outcome.finish_reason[:50]
        run.input_tokens = usage.input_tokens
        run.output_tokens = usage.output_tokens
        run.cached_tokens = usage.cached_tokens
        run.cache_write_tokens = usage.cache_write_tokens
        run.reasoning_tokens = usage.reasoning_tokens
        run.usage_estimated = outcome.usage_estimated
        run.cost = cost_for(call.target.provider, call.prices, usage)
        run.latency_ms = outcome.latency_ms
        run.ttft_ms = outcome.ttft_ms
        run.provider_request_id = outcome.request_id[:200]
        run.warnings = list(outcome.warnings)
        run.status = RunStatus.OK
    else:
        run.status = RunStatus.ERROR
        run.error_kind = outcome.kind
        run.error_message = outcome.message
        run.retry_after = outcome.retry_after
        run.provider_request_id = (outcome.request_id or "")[:200]
        run.latency_ms = outcome.latency_ms or None
        run.cost = Decimal(0)
    return run


def cells_finish(plan: Plan, items: list[tuple[Cell, Outcome]]) -> list[str]:
    """Record a batch of finished cells in one transaction (database thread): their Runs in one insert,
    each Trial's result (only if its claim token still matches), and the test's counters in one update.

    One result per item: "ok", "error", "retry" (put back to pending: rate limit or a retryable error
    with attempts left), "returned" (``UNSENT``: put back to pending as it was) or "lost" (the lease
    was taken over by the sweep; the result is kept as a Run).
    """
    return cells_step(plan, [(FINISH, item) for item in items])


def _finish_runs(plan: Plan, items: list[tuple[Cell, Outcome]]) -> list[tuple[Any, list[Any]]]:
    """The part of a finish outside the transaction: each cell's Run and its judges' Runs (not saved)."""
    runs: list[tuple[Any, list[Any]]] = []
    for cell, outcome in items:
        variant = plan.variants[cell.variant_id].variant
        made = outcome.result or outcome.error
        run = None if made is None else _build_run(plan.test, variant, cell.call, made)
        judge_runs = [
            None if isinstance(judged, JudgeNotCalled) else _build_run(plan.test, None, call, judged)
            for _, call, judged in outcome.judges
        ]
        runs.append((run, judge_runs))
    return runs


def _finish_take(plan: Plan, items: list[tuple[Cell, Outcome]], calls: list[tuple[Any, list[Any]]]) -> list[str]:
    """The part of a finish inside the (caller's) transaction: save the Runs, write the Trials still
    held and the test's counters; the result per item (see ``cells_finish``)."""
    from providers.models import Run

    test = plan.test
    now = timezone.now()
    results: list[str] = []
    # a call never made (outcome.sent is False, a JudgeNotCalled) gets no Run
    Run.objects.bulk_create(
        [
            run
            for (main, judges), (_, outcome) in zip(calls, items, strict=True)
            for run in ([main] if outcome.sent else []) + judges
            if run is not None
        ]
    )
    # the Trials this worker still holds (same claim token); locked against the sweep on PostgreSQL
    held = set(
        Trial.objects.select_for_update()
        .filter(pk__in=[cell.trial_id for cell, _ in items], status=TrialStatus.RUNNING)
        .values_list("id", "attempts")
    )
    spent = released_cost = Decimal(0)
    finished = failed = rate_limited = 0
    updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for (cell, outcome), (run, judge_runs) in zip(items, calls, strict=True):
        error = outcome.error
        if outcome is UNSENT:
            back = Trial.objects.filter(pk=cell.trial_id, status=TrialStatus.RUNNING, attempts=cell.token).update(
                status=TrialStatus.PENDING, lease_expires_at=None, reserved_cost=Decimal(0)
            )
            released_cost += cell.reserved if back else 0
            results.append("returned" if back else "lost")
            continue
        if error is not None and _retry(error, cell.token, cell.rate_limit_retries):
            mine = Trial.objects.filter(pk=cell.trial_id, status=TrialStatus.RUNNING, attempts=cell.token)
            released = mine.update(
                status=TrialStatus.PENDING,
                lease_expires_at=None,
                reserved_cost=Decimal(0),
                not_before=now + timedelta(seconds=_retry_delay(error, cell.token)),
                error=error.message,
            )
            if released:
                released_cost += cell.reserved
                rate_limited += error.kind == "rate_limit" and outcome.sent
            results.append("retry" if released else "lost")
            continue
        fields, status, judge_cost = _finished_fields(test, cell, outcome, run, judge_runs, now)
        spent += run.cost + judge_cost
        if (cell.trial_id, cell.token) in held:
            updates.append((fields, {"id": cell.trial_id, "status": TrialStatus.RUNNING, "attempts": cell.token}))
            finished += 1
            failed += status == "error"
            released_cost += cell.reserved
            results.append(status)
        else:
            results.append("lost")
    _update_trials(updates)
    counters: dict[str, Any] = {}
    if spent:
        counters["cost_spent"] = F("cost_spent") + Value(spent)
    if released_cost:
        counters["cost_reserved"] = F("cost_reserved") - Value(released_cost)
    if finished:
        counters.update(finished_cells=F("finished_cells") + finished, last_progress_at=now)
    if failed:
        counters["failed_cells"] = F("failed_cells") + failed
    if rate_limited:
        counters["rate_limited"] = F("rate_limited") + rate_limited
    if counters:
        ABTest.objects.filter(pk=test.pk).update(**counters)
    return results


def _finished_fields(
    test: ABTest, cell: Cell, outcome: Outcome, run: Any, judge_runs: list[Any], now: Any
) -> tuple[dict[str, Any], str, Decimal]:
    """The Trial's fields for a finished cell, its status ("ok" or "error") and what its judges cost."""
    judge_cost = Decimal(0)
    external: dict[int, float] = {}
    judge_notes: dict[str, Any] = {}
    for (judge, _, judge_outcome), judge_run in zip(outcome.judges, judge_runs, strict=True):
        judge_cost += judge_run.cost if judge_run is not None else Decimal(0)
        if isinstance(judge_outcome, Result):
            score = parse_judge_score(judge_outcome.text)
            if score is not None:
                external[judge.index] = score
            judge_notes[str(judge.index)] = {
                "run": judge_run.pk,
                "score": score,
                "answer": judge_outcome.text[:2000],
                "detail": "" if score is not None else JUDGE_NO_SCORE,
            }
        else:
            judge_notes[str(judge.index)] = {
                "run": judge_run.pk if judge_run is not None else None,
                "score": None,
                "detail": JUDGE_FAILED.format(error=judge_outcome.message),
            }
    fields: dict[str, Any] = {
        "lease_expires_at": None,
        "reserved_cost": Decimal(0),
        "finished_at": now,
        "run": run,
        "not_before": None,
    }
    if outcome.result is not None:
        result = outcome.result
        evaluation = evaluate(
            test.evaluators,
            result.text,
            latency_ms=result.latency_ms,
            cost=float(run.cost),
            variables=cell.values,
            threshold=test.pass_threshold,
            external=external,
        )
        # an unscored judge counts as a failed check, not a pending one
        data = evaluation.as_dict()
        for check in data["checks"]:
            note = judge_notes.get(str(check["index"]))
            if note is not None:
                check["judge"] = note
                if note["score"] is None:
                    check.update(passed=False, score=0.0, detail=note["detail"])
        if judge_notes:
            data = _rescore(data, test.pass_threshold)
        data["judge_cost"] = str(judge_cost)
        fields.update(
            status=TrialStatus.OK,
            output=result.text,
            error="",
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost=run.cost,
            latency_ms=result.latency_ms,
            ttft_ms=result.ttft_ms,
            evaluation=data,
            score=data["score"],
            passed=data["passed"],
        )
        return fields, "ok", judge_cost
    error = outcome.error
    assert error is not None
    message = error.message
    if error.kind == "rate_limit":
        message = RATE_LIMIT_GAVE_UP.format(n=cell.rate_limit_retries, error=error.message)
    fields.update(
        status=TrialStatus.ERROR,
        error=message,
        latency_ms=error.latency_ms or None,
        cost=Decimal(0),
        passed=False,
        score=0.0,
    )
    return fields, "error", judge_cost


def cell_finish(plan: Plan, cell: Cell, outcome: Outcome) -> str:
    """Record one finished cell (see ``cells_finish``)."""
    return cells_finish(plan, [(cell, outcome)])[0]


def _rescore(data: dict[str, Any], threshold: float) -> dict[str, Any]:
    finished = [c for c in data["checks"] if c["score"] is not None]
    weight = sum(c["weight"] for c in finished)
    score = sum(c["weight"] * c["score"] for c in finished) / weight if weight else 1.0
    data["score"] = round(score, 12)
    data["passed"] = data["score"] >= threshold
    data["pending"] = [i for i in data["pending"] if str(i) not in {str(c["index"]) for c in finished}]
    return data


def _retry(error: ProviderError, attempts: int, rate_limit_retries: int) -> bool:
    if error.kind == "rate_limit":
        return rate_limit_retries < max_rate_limit_retries()
    return error.retryable and attempts < max_attempts()


def _retry_delay(error: ProviderError, attempts: int) -> float:
    if error.retry_after is not None:
        return max(0.01, min(float(error.retry_after), 60.0))
    return min(30.0, 0.25 * 2 ** max(0, attempts - 1)) * (0.5 + random.random() / 2)


def trial_reevaluate(trial: Trial) -> Trial:
    """Recompute a finished Trial's evaluation with its human ratings (mean rating per trial)."""
    from django.db.models import Avg

    from abtests.models import Review

    test = trial.test
    ratings = Review.objects.filter(trial_a=trial, rating__isnull=False).aggregate(mean=Avg("rating"))["mean"]
    external: dict[int, float] = {}
    for index, config in enumerate(test.evaluators or []):
        if config["type"] == "human" and config.get("mode") == "rating" and ratings is not None:
            external[index] = float(ratings)
        note = (trial.evaluation or {}).get("checks", [])
        for check in note:
            if check.get("index") == index and check.get("judge") and check["judge"].get("score") is not None:
                external[index] = float(check["judge"]["score"])
    row = test.snapshot.row_values(trial.row_index) if test.snapshot else {}  # type: ignore[union-attr]
    evaluation = evaluate(
        test.evaluators,
        trial.output,
        latency_ms=trial.latency_ms,
        cost=float(trial.cost),
        variables=row,
        threshold=test.pass_threshold,
        external=external,
    ).as_dict()
    old = {c.get("index"): c for c in (trial.evaluation or {}).get("checks", [])}
    for check in evaluation["checks"]:
        if old.get(check["index"], {}).get("judge"):
            check["judge"] = old[check["index"]]["judge"]
    evaluation["judge_cost"] = (trial.evaluation or {}).get("judge_cost", "0")
    trial.evaluation = evaluation
    trial.score = evaluation["score"]
    trial.passed = evaluation["passed"]
    trial.save(update_fields=["evaluation", "score", "passed"])
    return trial


# --- finishing tests, sweeping and enqueueing -------------------------------------------------------
def finalize(test_id: int) -> str | None:
    """Close a test whose work is over; returns its status (or None if it does not exist).

    Running/queued with no pending or running cell -> completed. Cancelling or stopped with nothing in
    flight -> the pending cells are skipped and the status is final (cancelling -> cancelled).
    """
    test = ABTest.objects.filter(pk=test_id).first()
    if test is None:
        return None
    counts = dict(
        Trial.objects.filter(test_id=test_id).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    pending, running = counts.get(TrialStatus.PENDING, 0), counts.get(TrialStatus.RUNNING, 0)
    now = timezone.now()
    if test.status in (TestStatus.QUEUED, TestStatus.RUNNING):
        if pending == 0 and running == 0 and test.total_cells:
            ABTest.objects.filter(pk=test_id, status=test.status).update(
                status=TestStatus.COMPLETED, finished_at=now, cost_reserved=Decimal(0)
            )
    elif test.status in (
        TestStatus.CANCELLING,
        TestStatus.STOPPED_COST_CAP,
        TestStatus.STOPPED_BUDGET,
        TestStatus.FAILED,
    ) and (running == 0 and test.finished_at is None):
        with transaction.atomic():
            Trial.objects.filter(test_id=test_id, status=TrialStatus.PENDING).update(
                status=TrialStatus.SKIPPED, finished_at=now, lease_expires_at=None
            )
            final = TestStatus.CANCELLED if test.status == TestStatus.CANCELLING else test.status
            ABTest.objects.filter(pk=test_id, status=test.status).update(
                status=final, finished_at=now, cost_reserved=Decimal(0)
            )
    return ABTest.objects.filter(pk=test_id).values_list("status", flat=True).first()


def chunk_plan(cells: int, concurrency: int) -> list[tuple[int, int]]:
    """How to split ``cells`` pending cells: (size, concurrency share) per chunk, in order.

    Up to ``ABTEST_PARALLEL_CHUNKS`` chunks of a test run at once (on as many worker processes: one
    process is bound to one core by the GIL). The chunks come in waves of that many, of balanced sizes
    (at most ``ABTEST_CHUNK_SIZE`` cells), and the i-th chunk of each wave gets the i-th share of the
    test's concurrency, so the chunks of one wave together have at most ``concurrency`` calls in flight
    (at least one each).
    """
    if cells <= 0:
        return []
    parallel = min(parallel_chunks(), cells, max(1, concurrency))
    waves = -(-cells // (parallel * max(1, chunk_size())))
    count = min(cells, waves * parallel)
    base, extra = divmod(cells, count)
    share, spare = divmod(max(1, concurrency), parallel)
    return [(base + (index < extra), max(1, share + (index % parallel < spare))) for index in range(count)]


def enqueue_pending(test_id: int, trial_ids: Iterable[int] | None = None) -> int:
    """Send the test's pending Trials to Celery in chunks (``chunk_plan``); returns the number of chunks."""
    from abtests.tasks import run_chunk as run_chunk_task

    if trial_ids is None:
        trial_ids = list(
            Trial.objects.filter(test_id=test_id, status=TrialStatus.PENDING)
            .order_by("row_index", "repetition", "variant_id")
            .values_list("id", flat=True)
        )
    ids = list(trial_ids)
    concurrency = ABTest.objects.filter(pk=test_id).values_list("concurrency", flat=True).first() or 1
    start = 0
    plan = chunk_plan(len(ids), concurrency)
    for size, share in plan:
        run_chunk_task.delay(test_id, ids[start : start + size], share)
        start += size
    return len(plan)


def sweep(*, now: Any = None) -> dict[str, int]:
    """Recover from lost workers and messages; finish tests that are done. Safe to run any time.

    * running Trials whose lease expired go back to pending (their reservation is released);
    * active tests with pending work and no progress for ``ABTEST_STALL_SECONDS`` (or with reclaimed
      Trials) get their pending Trials enqueued again (a chunk skips what is finished or claimed);
    * tests whose cells are all done (or that are cancelling/stopped with nothing in flight) finalise.
    """
    now = now or timezone.now()
    stats = {"tests": 0, "reclaimed": 0, "enqueued": 0, "finalised": 0}
    sweepable = (*ACTIVE_STATUSES, TestStatus.STOPPED_COST_CAP, TestStatus.STOPPED_BUDGET, TestStatus.FAILED)
    for test in ABTest.objects.filter(status__in=sweepable, finished_at__isnull=True):
        stats["tests"] += 1
        with transaction.atomic():
            reclaimed = Trial.objects.filter(test=test, status=TrialStatus.RUNNING, lease_expires_at__lt=now).update(
                status=TrialStatus.PENDING, lease_expires_at=None, reserved_cost=Decimal(0)
            )
            if reclaimed:
                held = Trial.objects.filter(test=test, status=TrialStatus.RUNNING).aggregate(s=Sum("reserved_cost"))
                ABTest.objects.filter(pk=test.pk).update(cost_reserved=held["s"] or Decimal(0))
        stats["reclaimed"] += reclaimed
        status = finalize(test.pk)
        if status not in (TestStatus.QUEUED, TestStatus.RUNNING):
            stats["finalised"] += int(status != test.status)
            continue
        stalled = test.last_progress_at is None or test.last_progress_at < now - timedelta(seconds=stall_seconds())
        if reclaimed or stalled:
            stats["enqueued"] += enqueue_pending(test.pk)
            ABTest.objects.filter(pk=test.pk).update(last_progress_at=now)
    return stats


# --- running chunks ------------------------------------------------------------------------------------
class Limiter:
    """Concurrency for one provider within a chunk: at most ``limit`` calls in flight.

    A rate limit halves the limit and pauses new calls for the retry-after; each ``limit`` successes
    in a row raise it by one again, up to the test's concurrency.
    """

    def __init__(self, limit: int) -> None:
        self.max = max(1, limit)
        self.limit = self.max
        self.active = 0
        self.pause_until = 0.0
        self.successes = 0
        self.rate_limits = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._cond:
            while True:
                wait = self.pause_until - loop.time()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._cond.wait(), timeout=wait)
                    continue
                if self.active < self.limit:
                    self.active += 1
                    return
                await self._cond.wait()

    async def release(self) -> None:
        async with self._cond:
            self.active -= 1
            self._cond.notify(1)  # one slot freed: one waiter (a pause or a new limit wakes them all)

    async def rate_limited(self, retry_after: float | None) -> None:
        loop = asyncio.get_running_loop()
        async with self._cond:
            self.rate_limits += 1
            self.successes = 0
            self.limit = max(1, self.limit // 2)
            self.pause_until = max(self.pause_until, loop.time() + (retry_after if retry_after else 0.5))
            self._cond.notify_all()

    async def succeeded(self) -> None:
        async with self._cond:
            self.successes += 1
            if self.successes >= self.limit and self.limit < self.max:
                self.limit += 1
                self.successes = 0
                self._cond.notify_all()


class _DatabaseThread:
    """One thread for a chunk's ORM calls (Django's ORM is not async-safe); closes its connection."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="abtest-db")

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(fn, *args))

    def close(self) -> None:
        self.pool.submit(connections.close_all).result()
        self.pool.shutdown(wait=True)


class _Batches:
    """Group commit for one kind of database step (claims or finishes).

    Callers ``await submit(item)``; what queues up while the database thread is busy goes into the next
    single call of ``fn(plan, items)`` (one transaction), so the per-cell cost of round trips, commits
    and thread hand-offs is paid once per batch. Nothing waits on a timer: a lone cell goes straight in.
    """

    def __init__(self, db: _DatabaseThread, fn: Callable[[Plan, list[Any]], list[Any]], plan: Plan) -> None:
        self.db, self.fn, self.plan = db, fn, plan
        self.queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def submit(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue, []
                try:
                    results = await self.db(self.fn, self.plan, [item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self.task = None


def _chunk_cells(test_id: int, trial_ids: list[int]) -> list[tuple[int, int, int]]:
    """(trial id, variant id, row index) of the chunk's Trials that are still pending."""
    return list(
        Trial.objects.filter(test_id=test_id, pk__in=trial_ids, status=TrialStatus.PENDING)
        .order_by("row_index", "repetition", "variant_id")
        .values_list("id", "variant_id", "row_index")
    )


def _spare_cells(test_id: int, variant_ids: list[int], seen: set[int], limit: int) -> list[tuple[int, int, int]]:
    """Cells a chunk that ran out takes over from the test's other chunks, so that no worker process
    idles while another still has a queue: pending, due cells of these variants not in ``seen``, from
    the end of the test's order, half of those found (the owner keeps the other half), at most ``limit``.
    The owner, working from the other end, finds the taken ones claimed (SKIP) if it gets there; a claim
    is atomic, so no cell runs twice."""
    found = list(
        Trial.objects.filter(test_id=test_id, variant_id__in=variant_ids, status=TrialStatus.PENDING)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))
        .exclude(pk__in=seen)
        .order_by("-row_index", "-repetition", "-variant_id")
        .values_list("id", "variant_id", "row_index")[: 2 * limit]
    )
    return found[: min(limit, -(-len(found) // 2))]


async def _call(cell: Cell, slots: SlotPool) -> Outcome:
    """The cell's provider call, then its judges' calls; each holds a slot of the workspace's call cap
    (``WORKSPACE_MAX_CONCURRENT_CALLS``, from the chunk's ``slots``) while it is in flight. When no
    slot comes free in time the cell is not sent: it goes back to pending like a rate-limited one, with
    no Run recorded."""
    try:
        async with slots.slot():
            result = await cell.call.adapter.acomplete(_request(cell.call))
    except CallQuotaExceeded as exc:
        return Outcome(
            result=None, error=ProviderError("rate_limit", exc.text, retry_after=exc.retry_after), sent=False
        )
    except ProviderError as exc:
        return Outcome(result=None, error=exc)
    except Exception as exc:
        log.exception("abtest cell %s failed unexpectedly", cell.trial_id)
        return Outcome(result=None, error=_unexpected(exc))
    outcome = Outcome(result=result, error=None)
    for judge, images in cell.judge_calls:
        judge_call = _judge_call(judge, cell, result.text, images)
        try:
            async with slots.slot():
                judged: Result | ProviderError = await judge_call.adapter.acomplete(_request(judge_call))
        except CallQuotaExceeded as exc:
            judged = JudgeNotCalled("rate_limit", f"The judge was not called: {exc.text}")
        except ProviderError as exc:
            judged = exc
        except Exception as exc:
            judged = _unexpected(exc)
        outcome.judges.append((judge, judge_call, judged))
    return outcome


def _judge_call(judge: JudgePlan, cell: Cell, output: str, images: list[MediaPart]) -> PreparedCall:
    """The judge's call for one output: the rubric, the output, and the images the variant saw."""
    messages = _judge_messages(judge, cell.values, output, images)
    return replace(judge.base, messages=messages)


async def _run_chunk_async(test_id: int, trial_ids: list[int], concurrency: int | None) -> dict[str, int]:
    db = _DatabaseThread()
    stats = {"ok": 0, "error": 0, "retry": 0, "returned": 0, "lost": 0, "skipped": 0}
    slots: SlotPool | None = None
    try:
        plan = await db(load_plan, test_id)
        if plan is None:
            await db(finalize, test_id)
            return stats
        slots = SlotPool(plan.test.workspace_id)
        queues: dict[str, collections.deque[tuple[int, int, int]]] = {}
        for cell in await db(_chunk_cells, test_id, trial_ids):
            queues.setdefault(plan.variants[cell[1]].variant.provider, collections.deque()).append(cell)
        limiters: dict[str, Limiter] = {}
        stopped = asyncio.Event()  # no new claims (the test stopped, or the next cell would cross the cap)
        halted = asyncio.Event()  # the test is not running: claimed cells go back unsent
        limit = min(concurrency or plan.test.concurrency, plan.test.concurrency)
        steps = _Batches(db, cells_step, plan)

        async def run_one(trial_id: int, variant_id: int, row_index: int) -> None:
            # The cell is claimed before it waits for a call slot and finished after it gave the slot
            # back: the slots (the test's concurrency) bound provider calls in flight, and the database
            # work of the cells around them overlaps with the calls instead of idling a slot.
            provider = plan.variants[variant_id].variant.provider
            limiter = limiters.setdefault(provider, Limiter(limit))
            rate_limit_retries = 0
            while not stopped.is_set():
                prepared = await steps.submit((CLAIM, (trial_id, variant_id, row_index)))
                if prepared in (STOP, CAPPED):
                    stopped.set()
                    if prepared == STOP:
                        halted.set()
                    return
                if prepared == SKIP:
                    stats["skipped"] += 1
                    return
                if prepared == LATER:
                    await asyncio.sleep(0.05)
                    continue
                assert isinstance(prepared, Cell)
                prepared.rate_limit_retries = rate_limit_retries
                await limiter.acquire()
                try:
                    # the test stopped running while the cell waited for a slot: it goes back, unsent
                    outcome = UNSENT if halted.is_set() else await _call(prepared, slots)
                finally:
                    await limiter.release()
                error = outcome.error
                if outcome.result is not None:
                    await limiter.succeeded()
                elif error is not None and error.kind == "rate_limit":
                    rate_limit_retries += 1
                    await limiter.rate_limited(error.retry_after)
                result = await steps.submit((FINISH, (prepared, outcome)))
                stats[result] += 1
                if result != "retry":
                    return
                assert error is not None
                if error.kind != "rate_limit":
                    await asyncio.sleep(_retry_delay(error, 1))

        lanes = LANES_PER_SLOT * limit
        seen = {cell[0] for cells in queues.values() for cell in cells}
        refills: dict[str, asyncio.Lock] = {provider: asyncio.Lock() for provider in queues}
        spent: set[str] = set()  # providers with no spare cells left

        async def lane(provider: str) -> None:
            cells = queues[provider]
            while not stopped.is_set():
                if not cells:
                    async with refills[provider]:  # one lane asks; the others wait for its answer
                        if not cells and not stopped.is_set() and provider not in spent:
                            variant_ids = [
                                v for v, vplan in plan.variants.items() if vplan.variant.provider == provider
                            ]
                            spare = await db(_spare_cells, test_id, variant_ids, seen, lanes)
                            seen.update(cell[0] for cell in spare)
                            cells.extend(spare)
                            if not spare:
                                spent.add(provider)
                    if not cells:
                        return
                await run_one(*cells.popleft())

        # one queue of cells per provider, LANES_PER_SLOT lanes per call slot, so that cells are claimed
        # (or recorded) while others are in flight
        await asyncio.gather(
            *(lane(provider) for provider, cells in queues.items() for _ in range(min(len(cells), lanes)))
        )
        await db(finalize, test_id)
    finally:
        if slots is not None:
            await slots.close()
        db.close()
        await close_shared_clients()
    return stats


async def _call_closing(cell: Cell) -> Any:
    """One call on a loop of its own, closing the loop's slots and shared SDK clients afterwards."""
    slots = SlotPool(cell.workspace_id)
    try:
        return await _call(cell, slots)
    finally:
        await slots.close()
        await close_shared_clients()


def run_chunk(test_id: int, trial_ids: list[int], concurrency: int | None = None) -> dict[str, int]:
    """Run a chunk's pending cells (the Celery task's body), at most ``concurrency`` calls at once per
    provider (default and most: the test's). Idempotent: finished cells are skipped."""
    return asyncio.run(_run_chunk_async(test_id, list(trial_ids), concurrency))


def run_cells_sync(test_id: int, trial_ids: list[int] | None = None) -> dict[str, int]:
    """Run pending cells one after the other in this thread (demo seeding, scripts); no Celery."""
    stats = {"ok": 0, "error": 0, "retry": 0, "returned": 0, "lost": 0, "skipped": 0}
    plan = load_plan(test_id)
    if plan is None:
        finalize(test_id)
        return stats
    if trial_ids is None:
        trial_ids = list(Trial.objects.filter(test_id=test_id).values_list("id", flat=True))
    for trial_id, variant_id, row_index in _chunk_cells(test_id, trial_ids):
        for _ in range(max_attempts() + max_rate_limit_retries()):
            prepared = cell_prepare(plan, trial_id, variant_id, row_index)
            if prepared == LATER:
                time.sleep(0.05)
                continue
            if not isinstance(prepared, Cell):
                stats["skipped"] += 1
                break
            outcome = asyncio.run(_call_closing(prepared))
            result = cell_finish(plan, prepared, outcome)
            stats[result] += 1
            if result != "retry":
                break
        else:
            continue
        if prepared in (STOP, CAPPED):
            break
    finalize(test_id)
    return stats
