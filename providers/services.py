"""Writes for providers: credentials, custom models and runs (each provider call is a Run).

Running a prompt: ``call_prepare`` checks the target (catalog model, credential, base URL policy,
parameters, parts the model can take) and raises ``RunRefused`` before anything is recorded or sent.
``run_execute`` makes one call and records it; ``runs_execute`` runs several targets side by side;
``run_events`` does the same streaming, yielding SSE-ready events and recording every Run at the end,
also when the call fails or the client goes away. Provider calls run outside database transactions;
worker threads only talk to the provider, every database write happens in the caller's thread.
Each call holds a slot of the workspace's cap on calls in flight (``providers.quota``), taken after
the checks and before any Run is recorded: a full workspace raises ``CallQuotaExceeded`` (nothing
recorded, nothing sent) and the slots go back when the calls end, however they end.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import request_user
from audit.services import record
from providers import crypto
from providers.adapters import ADAPTERS, get_adapter
from providers.adapters.base import Adapter
from providers.catalog import Estimate, Prices, cost_for, estimate_cost
from providers.media import MediaError, resolve_messages, storable_input
from providers.models import ModelInfo, Provider, ProviderCredential, Run, RunSource, RunStatus
from providers.netpolicy import OutboundBlocked, check_url
from providers.quota import workspace_slot
from providers.types import CompletionRequest, Done, ProviderError, Result, TextDelta, Usage
from studio.exceptions import Conflict

MAX_TARGETS = 4
TOO_MANY_TARGETS = "A run takes at most 4 targets."
NO_TARGETS = "Choose at least one target (provider and model)."
UNKNOWN_PROVIDER = "Unknown provider {provider!r}; choose one of: openai, anthropic, mistral, openai_compatible, echo."
UNKNOWN_MODEL = (
    "{model} is not in the model catalog for {provider}. An operator can add it in admin; for an "
    "OpenAI-compatible server a workspace admin can add it as a custom model."
)
NO_CREDENTIAL = "This workspace has no {provider} credential; an admin can add one under Providers."
NO_BASE_URL = "An OpenAI-compatible credential needs the server's base URL."
CREDENTIAL_NOT_FOUND = "Credential {id} is not a {provider} credential of this workspace."
KEY_REQUIRED = "Enter the API key."
KEY_TOO_LONG = "That key is longer than 1000 characters."
UNKNOWN_PARAM = "Unknown parameter {name!r}; allowed: {allowed}."
BAD_PARAM = "Parameter {name} must be {expected}."
CANCELLED = "The client disconnected before the answer was complete."
UNEXPECTED = "The call failed unexpectedly ({error}). The run was recorded; try again."
CUSTOM_MODEL_EXISTS = "This workspace already has a custom model {model}."
CUSTOM_MODEL_PROVIDER = "Custom models are for OpenAI-compatible servers."
MODALITIES_INVALID = "Input modalities are any of text, image, audio, document."

PARAM_RULES: dict[str, tuple[type | tuple[type, ...], str, Any, Any]] = {
    "temperature": ((int, float), "a number from 0 to 2", 0, 2),
    "top_p": ((int, float), "a number from 0 to 1", 0, 1),
    "top_k": (int, "a whole number of at least 1", 1, None),
    "max_tokens": (int, "a whole number from 1 to 1,000,000", 1, 1_000_000),
    "seed": (int, "a whole number", None, None),
    "presence_penalty": ((int, float), "a number from -2 to 2", -2, 2),
    "frequency_penalty": ((int, float), "a number from -2 to 2", -2, 2),
    "stop": ((str, list), "a string or a list of up to 4 strings", None, None),
    "response_format": (dict, 'an object such as {"type": "json_object"}', None, None),
}
PROMPT_MODEL_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "stop", "seed", "response_format")


class RunRefused(ValidationError):
    """The run cannot start (bad target, missing key, a part the model cannot take); nothing was sent."""

    def __init__(self, message: str, *, field: str = "targets") -> None:
        self.text = message
        super().__init__({field: [message]})

    def __str__(self) -> str:
        return self.text


# --- parameters -------------------------------------------------------------------------------------
def params_validate(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise RunRefused("params must be an object of name: value.", field="params")
    clean: dict[str, Any] = {}
    for name, value in params.items():
        if name not in PARAM_RULES:
            raise RunRefused(UNKNOWN_PARAM.format(name=name, allowed=", ".join(PARAM_RULES)), field="params")
        if value is None:
            continue
        kind, expected, low, high = PARAM_RULES[name]
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and isinstance(value, (int, float)):
            ok = (low is None or value >= low) and (high is None or value <= high)
        if ok and name == "stop" and isinstance(value, list):
            ok = len(value) <= 4 and all(isinstance(s, str) for s in value)
        if not ok:
            raise RunRefused(BAD_PARAM.format(name=name, expected=expected), field="params")
        clean[name] = value
    return clean


# --- preparing a call -------------------------------------------------------------------------------
@dataclass
class Target:
    provider: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    credential_id: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(
            provider=str(data.get("provider", "")),
            model=str(data.get("model", "")),
            params=data.get("params") or {},
            credential_id=data.get("credential"),
        )


@dataclass
class PreparedCall:
    """Everything a call needs except the plaintext key, which is decrypted only in ``request()``."""

    target: Target
    adapter: Adapter
    model_info: ModelInfo
    credential: ProviderCredential | None
    base_url: str | None
    params: dict[str, Any]
    messages: list[Any]
    rendered: dict[str, Any]

    def request(self) -> CompletionRequest:
        api_key = (
            crypto.decrypt(self.credential.encrypted_key) if self.credential and self.credential.encrypted_key else None
        )
        return CompletionRequest(
            model=self.model_info.model_id,
            messages=self.messages,
            params=self.params,
            api_key=api_key,
            base_url=self.base_url,
            timeout=float(settings.PROVIDER_TIMEOUT_SECONDS),
            max_retries=int(settings.PROVIDER_MAX_RETRIES),
            retry_initial_ms=int(settings.PROVIDER_RETRY_INITIAL_MS),
            retry_max_elapsed_ms=int(settings.PROVIDER_RETRY_MAX_ELAPSED_MS),
            input_modalities=self.model_info.modalities,
        )

    @property
    def prices(self) -> Prices:
        return Prices.of(self.model_info)


def model_lookup(*, workspace_id: int, provider: str, model: str) -> ModelInfo:
    rows = list(
        ModelInfo.objects.for_workspace(workspace_id)
        .active()
        .filter(provider=provider, model_id=model)
        .order_by("workspace_id")
    )
    # A workspace's own row wins over the shared one.
    rows.sort(key=lambda m: m.workspace_id is None)
    if not rows:
        raise RunRefused(UNKNOWN_MODEL.format(model=model, provider=Provider(provider).label))
    return rows[0]


def credential_for(*, workspace_id: int, provider: str, credential_id: int | None) -> ProviderCredential | None:
    qs = ProviderCredential.objects.filter(workspace_id=workspace_id, provider=provider)
    if credential_id is not None:
        try:
            return qs.get(pk=int(credential_id))
        except (ProviderCredential.DoesNotExist, ValueError, TypeError):
            raise RunRefused(CREDENTIAL_NOT_FOUND.format(id=credential_id, provider=Provider(provider).label)) from None
    return qs.order_by("-updated_at", "-id").first()


def call_prepare(*, workspace_id: int, rendered: dict[str, Any], target: Target) -> PreparedCall:
    """Check a target against the catalog, credentials, address policy and the model's inputs."""
    from analytics.budgets import BudgetExceeded, enforce_budget  # the workspace's hard-stop budget

    try:
        enforce_budget(workspace_id)
    except BudgetExceeded as exc:
        raise RunRefused(str(exc), field="budget") from None
    if target.provider not in ADAPTERS:
        raise RunRefused(UNKNOWN_PROVIDER.format(provider=target.provider))
    adapter = get_adapter(target.provider)
    model_info = model_lookup(workspace_id=workspace_id, provider=target.provider, model=target.model)
    prompt_model = rendered.get("model") or {}
    merged = {k: prompt_model[k] for k in PROMPT_MODEL_KEYS if prompt_model.get(k) is not None}
    merged.update(target.params or {})
    params = params_validate(merged)

    credential = None
    base_url: str | None = None
    if target.provider != "echo":
        credential = credential_for(
            workspace_id=workspace_id, provider=target.provider, credential_id=target.credential_id
        )
        if credential is None:  # every networked provider needs one (OpenAI-compatible: for its base URL)
            raise RunRefused(NO_CREDENTIAL.format(provider=Provider(target.provider).label))
        if credential is not None and credential.base_url:
            try:
                base_url = check_url(credential.base_url)
            except OutboundBlocked as exc:
                raise RunRefused(str(exc)) from None
        elif target.provider == "openai_compatible":
            raise RunRefused(NO_BASE_URL)
        else:
            base_url = settings.PROVIDER_BASE_URLS.get(target.provider)
    try:
        messages = resolve_messages(rendered, workspace_id=workspace_id, url_kinds=adapter.url_kinds)
    except MediaError as exc:
        raise RunRefused(str(exc), field="variables") from None
    prepared = PreparedCall(
        target=target,
        adapter=adapter,
        model_info=model_info,
        credential=credential,
        base_url=base_url,
        params=params,
        messages=messages,
        rendered=rendered,
    )
    # Refuse parts the model cannot take before any call (the key itself is not needed for that).
    probe = CompletionRequest(
        model=model_info.model_id, messages=messages, params=params, api_key="-", input_modalities=model_info.modalities
    )
    try:
        adapter.check(probe)
    except ProviderError as exc:
        raise RunRefused(exc.message) from None
    return prepared


def run_estimate(*, workspace_id: int, rendered: dict[str, Any], target: Target) -> Estimate:
    """A pre-run cost estimate (labelled as an estimate) without calling the provider."""
    model_info = model_lookup(workspace_id=workspace_id, provider=target.provider, model=target.model)
    messages = resolve_messages(
        rendered, workspace_id=workspace_id, url_kinds=frozenset({"image", "audio", "document"})
    )
    params = params_validate(
        {**{k: v for k, v in (rendered.get("model") or {}).items() if k == "max_tokens"}, **target.params}
    )
    return estimate_cost(target.provider, Prices.of(model_info), messages, params.get("max_tokens"))


# --- recording runs ---------------------------------------------------------------------------------
@dataclass
class RunContext:
    workspace_id: int
    user: Any
    source: str = RunSource.API
    prompt_version: Any = None
    prompt: Any = None
    variables: dict[str, Any] = field(default_factory=dict)


def run_start(*, context: RunContext, call: PreparedCall) -> Run:
    prompt = context.prompt or (context.prompt_version.prompt if context.prompt_version is not None else None)
    return Run.objects.create(
        workspace_id=context.workspace_id,
        user=context.user if getattr(context.user, "is_authenticated", False) else None,
        prompt=prompt,
        prompt_version=context.prompt_version,
        provider=call.target.provider,
        model=call.model_info.model_id,
        credential=call.credential,
        params=call.params,
        input=storable_input(call.rendered),
        variables=_jsonable(context.variables),
        source=context.source,
        status=RunStatus.RUNNING,
    )


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return {}


def run_finish(*, run: Run, call: PreparedCall, result: Result) -> Run:
    usage = result.usage
    run.output = result.text
    run.finish_reason = result.finish_reason[:50]
    run.input_tokens = usage.input_tokens
    run.output_tokens = usage.output_tokens
    run.cached_tokens = usage.cached_tokens
    run.cache_write_tokens = usage.cache_write_tokens
    run.reasoning_tokens = usage.reasoning_tokens
    run.usage_estimated = result.usage_estimated
    run.cost = cost_for(call.target.provider, call.prices, usage)
    run.latency_ms = result.latency_ms
    run.ttft_ms = result.ttft_ms
    run.provider_request_id = result.request_id[:200]
    run.warnings = list(result.warnings)
    run.status = RunStatus.OK
    run.finished_at = timezone.now()
    run.save()
    return run


def run_fail(*, run: Run, error: ProviderError, latency_ms: int | None = None, ttft_ms: int | None = None) -> Run:
    run.status = RunStatus.ERROR
    run.error_kind = error.kind
    run.error_message = error.message
    run.retry_after = error.retry_after
    run.provider_request_id = (error.request_id or "")[:200]
    run.output = error.partial_text
    run.latency_ms = latency_ms if latency_ms is not None else error.latency_ms
    run.ttft_ms = ttft_ms
    run.warnings = list(error.warnings)
    run.cost = Decimal(0)
    run.finished_at = timezone.now()
    run.save()
    return run


def _unexpected(exc: BaseException) -> ProviderError:
    return ProviderError("server", UNEXPECTED.format(error=type(exc).__name__))


def _call_once(call: PreparedCall) -> Result | ProviderError:
    """One non-streaming call, in whatever thread; never raises."""
    try:
        return call.adapter.complete(call.request())
    except ProviderError as exc:
        return exc
    except crypto.DecryptionFailed as exc:
        return ProviderError("auth", str(exc))
    except Exception as exc:
        return _unexpected(exc)


def run_execute(
    *,
    workspace: Any,
    user: Any,
    rendered: dict[str, Any],
    target: Target,
    source: str = RunSource.API,
    prompt_version: Any = None,
    prompt: Any = None,
    variables: dict[str, Any] | None = None,
) -> Run:
    """Call one target and record the Run (status ok or error).

    Raises RunRefused for bad input and CallQuotaExceeded when the workspace's calls in flight are at the cap.
    """
    call = call_prepare(workspace_id=workspace.pk, rendered=rendered, target=target)
    context = RunContext(workspace.pk, user, source, prompt_version, prompt, variables or {})
    with workspace_slot(workspace.pk):
        run = run_start(context=context, call=call)
        outcome = _call_once(call)
    if isinstance(outcome, ProviderError):
        return run_fail(run=run, error=outcome)
    return run_finish(run=run, call=call, result=outcome)


def runs_execute(
    *,
    workspace: Any,
    user: Any,
    rendered: dict[str, Any],
    targets: list[Target],
    source: str = RunSource.API,
    prompt_version: Any = None,
    prompt: Any = None,
    variables: dict[str, Any] | None = None,
) -> list[Run]:
    """Call up to 4 targets side by side; every target leaves a Run. All targets are checked first,
    then one slot per target is taken (all or none: CallQuotaExceeded)."""
    calls = targets_prepare(workspace_id=workspace.pk, rendered=rendered, targets=targets)
    context = RunContext(workspace.pk, user, source, prompt_version, prompt, variables or {})
    with workspace_slot(workspace.pk, count=len(calls)):
        runs = [run_start(context=context, call=call) for call in calls]
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            outcomes = list(pool.map(_call_once, calls))
    finished = []
    for run, call, outcome in zip(runs, calls, outcomes, strict=True):
        if isinstance(outcome, ProviderError):
            finished.append(run_fail(run=run, error=outcome))
        else:
            finished.append(run_finish(run=run, call=call, result=outcome))
    return finished


def targets_prepare(*, workspace_id: int, rendered: dict[str, Any], targets: list[Target]) -> list[PreparedCall]:
    if not targets:
        raise RunRefused(NO_TARGETS)
    if len(targets) > MAX_TARGETS:
        raise RunRefused(TOO_MANY_TARGETS)
    calls = []
    for index, target in enumerate(targets):
        try:
            calls.append(call_prepare(workspace_id=workspace_id, rendered=rendered, target=target))
        except RunRefused as exc:
            prefix = f"targets[{index}] ({target.provider} {target.model}): " if len(targets) > 1 else ""
            raise RunRefused(prefix + exc.text, field=next(iter(exc.message_dict), "targets")) from None
    return calls


# --- streaming --------------------------------------------------------------------------------------
_FINISHED = object()


def _stream_worker(index: int, call: PreparedCall, out: queue.Queue[Any], cancel: threading.Event) -> None:
    """Runs in a thread: reads the provider stream and forwards events. Never touches the database."""
    events = None
    try:
        events = call.adapter.stream(call.request())
        for event in events:
            if cancel.is_set():
                return
            out.put((index, event))
    except ProviderError as exc:
        out.put((index, exc))
    except crypto.DecryptionFailed as exc:
        out.put((index, ProviderError("auth", str(exc))))
    except Exception as exc:
        out.put((index, _unexpected(exc)))
    finally:
        if events is not None:
            events.close()  # closes the HTTP response when cancelled
        out.put((index, _FINISHED))


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event frame."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def run_events(
    *,
    workspace: Any,
    user: Any,
    rendered: dict[str, Any],
    targets: list[Target],
    source: str = RunSource.PLAYGROUND,
    prompt_version: Any = None,
    prompt: Any = None,
    variables: dict[str, Any] | None = None,
    heartbeat_seconds: float = 15.0,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Stream up to 4 targets side by side as (event, data) pairs; format them with ``sse``.

    Targets are checked, one slot per target taken and the Runs created before this returns:
    RunRefused and CallQuotaExceeded raise here (nothing recorded), so a view can answer 400 or 429
    before it starts streaming; the slots go back when the stream ends or is closed. Events: ``run`` (one per target,
    with the run id), ``delta`` (text), ``done`` (the finished run), ``error`` (the failed run with its
    error), ``ping`` (keep-alive) and a final ``end``. If the consumer stops early (client
    disconnect), unfinished Runs are recorded as errors (kind ``cancelled``) with the text so far.
    """
    calls = targets_prepare(workspace_id=workspace.pk, rendered=rendered, targets=targets)
    context = RunContext(workspace.pk, user, source, prompt_version, prompt, variables or {})
    slots = workspace_slot(workspace.pk, count=len(calls)).acquire()
    try:
        runs = [run_start(context=context, call=call) for call in calls]
    except BaseException:
        slots.release()
        raise
    return _stream_runs(calls, runs, heartbeat_seconds, slots)


def _stream_runs(
    calls: list[PreparedCall], runs: list[Run], heartbeat_seconds: float, slots: workspace_slot
) -> Iterator[tuple[str, dict[str, Any]]]:
    # An unstarted generator never runs its ``finally``; ``slots`` then goes back when it is collected.
    from providers.serializers import run_payload

    out: queue.Queue[Any] = queue.Queue()
    cancel = threading.Event()
    texts: list[list[str]] = [[] for _ in calls]
    started = [timezone.now() for _ in calls]
    first: list[int | None] = [None for _ in calls]
    open_targets = set(range(len(calls)))
    for index, run in enumerate(runs):
        yield "run", {"index": index, "run_id": run.pk, "provider": run.provider, "model": run.model}
    threads = [
        threading.Thread(target=_stream_worker, args=(i, call, out, cancel), daemon=True, name=f"run-{runs[i].pk}")
        for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    finished_runs: set[int] = set()
    try:
        while open_targets:
            slots.renew()  # a long stream keeps its slots (rate-limited: a quarter of the lease)
            try:
                index, item = out.get(timeout=heartbeat_seconds)
            except queue.Empty:
                yield "ping", {}
                continue
            run = runs[index]
            if item is _FINISHED:
                open_targets.discard(index)
                if index not in finished_runs:  # the worker ended without a result
                    finished_runs.add(index)
                    run_fail(run=run, error=_unexpected(RuntimeError("stream ended early")))
                    yield "error", {"index": index, "run_id": run.pk, "run": run_payload(run)}
            elif isinstance(item, TextDelta):
                if first[index] is None:
                    first[index] = int((timezone.now() - started[index]).total_seconds() * 1000)
                texts[index].append(item.text)
                yield "delta", {"index": index, "run_id": run.pk, "text": item.text}
            elif isinstance(item, Done):
                finished_runs.add(index)
                run_finish(run=run, call=calls[index], result=item.result)
                yield "done", {"index": index, "run_id": run.pk, "run": run_payload(run)}
            elif isinstance(item, ProviderError):
                finished_runs.add(index)
                if not item.partial_text:
                    item.partial_text = "".join(texts[index])
                elapsed = int((timezone.now() - started[index]).total_seconds() * 1000)
                run_fail(run=run, error=item, latency_ms=item.latency_ms or elapsed, ttft_ms=first[index])
                yield "error", {"index": index, "run_id": run.pk, "run": run_payload(run)}
        yield "end", {"run_ids": [run.pk for run in runs]}
    finally:
        cancel.set()
        slots.release()
        for index, run in enumerate(runs):
            if index not in finished_runs:
                elapsed = int((timezone.now() - started[index]).total_seconds() * 1000)
                error = ProviderError("cancelled", CANCELLED, partial_text="".join(texts[index]))  # type: ignore[arg-type]
                run_fail(run=run, error=error, latency_ms=elapsed, ttft_ms=first[index])


# --- interrupted runs -------------------------------------------------------------------------------
INTERRUPTED_KIND = "interrupted"
INTERRUPTED = (
    "The server handling this call stopped before the answer was recorded (a restart or a crash). "
    "Nothing more will arrive for it; run it again."
)


def run_stale_seconds() -> float:
    """How long a Run may stay ``running`` before the sweep calls it interrupted.

    Longer than any call can take: every attempt may wait the full provider timeout, and a stream
    may go on for a while after its first byte; ``RUN_STALE_SECONDS`` overrides it.
    """
    configured = getattr(settings, "RUN_STALE_SECONDS", None)
    if configured:
        return float(configured)
    attempts = int(getattr(settings, "PROVIDER_MAX_RETRIES", 2)) + 1
    return float(settings.PROVIDER_TIMEOUT_SECONDS) * attempts + 300.0


def run_sweep_stale(*, now: Any = None, older_than: float | None = None) -> int:
    """Mark Runs left ``running`` by a process that died (a killed web worker mid-stream) as errors.

    A live process always finishes its Runs (ok, error or cancelled), so a Run still running after
    ``older_than`` seconds (``run_stale_seconds()``) has no one left to finish it. It becomes an error
    of kind ``interrupted`` with a message that says so; its output so far is kept. Returns how many.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=run_stale_seconds() if older_than is None else older_than)
    return Run.objects.filter(status=RunStatus.RUNNING, created_at__lt=cutoff).update(
        status=RunStatus.ERROR,
        error_kind=INTERRUPTED_KIND,
        error_message=INTERRUPTED,
        cost=Decimal(0),
        finished_at=now,
    )


# --- credentials ------------------------------------------------------------------------------------
def _clean_key(api_key: str | None, *, required: bool) -> str:
    key = (api_key or "").strip()
    if required and not key:
        raise ValidationError({"api_key": [KEY_REQUIRED]})
    if len(key) > 1000:
        raise ValidationError({"api_key": [KEY_TOO_LONG]})
    return key


def _clean_base_url(provider: str, base_url: str | None) -> str:
    url = (base_url or "").strip()
    if provider == "openai_compatible" and not url:
        raise ValidationError({"base_url": [NO_BASE_URL]})
    if url:
        try:
            check_url(url)
        except OutboundBlocked as exc:
            raise ValidationError({"base_url": [str(exc)]}) from None
    return url


@transaction.atomic
def credential_create(
    *, workspace: Any, user: Any, provider: str, api_key: str | None, label: str = "", base_url: str = ""
) -> ProviderCredential:
    if provider not in Provider.values or provider == Provider.ECHO:
        raise ValidationError({"provider": [UNKNOWN_PROVIDER.format(provider=provider)]})
    key = _clean_key(api_key, required=provider != Provider.OPENAI_COMPATIBLE)
    url = _clean_base_url(provider, base_url)
    credential = ProviderCredential.objects.create(
        workspace=workspace,
        provider=provider,
        label=(label or "").strip()[:100],
        base_url=url,
        encrypted_key=crypto.encrypt(key) if key else "",
        last4=key[-4:] if key else "",
        created_by=user,
    )
    record(
        action="credential.added",
        actor=user,
        workspace=credential.workspace_id,
        target=credential,
        details={"provider": provider, "last4": credential.last4, "base_url": url},
    )
    return credential


@transaction.atomic
def credential_replace(
    *, credential: ProviderCredential, api_key: str | None, label: str | None = None, base_url: str | None = None
) -> ProviderCredential:
    key = _clean_key(api_key, required=credential.provider != Provider.OPENAI_COMPATIBLE)
    credential.encrypted_key = crypto.encrypt(key) if key else ""
    credential.last4 = key[-4:] if key else ""
    if label is not None:
        credential.label = label.strip()[:100]
    if base_url is not None:
        credential.base_url = _clean_base_url(credential.provider, base_url)
    credential.save()
    record(
        action="credential.replaced",
        actor=request_user(),
        workspace=credential.workspace_id,
        target=credential,
        details={"provider": credential.provider, "last4": credential.last4},
    )
    return credential


@transaction.atomic
def credential_delete(*, credential: ProviderCredential) -> None:
    record(
        action="credential.deleted",
        actor=request_user(),
        workspace=credential.workspace_id,
        target=credential,
        details={"provider": credential.provider, "last4": credential.last4},
    )
    credential.delete()


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    latency_ms: int = 0
    error_kind: str = ""


def credential_test(*, credential: ProviderCredential) -> ConnectionCheck:
    """Ask the provider to list its models with this key (no tokens spent)."""
    adapter = get_adapter(credential.provider)
    try:
        base_url = (
            check_url(credential.base_url)
            if credential.base_url
            else settings.PROVIDER_BASE_URLS.get(credential.provider)
        )
        request = CompletionRequest(
            model="",
            messages=[],
            api_key=crypto.decrypt(credential.encrypted_key) if credential.encrypted_key else None,
            base_url=base_url,
            timeout=min(30.0, float(settings.PROVIDER_TIMEOUT_SECONDS)),
            max_retries=0,
        )
        latency = adapter.check_connection(request)
    except OutboundBlocked as exc:
        return ConnectionCheck(False, str(exc), error_kind="blocked")
    except crypto.DecryptionFailed as exc:
        return ConnectionCheck(False, str(exc), error_kind="auth")
    except ProviderError as exc:
        return ConnectionCheck(False, exc.message, latency_ms=exc.latency_ms, error_kind=exc.kind)
    return ConnectionCheck(True, f"Connected to {adapter.label} in {latency} ms.", latency_ms=latency)


@transaction.atomic
def credentials_rotate() -> int:
    """Re-encrypt every stored key under the newest PROVIDER_ENCRYPTION_KEYS entry."""
    count = 0
    for credential in ProviderCredential.objects.select_for_update().exclude(encrypted_key="").order_by("pk"):
        credential.encrypted_key = crypto.rotate(credential.encrypted_key)
        credential.save(update_fields=["encrypted_key"])
        count += 1
    return count


# --- custom models ----------------------------------------------------------------------------------
@transaction.atomic
def custom_model_create(
    *,
    workspace: Any,
    model_id: str,
    display_name: str = "",
    input_modalities: list[str] | None = None,
    context_window: int = 0,
    price_input: Decimal = Decimal(0),
    price_output: Decimal = Decimal(0),
    price_cached_input: Decimal | None = None,
) -> ModelInfo:
    modalities = list(dict.fromkeys(input_modalities or ["text"]))
    if not set(modalities) <= {"text", "image", "audio", "document"}:
        raise ValidationError({"input_modalities": [MODALITIES_INVALID]})
    model_id = model_id.strip()
    if ModelInfo.objects.filter(workspace=workspace, provider=Provider.OPENAI_COMPATIBLE, model_id=model_id).exists():
        raise Conflict({"model_id": [CUSTOM_MODEL_EXISTS.format(model=model_id)]})
    return ModelInfo.objects.create(
        workspace=workspace,
        provider=Provider.OPENAI_COMPATIBLE,
        model_id=model_id,
        display_name=display_name.strip() or model_id,
        input_modalities=modalities,
        context_window=context_window,
        price_input=price_input,
        price_output=price_output,
        price_cached_input=price_cached_input,
        prices_read_on=timezone.now().date(),
        verified=False,
        price_source="entered by the workspace",
    )


@transaction.atomic
def custom_model_delete(*, model: ModelInfo) -> None:
    model.delete()


def usage_cost(provider: str, model: ModelInfo, usage: Usage) -> Decimal:
    """Cost of ``usage`` at ``model``'s catalog prices (as the provider bills)."""
    return cost_for(provider, Prices.of(model), usage)
