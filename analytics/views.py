"""Analytics pages: the dashboard, a prompt's usage per version, CSV downloads, the budget page and the
top bar's budget indicator.

The dashboard reads its date range, interval, breakdown dimension and filters from the URL (shareable).
An HTMX request that is not boosted navigation gets the ``results`` partial; the same URL opened
directly renders the whole page. Every member can read; budgets need an admin to change them.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import Membership, Role, User
from analytics import charts, selectors, services
from analytics.filters import (
    DIMENSIONS,
    Filters,
    dimension_from_params,
    filters_from_params,
    interval_from_params,
    today,
)
from providers.models import ModelInfo, Provider, RunSource
from studio.permissions import current_membership, get_object_for_user, require_role

NO_WORKSPACE = "Join or create a workspace to see its analytics."
BUDGET_SAVED = "Saved the monthly budget of ${limit}."
BUDGET_REMOVED = "Removed the monthly budget."
BAD_TABLE = "Unknown table; choose one of: summary, timeseries, breakdown, versions."
DIMENSION_LABELS = {
    "provider": "Provider",
    "model": "Model",
    "prompt": "Prompt",
    "version": "Version",
    "user": "User",
    "source": "Source",
}
QUICK_RANGES = ((1, "Today"), (7, "7 days"), (30, "30 days"), (90, "90 days"))
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404(NO_WORKSPACE)
    return membership


def _parse(request: HttpRequest, workspace_id: int) -> tuple[Filters, str, str, dict[str, list[str]]]:
    """Filters, interval and dimension from the URL; bad values are reported and replaced by defaults."""
    errors: dict[str, list[str]] = {}
    params = request.GET
    try:
        filters = filters_from_params(params, workspace_id=workspace_id)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        clean = params.copy()
        for name in exc.message_dict:
            clean.pop(name, None)
            if name in ("from", "to"):
                clean.pop("from", None)
                clean.pop("to", None)
        filters = filters_from_params(clean, workspace_id=workspace_id)
    try:
        interval = interval_from_params(params, filters)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        interval = interval_from_params(QueryDict(), filters)
    try:
        by = dimension_from_params(params)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        by = "model"
    return filters, interval, by, errors


def _query(filters: Filters, **extra: str) -> str:
    params = filters.params()
    for key, value in extra.items():
        if value:
            params[key] = value
        else:
            params.pop(key, None)
    return "?" + urlencode(params) if params else ""


def _series_charts(ts: selectors.Timeseries) -> list[charts.Chart]:
    buckets = [p.bucket for p in ts.points]

    def label(b: Any) -> str:
        return charts.bucket_label(b, ts.interval)

    def title_of(b: Any) -> str:
        return charts.bucket_title(b, ts.interval)

    return [
        charts.stacked_bars(
            "Calls",
            buckets,
            [
                ("Successful", "series-ok", [p.totals.ok_calls for p in ts.points]),
                ("Errors", "series-error", [p.totals.errors for p in ts.points]),
            ],
            label=label,
            title_of=title_of,
        ),
        charts.lines(
            "Cost",
            buckets,
            [("Cost", "series-cost", [float(p.totals.cost) for p in ts.points])],
            unit="$",
            label=label,
            title_of=title_of,
            area=True,
        ),
        charts.lines(
            "Latency of successful calls",
            buckets,
            [
                ("p50", "series-p50", [p.percentiles.latency_p50 for p in ts.points]),
                ("p95", "series-p95", [p.percentiles.latency_p95 for p in ts.points]),
                ("p99", "series-p99", [p.percentiles.latency_p99 for p in ts.points]),
            ],
            unit="ms",
            label=label,
            title_of=title_of,
        ),
        charts.stacked_bars(
            "Tokens",
            buckets,
            [
                ("Input", "series-input", [p.totals.input_tokens for p in ts.points]),
                ("Output", "series-output", [p.totals.output_tokens for p in ts.points]),
            ],
            label=label,
            title_of=title_of,
        ),
    ]


def _filter_options(workspace_id: int, filters: Filters) -> dict[str, Any]:
    from prompts.models import Prompt, PromptVersion

    models = list(
        ModelInfo.objects.for_workspace(workspace_id)
        .order_by("provider", "display_name")
        .values_list("provider", "model_id", "display_name")
    )
    if filters.model and not any(m == filters.model for _, m, _ in models):
        models.append((filters.provider, filters.model, filters.model))
    versions: list[tuple[int, int]] = []
    if filters.prompt is not None:
        versions = list(
            PromptVersion.objects.filter(prompt_id=filters.prompt, prompt__workspace_id=workspace_id)
            .order_by("-number")
            .values_list("pk", "number")
        )
    return {
        "providers": Provider.choices,
        "models": models,
        "prompts": list(Prompt.objects.filter(workspace_id=workspace_id).order_by("name").values_list("pk", "name")),
        "versions": versions,
        "users": list(
            Membership.objects.filter(workspace_id=workspace_id)
            .order_by("user__email")
            .values_list("user_id", "user__display_name", "user__email")
        ),
        "sources": RunSource.choices,
        "statuses": (("ok", "Successful"), ("error", "Errors")),
        "intervals": (("hour", "Hour"), ("day", "Day"), ("week", "Week")),
    }


@require_GET
@login_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    membership = _membership(request)
    workspace_id = membership.workspace_id
    filters, interval, by, errors = _parse(request, workspace_id)
    context: dict[str, Any] = {
        "workspace": membership.workspace,
        "filters": filters,
        "interval": interval,
        "by": by,
        "errors": errors,
        "raw": request.GET,
        "can_admin": membership.has_role(Role.ADMIN),
        "has_runs": selectors.workspace_has_runs(workspace_id=workspace_id),
        "dimensions": [(d, DIMENSION_LABELS[d]) for d in DIMENSIONS],
        "options": _filter_options(workspace_id, filters),
        "quick_ranges": [
            {"label": label, "query": _query(filters.with_range(today() - timedelta(days=n - 1), today()), interval="")}
            for n, label in QUICK_RANGES
        ],
        "base_query": _query(filters),
    }
    if context["has_runs"]:
        through = selectors.rollup_through()
        board = selectors.dashboard(filters, interval=interval, by=by, through=through)
        summary, ts, breakdown = board.summary, board.timeseries, board.breakdown
        estimate = selectors.month_estimate(filters, through=through)
        budget = selectors.budget_get(workspace_id=workspace_id)
        budget_status = None
        if budget is not None:
            spent = estimate.spent if not filters.narrowed else selectors.month_spend(workspace_id=workspace_id)
            budget_status = selectors.BudgetStatus(budget=budget, spent=spent, month_start=estimate.month_start)
        for row in breakdown.rows:
            row.query = _query(filters, **row.filter_params)  # type: ignore[attr-defined]
            row.bar = charts.share_bar(row.share)  # type: ignore[attr-defined]
        context.update(
            {
                "summary": summary,
                "timeseries": ts,
                "charts": _series_charts(ts),
                "breakdown": breakdown,
                "estimate": estimate,
                "budget_status": budget_status,
                "dimension_label": DIMENSION_LABELS[by],
                "tabs": [
                    {"by": d, "label": label, "query": _query(filters, by=d, interval=request.GET.get("interval", ""))}
                    for d, label in context["dimensions"]
                ],
            }
        )
    name = "analytics/dashboard.html"
    return render(request, f"{name}#results" if _wants_fragment(request) else name, context)


# --- prompt usage -----------------------------------------------------------------------------
@require_GET
@login_required
def prompt_usage(request: HtmxHttpRequest, prompt_id: int) -> HttpResponse:
    from prompts.models import Prompt

    prompt = get_object_for_user(Prompt.objects.all(), request.user, pk=prompt_id)
    try:
        filters = filters_from_params(request.GET, workspace_id=prompt.workspace_id)
        errors: dict[str, list[str]] = {}
    except ValidationError as exc:
        errors = exc.message_dict
        filters = filters_from_params(QueryDict(), workspace_id=prompt.workspace_id)
    rows = selectors.prompt_version_usage(filters, prompt=prompt)
    top = max((r.totals.cost for r in rows), default=Decimal(0))
    top_calls = max((r.totals.calls for r in rows), default=0)
    for row in rows:
        share = float(row.totals.cost / top) if top else (row.totals.calls / top_calls if top_calls else 0)
        row.bar = charts.share_bar(share)  # type: ignore[attr-defined]
    try:
        prompt_url = reverse("prompts:detail", args=[prompt.pk])
    except NoReverseMatch:
        prompt_url = ""
    context = {
        "prompt": prompt,
        "prompt_url": prompt_url,
        "rows": rows,
        "filters": filters,
        "errors": errors,
        "raw": request.GET,
        "query": _query(filters),
        "dashboard_query": _query(filters, prompt=str(prompt.pk), by="version"),
        "used": any(r.totals.calls for r in rows),
    }
    name = "analytics/prompt_usage.html"
    return render(request, f"{name}#usage" if _wants_fragment(request) else name, context)


# --- CSV --------------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_PREFIXES):
        return "'" + value  # no formula injection in spreadsheets
    return value


def _totals_cells(t: selectors.Totals) -> list[Any]:
    return [
        t.calls,
        t.errors,
        "" if t.error_rate is None else f"{t.error_rate:.6f}",
        t.input_tokens,
        t.output_tokens,
        t.cached_tokens,
        t.reasoning_tokens,
        f"{t.cost:.8f}",
        "" if t.cost_per_1k is None else f"{t.cost_per_1k:.6f}",
        "" if t.latency_mean is None else f"{t.latency_mean:.1f}",
    ]


TOTALS_HEADER = [
    "calls",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_per_1k_calls_usd",
    "latency_mean_ms",
]
PCT_HEADER = [
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "percentiles_method",
]


def _pct_cells(p: selectors.Percentiles, method: str) -> list[Any]:
    return [
        *(
            "" if v is None else f"{v:.1f}"
            for v in (p.latency_p50, p.latency_p95, p.latency_p99, p.ttft_p50, p.ttft_p95, p.ttft_p99)
        ),
        method,
    ]


@require_GET
@login_required
def export_csv(request: HtmxHttpRequest) -> HttpResponse:
    """Any dashboard table as CSV: ``?table=summary|timeseries|breakdown|versions`` plus the filters."""
    table = request.GET.get("table", "")
    if table == "versions":
        from prompts.models import Prompt

        prompt = get_object_for_user(Prompt.objects.all(), request.user, pk=request.GET.get("prompt"))
        workspace_id = prompt.workspace_id
    else:
        workspace_id = _membership(request).workspace_id
    try:
        filters = filters_from_params(request.GET, workspace_id=workspace_id)
        if table == "timeseries":
            interval = interval_from_params(request.GET, filters)
        if table == "breakdown":
            by = dimension_from_params(request.GET)
    except ValidationError as exc:
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), status=400, content_type="text/plain"
        )
    rows: list[list[Any]]
    if table == "summary":
        s = selectors.summary(filters)
        header = ["from", "to", *TOTALS_HEADER, *PCT_HEADER]
        rows = [
            [
                filters.start.isoformat(),
                filters.end.isoformat(),
                *_totals_cells(s.totals),
                *_pct_cells(s.percentiles, s.percentiles_method),
            ]
        ]
    elif table == "timeseries":
        ts = selectors.timeseries(filters, interval=interval)
        header = [interval, *TOTALS_HEADER, *PCT_HEADER]
        rows = [
            [p.bucket.isoformat(), *_totals_cells(p.totals), *_pct_cells(p.percentiles, ts.percentiles_method)]
            for p in ts.points
        ]
    elif table == "breakdown":
        b = selectors.breakdown(filters, by=by)
        key_header = ["provider", "model"] if by == "model" else [by]
        header = [*key_header, "label", *TOTALS_HEADER, *PCT_HEADER]
        rows = [
            [
                *(list(r.key) if isinstance(r.key, tuple) else [r.key]),
                r.label,
                *_totals_cells(r.totals),
                *_pct_cells(r.percentiles, b.percentiles_method),
            ]
            for r in b.rows
        ]
    elif table == "versions":
        usage = selectors.prompt_version_usage(filters, prompt=prompt)
        header = ["version", *TOTALS_HEADER, *PCT_HEADER]
        rows = [[r.label, *_totals_cells(r.totals), *_pct_cells(r.percentiles, r.percentiles_method)] for r in usage]
    else:
        return HttpResponse(BAD_TABLE, status=400, content_type="text/plain")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    suffix = f"-{by}" if table == "breakdown" else ""
    response["Content-Disposition"] = (
        f'attachment; filename="analytics-{table}{suffix}-{filters.start}-{filters.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return response


# --- budget -----------------------------------------------------------------------------------
class BudgetForm(forms.Form):
    monthly_limit = forms.CharField(
        label="Monthly budget (USD)",
        max_length=20,
        help_text="Alerts go to owners and admins at 50, 80 and 100 % of it, once each per month.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "250"}),
    )
    hard_stop = forms.BooleanField(
        label="Hard stop: refuse new playground, API and A/B test calls once the budget is spent",
        required=False,
    )


def _budget_context(request: HttpRequest, membership: Membership, form: BudgetForm | None = None) -> dict[str, Any]:
    status = selectors.budget_status(workspace_id=membership.workspace_id)
    if form is None:
        initial = {"monthly_limit": status.budget.monthly_limit, "hard_stop": status.budget.hard_stop} if status else {}
        form = BudgetForm(initial=initial)
    month = selectors.month_start(today())
    return {
        "workspace": membership.workspace,
        "status": status,
        "form": form,
        "can_admin": membership.has_role(Role.ADMIN),
        "alerts": selectors.budget_alert_list(workspace_id=membership.workspace_id, month=month),
        "month": month,
    }


@require_http_methods(["GET", "POST"])
@login_required
def budget(request: HtmxHttpRequest) -> HttpResponse:
    membership = _membership(request)
    if request.method == "GET":
        return render(request, "analytics/budget.html", _budget_context(request, membership))
    require_role(membership, Role.ADMIN)
    form = BudgetForm(request.POST)
    if form.is_valid():
        try:
            saved = services.budget_set(
                workspace=membership.workspace,
                user=request.user,
                monthly_limit=form.cleaned_data["monthly_limit"],
                hard_stop=form.cleaned_data["hard_stop"],
            )
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, BUDGET_SAVED.format(limit=f"{saved.monthly_limit:,.2f}"))
            return redirect("analytics:budget")
    return render(request, "analytics/budget.html", _budget_context(request, membership, form), status=400)


@require_POST
@login_required
def budget_remove(request: HtmxHttpRequest) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, Role.ADMIN)
    services.budget_delete(workspace=membership.workspace)
    messages.success(request, BUDGET_REMOVED)
    return redirect("analytics:budget")


@require_GET
@login_required
def budget_indicator(request: HtmxHttpRequest) -> HttpResponse:
    """The top bar's month-to-date spend vs budget (loaded after the page, so pages pay no queries)."""
    if not request.htmx:
        return redirect("analytics:budget")
    membership = current_membership(request)
    status = selectors.budget_status(workspace_id=membership.workspace_id) if membership else None
    alert = None
    if status is not None:
        alerts = selectors.budget_alert_list(workspace_id=membership.workspace_id, month=status.month_start)  # type: ignore[union-attr]
        alert = alerts[-1] if alerts else None
    return render(request, "analytics/budget_indicator.html", {"status": status, "alert": alert})
