"""Pages for datasets and A/B tests: lists, dataset rows and imports, the test builder, live progress,
results with drill-down, and the blind review pages.

Views are thin: selectors and ``abtests.results`` read, services write, ``studio.permissions`` decides
access (404 for another workspace, 403 for a role too low). An HTMX request aimed at a page's fragment
(``HX-Target`` names it) gets that named partial; every URL opened directly renders the whole page.

The review pages never put a variant's name (or anything that identifies the variant, such as a trial
id) in the page: the pair shown is kept in the session under a random token that the form posts back.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh, reswap, retarget
from django_htmx.middleware import HtmxDetails

from abtests import results as results_module
from abtests import selectors, services
from abtests.datasets import DatasetError, limit
from abtests.forms import (
    COLUMN_TYPE_LABELS,
    EVALUATOR_TYPES,
    BuilderState,
    DatasetForm,
    ImportForm,
    cell_text,
    columns_from_post,
    row_values_from_post,
)
from abtests.models import (
    MAX_VARIANTS,
    MEDIA_COLUMN_TYPES,
    ABTest,
    Dataset,
    DatasetRow,
    Review,
    TestStatus,
    Trial,
)
from abtests.services import TestError
from accounts.models import Membership, Role, User
from studio.permissions import current_membership, require_role

PAGE_SIZE = 25
ROWS_PAGE_SIZE = 50
DRILL_PAGE_SIZE = 10
MAX_SEARCH_LENGTH = 100
PENDING_KEY = "abtests_pending_imports"
PAIRS_KEY = "abtests_review_items"

NO_WORKSPACE = "Join or create a workspace to use datasets and A/B tests."
DATASET_CREATED = "Created the dataset “{name}”."
DATASET_SAVED = "Saved “{name}”."
DATASET_DELETED = "Deleted the dataset “{name}” and its {count} row{plural}."
DATASET_IMPORTED = "Imported {count} row{plural} into “{name}”."
ROW_ADDED = "Added row {number}."
ROW_SAVED = "Saved row {number}."
ROW_DELETED = "Deleted row {number}."
CHOOSE_FILE = "Choose a file to import."
PREVIEW_EXPIRED = "The preview has expired; choose the file again."
TEST_SAVED = "Saved the draft “{name}”. Check the estimate, then start it."
TEST_STARTED = "Started “{name}”: {cells} calls."
TEST_CANCELLED = "Cancelling “{name}”: no new calls start; calls in flight finish."
TEST_DELETED = "Deleted the test “{name}”."
TEST_FINISHED = "“{name}” finished: {status}."
REVIEW_SAVED = "Saved. Here is the next one."
REVIEW_GONE = "That item was already answered or has expired; here is a fresh one."
BAD_CHOICE = "Choose A better, B better, or Tie."
BAD_RATING = "Choose a rating from 1 to 5."


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


# --- helpers -----------------------------------------------------------------------------------------


def _fragment(request: HtmxHttpRequest, target: str) -> bool:
    """An HTMX request that swaps the element ``target`` (not boosted navigation or a history restore)."""
    return (
        bool(request.htmx)
        and request.htmx.target == target
        and not request.htmx.boosted
        and not request.htmx.history_restore_request
    )


def _toast(response: HttpResponse, message: str, level: str = "success") -> HttpResponse:
    triggers: dict[str, Any] = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
    triggers["toast"] = {"message": message, "level": level}
    response["HX-Trigger"] = json.dumps(triggers)
    return response


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """After a write: a full navigation to ``url`` (messages show there as toasts)."""
    if request.htmx and not request.htmx.boosted:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _current(request: HtmxHttpRequest) -> Membership | None:
    return current_membership(request)


def _editor_membership(request: HtmxHttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404(NO_WORKSPACE)
    require_role(membership, Role.EDITOR)
    return membership


def _can_edit(request: HtmxHttpRequest, workspace_id: int, role: str = Role.EDITOR) -> bool:
    from studio.permissions import memberships_for

    membership = memberships_for(request.user).get(workspace_id)
    return bool(membership and membership.has_role(role))


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


# --- media cells -------------------------------------------------------------------------------------


def _asset_map(workspace_id: int, values_list: list[dict[str, Any]], columns: list[dict[str, str]]) -> dict[str, Any]:
    """The assets that media cells of these rows name, in one query."""
    from prompts.models import Asset

    ids: set[str] = set()
    for values in values_list:
        for column in columns:
            if column["type"] in MEDIA_COLUMN_TYPES:
                value = values.get(column["name"])
                if isinstance(value, dict) and value.get("asset"):
                    ids.add(str(value["asset"]))
    valid = []
    for i in ids:
        try:
            valid.append(uuid.UUID(i))
        except ValueError:
            continue
    if not valid:
        return {}
    return {str(a.pk): a for a in Asset.objects.filter(workspace_id=workspace_id, pk__in=valid)}


def _cells(values: dict[str, Any], columns: list[dict[str, str]], assets: dict[str, Any]) -> list[dict[str, Any]]:
    cells = []
    for column in columns:
        value = values.get(column["name"])
        cell: dict[str, Any] = {
            "name": column["name"],
            "type": column["type"],
            "value": value,
            "empty": value in (None, ""),
        }
        if column["type"] in MEDIA_COLUMN_TYPES and isinstance(value, dict):
            cell["asset"] = assets.get(str(value.get("asset"))) if value.get("asset") else None
            cell["url"] = value.get("url", "")
            cell["asset_id"] = value.get("asset", "")
        elif column["type"] == "json" and value is not None:
            cell["text"] = json.dumps(value, ensure_ascii=False)
        elif value is not None:
            cell["text"] = cell_text(column["type"], value)
        cells.append(cell)
    return cells


# =====================================================================================================
# Datasets
# =====================================================================================================


@require_GET
@login_required
def dataset_list(request: HtmxHttpRequest) -> HttpResponse:
    membership = _current(request)
    q = request.GET.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    context: dict[str, Any] = {"current": membership, "q": q}
    if membership is not None:
        datasets = selectors.dataset_list(user=request.user, workspace_id=membership.workspace_id, search=q)
        page = Paginator(datasets, PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            page=page,
            datasets=list(page.object_list),
            can_edit=membership.has_role(Role.EDITOR),
        )
    template = "abtests/datasets.html"
    if _fragment(request, "dataset-results"):
        template += "#results"
    return render(request, template, context)


def _columns_context(columns: list[dict[str, str]], spare: int = 2) -> dict[str, Any]:
    return {
        "columns": columns + [{"name": "", "type": "text"} for _ in range(spare)],
        "column_types": COLUMN_TYPE_LABELS,
    }


@require_http_methods(["GET", "POST"])
@login_required
def dataset_new(request: HtmxHttpRequest) -> HttpResponse:
    membership = _editor_membership(request)
    form = DatasetForm(request.POST or None)
    columns = columns_from_post(request.POST) if request.method == "POST" else [{"name": "input", "type": "text"}]
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            dataset = services.dataset_create(
                workspace=membership.workspace,
                user=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                columns=columns,
            )
        except DatasetError as exc:
            field_name = next(iter(exc.error_dict)) if hasattr(exc, "error_dict") else ""
            if field_name == "name":
                form.add_error("name", exc.text)
            else:
                error = exc.text
        else:
            messages.success(request, DATASET_CREATED.format(name=dataset.name))
            return _go(request, reverse("abtests:dataset-detail", args=[dataset.pk]))
    context = {"form": form, "error": error, "workspace": membership.workspace, **_columns_context(columns)}
    template = "abtests/dataset_form.html"
    if _fragment(request, "dataset-form"):
        template += "#form"
    status = 400 if request.method == "POST" else 200
    return render(request, template, context, status=status)


def _dataset_for(request: HtmxHttpRequest, dataset_id: int, min_role: str = Role.VIEWER) -> Dataset:
    return selectors.dataset_get(user=request.user, pk=dataset_id, min_role=min_role)


def _row_view(row: DatasetRow, dataset: Dataset, assets: dict[str, Any], number: int | None = None) -> dict[str, Any]:
    return {
        "row": row,
        "number": (row.index + 1) if number is None else number,
        "cells": _cells(row.values, dataset.columns, assets),
    }


def _edit_fields(dataset: Dataset, raw: dict[str, str], errors: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "name": c["name"],
            "type": c["type"],
            "value": raw.get(c["name"], ""),
            "error": errors.get(c["name"], ""),
            "media": c["type"] in MEDIA_COLUMN_TYPES,
        }
        for c in dataset.columns
    ]


@require_GET
@login_required
def dataset_detail(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset_for(request, dataset_id)
    page = Paginator(selectors.dataset_rows(dataset=dataset), ROWS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    assets = _asset_map(dataset.workspace_id, [r.values for r in rows], dataset.columns)
    context = {
        "dataset": dataset,
        "page": page,
        "rows": [_row_view(r, dataset, assets) for r in rows],
        "can_edit": _can_edit(request, dataset.workspace_id),
        "can_delete": _can_edit(request, dataset.workspace_id, Role.ADMIN),
        "add_fields": _edit_fields(dataset, {}, {}),
        "tests_using": dataset.abtests.count(),
        "column_types": COLUMN_TYPE_LABELS,
    }
    template = "abtests/dataset_detail.html"
    if _fragment(request, "dataset-rows"):
        template += "#rows"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def dataset_edit(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset_for(request, dataset_id, Role.EDITOR)
    initial = {"name": dataset.name, "description": dataset.description}
    form = DatasetForm(request.POST or None, initial=initial)
    columns = columns_from_post(request.POST) if request.method == "POST" else list(dataset.columns)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            services.dataset_update(
                dataset=dataset,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                columns=columns,
            )
        except DatasetError as exc:
            field_name = next(iter(exc.error_dict)) if hasattr(exc, "error_dict") else ""
            if field_name == "name":
                form.add_error("name", exc.text)
            else:
                error = exc.text
        else:
            messages.success(request, DATASET_SAVED.format(name=dataset.name))
            return _go(request, reverse("abtests:dataset-detail", args=[dataset.pk]))
    context = {
        "form": form,
        "error": error,
        "dataset": dataset,
        "workspace": dataset.workspace,
        **_columns_context(columns, spare=1),
    }
    template = "abtests/dataset_form.html"
    if _fragment(request, "dataset-form"):
        template += "#form"
    return render(request, template, context, status=400 if request.method == "POST" else 200)


@require_POST
@login_required
def dataset_delete(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset_for(request, dataset_id, Role.ADMIN)  # as DELETE /api/datasets/<id>/
    name, count = dataset.name, dataset.row_count  # type: ignore[attr-defined]
    services.dataset_delete(dataset=dataset)
    messages.success(request, DATASET_DELETED.format(name=name, count=count, plural=_plural(count)))
    return _go(request, reverse("abtests:datasets"))


@require_POST
@login_required
def row_add(request: HtmxHttpRequest, dataset_id: int) -> HttpResponse:
    dataset = _dataset_for(request, dataset_id, Role.EDITOR)
    values, errors, raw = row_values_from_post(request.POST, dataset.columns)
    general = ""
    row = None
    if not errors:
        try:
            row = services.dataset_row_add(dataset=dataset, values=values)
        except DatasetError as exc:
            general = _place_cell_error(exc.text, dataset, errors)
    if row is None:
        context = {"dataset": dataset, "add_fields": _edit_fields(dataset, raw, errors), "add_error": general}
        if request.htmx:
            response = render(request, "abtests/dataset_detail.html#add-row", context, status=400)
            return reswap(retarget(response, "#add-row"), "outerHTML")
        messages.error(
            request, general or "The row was not added: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        )
        return redirect("abtests:dataset-detail", dataset.pk)
    number = row.index + 1
    if not request.htmx:
        messages.success(request, ROW_ADDED.format(number=number))
        return redirect(reverse("abtests:dataset-detail", args=[dataset.pk]) + "?page=last")
    assets = _asset_map(dataset.workspace_id, [row.values], dataset.columns)
    context = {
        "dataset": dataset,
        "r": _row_view(row, dataset, assets),
        "can_edit": True,
        "add_fields": _edit_fields(dataset, {}, {}),
        "oob_add": True,
    }
    response = render(request, "abtests/dataset_detail.html#row-added", context)
    return _toast(response, ROW_ADDED.format(number=number))


def _place_cell_error(text: str, dataset: Dataset, errors: dict[str, str]) -> str:
    """``column photo: unknown asset`` goes next to that column's input; anything else is general."""
    for column in dataset.column_names:
        prefix = f"column {column}: "
        if prefix in text:
            errors[column] = text.split(prefix, 1)[1]
            return ""
    return text


def _row_for(request: HtmxHttpRequest, dataset_id: int, row_id: int, min_role: str) -> tuple[Dataset, DatasetRow]:
    dataset = _dataset_for(request, dataset_id, min_role)
    return dataset, selectors.dataset_row_get(dataset=dataset, pk=row_id)


@require_GET
@login_required
def row_show(request: HtmxHttpRequest, dataset_id: int, row_id: int) -> HttpResponse:
    dataset, row = _row_for(request, dataset_id, row_id, Role.VIEWER)
    if not _fragment(request, f"row-{row.pk}"):
        return redirect(
            reverse("abtests:dataset-detail", args=[dataset.pk]) + f"?page={row.index // ROWS_PAGE_SIZE + 1}"
        )
    assets = _asset_map(dataset.workspace_id, [row.values], dataset.columns)
    context = {
        "dataset": dataset,
        "r": _row_view(row, dataset, assets),
        "can_edit": _can_edit(request, dataset.workspace_id),
    }
    return render(request, "abtests/dataset_detail.html#row", context)


@require_http_methods(["GET", "POST"])
@login_required
def row_edit(request: HtmxHttpRequest, dataset_id: int, row_id: int) -> HttpResponse:
    dataset, row = _row_for(request, dataset_id, row_id, Role.EDITOR)
    errors: dict[str, str] = {}
    general = ""
    if request.method == "POST":
        values, errors, raw = row_values_from_post(request.POST, dataset.columns)
        if not errors:
            try:
                row = services.dataset_row_update(row=row, values=values)
            except DatasetError as exc:
                general = _place_cell_error(exc.text, dataset, errors)
            else:
                if not request.htmx:
                    messages.success(request, ROW_SAVED.format(number=row.index + 1))
                    return redirect(
                        reverse("abtests:dataset-detail", args=[dataset.pk])
                        + f"?page={row.index // ROWS_PAGE_SIZE + 1}"
                    )
                assets = _asset_map(dataset.workspace_id, [row.values], dataset.columns)
                context = {"dataset": dataset, "r": _row_view(row, dataset, assets), "can_edit": True}
                response = render(request, "abtests/dataset_detail.html#row", context)
                return _toast(response, ROW_SAVED.format(number=row.index + 1))
    else:
        raw = {c["name"]: cell_text(c["type"], row.values.get(c["name"])) for c in dataset.columns}
    context = {
        "dataset": dataset,
        "row": row,
        "number": row.index + 1,
        "fields": _edit_fields(dataset, raw, errors),
        "row_error": general,
    }
    status = 400 if request.method == "POST" else 200
    if request.htmx and not request.htmx.boosted:
        return render(request, "abtests/dataset_detail.html#row-edit", context, status=status)
    return render(request, "abtests/row_form.html", context, status=status)


@require_POST
@login_required
def row_delete(request: HtmxHttpRequest, dataset_id: int, row_id: int) -> HttpResponse:
    dataset, row = _row_for(request, dataset_id, row_id, Role.EDITOR)
    number = row.index + 1
    services.dataset_row_delete(row=row)
    if request.htmx and not request.htmx.boosted:
        return _toast(HttpResponse(""), ROW_DELETED.format(number=number))
    messages.success(request, ROW_DELETED.format(number=number))
    return redirect("abtests:dataset-detail", dataset.pk)


# --- import ------------------------------------------------------------------------------------------


def _store_pending(request: HtmxHttpRequest, name: str, data: bytes, workspace_id: int, fields: dict[str, str]) -> str:
    token = uuid.uuid4().hex
    path = default_storage.save(f"abtests/pending/{token}.upload", ContentFile(data))
    pending = request.session.get(PENDING_KEY, {})
    for old in list(pending)[:-4]:  # keep the last few previews only
        default_storage.delete(pending.pop(old)["path"])
    pending[token] = {"path": path, "name": name, "workspace": workspace_id, **fields}
    request.session[PENDING_KEY] = pending
    return token


def _pending(request: HtmxHttpRequest, token: str, workspace_id: int) -> dict[str, Any] | None:
    entry = request.session.get(PENDING_KEY, {}).get(token) if isinstance(token, str) else None
    if not entry or entry.get("workspace") != workspace_id or not default_storage.exists(entry["path"]):
        return None
    return dict(entry)


def _drop_pending(request: HtmxHttpRequest, token: str) -> None:
    pending = request.session.get(PENDING_KEY, {})
    entry = pending.pop(token, None)
    request.session[PENDING_KEY] = pending
    if entry:
        default_storage.delete(entry["path"])


def _preview_context(result: Any, assets: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": result.format,
        "columns": result.columns,
        "row_count": result.row_count,
        "rows": [_cells(values, result.columns, assets) for values in result.preview],
        "files": result.files,
        "more": max(0, result.row_count - len(result.preview)),
    }


@require_http_methods(["GET", "POST"])
@login_required
def dataset_import(request: HtmxHttpRequest) -> HttpResponse:
    membership = _editor_membership(request)
    action = request.POST.get("action", "preview") if request.method == "POST" else ""
    form = ImportForm(request.POST or None, request.FILES or None) if action != "confirm" else ImportForm()
    context: dict[str, Any] = {
        "form": form,
        "workspace": membership.workspace,
        "error": "",
        "preview": None,
        "token": "",
        "column_types": COLUMN_TYPE_LABELS,
        "max_size": limit("DATASET_IMPORT_MAX_BYTES") // (1024 * 1024),
    }
    if action == "confirm":
        token = request.POST.get("token", "")
        entry = _pending(request, token, membership.workspace_id)
        if entry is None:
            context["error"] = PREVIEW_EXPIRED
        else:
            columns = {
                key[len("type-") :]: value
                for key, value in request.POST.items()
                if key.startswith("type-") and value in COLUMN_TYPE_LABELS
            }
            with default_storage.open(entry["path"], "rb") as handle:
                data = handle.read()
            try:
                result = services.dataset_import(
                    workspace=membership.workspace,
                    user=request.user,
                    name=request.POST.get("name") or entry["dataset_name"],
                    description=entry.get("description", ""),
                    upload=SimpleUploadedFile(entry["name"], data),
                    columns=columns or None,
                )
            except DatasetError as exc:
                context["error"] = exc.text
                try:  # show the preview again (with the types as chosen) so nothing is lost
                    again = services.dataset_import(
                        workspace=membership.workspace,
                        user=request.user,
                        name=entry["dataset_name"],
                        upload=SimpleUploadedFile(entry["name"], data),
                        dry_run=True,
                    )
                    for column in again.columns:
                        column["type"] = columns.get(column["name"], column["type"])
                    context.update(preview=_preview_context(again, {}), token=token, file_name=entry["name"])
                    context["dataset_name"] = request.POST.get("name") or entry["dataset_name"]
                except DatasetError:
                    pass
            else:
                _drop_pending(request, token)
                dataset = result.dataset
                messages.success(
                    request,
                    DATASET_IMPORTED.format(
                        count=result.row_count, plural=_plural(result.row_count), name=dataset.name
                    ),
                )
                return _go(request, reverse("abtests:dataset-detail", args=[dataset.pk]))
    elif action == "preview":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            maximum = limit("DATASET_IMPORT_MAX_BYTES")
            data = upload.read(maximum + 1)
            name = form.cleaned_data["name"] or upload.name.rsplit(".", 1)[0]
            try:
                result = services.dataset_import(
                    workspace=membership.workspace,
                    user=request.user,
                    name=name,
                    upload=SimpleUploadedFile(upload.name, data),
                    dry_run=True,
                )
                services.check_name_free(workspace_id=membership.workspace_id, name=" ".join(name.split()))
            except DatasetError as exc:
                if hasattr(exc, "error_dict") and "name" in exc.error_dict:
                    form.add_error("name", exc.text)
                else:
                    context["error"] = exc.text
            else:
                assets = _asset_map(membership.workspace_id, result.preview, result.columns)
                context["preview"] = _preview_context(result, assets)
                context["file_name"] = upload.name
                context["dataset_name"] = " ".join(name.split())
                context["token"] = _store_pending(
                    request,
                    upload.name,
                    data,
                    membership.workspace_id,
                    {"dataset_name": " ".join(name.split()), "description": form.cleaned_data["description"]},
                )
        elif "file" in form.errors and not request.FILES:
            form.errors["file"] = form.error_class([CHOOSE_FILE])
    template = "abtests/dataset_import.html"
    if _fragment(request, "import-panel"):
        template += "#panel"
    failed = request.method == "POST" and (context["error"] or form.errors)
    return render(request, template, context, status=400 if failed else 200)


# =====================================================================================================
# A/B tests
# =====================================================================================================

STATUS_FILTERS = {
    "": "Any status",
    "draft": "Draft",
    "active": "Running",
    "completed": "Completed",
    "stopped": "Stopped or failed",
}


def _status_badge(status: str) -> str:
    return {
        TestStatus.DRAFT: "draft",
        TestStatus.QUEUED: "queued",
        TestStatus.RUNNING: "running",
        TestStatus.CANCELLING: "running",
        TestStatus.COMPLETED: "ok",
        TestStatus.CANCELLED: "cancelled",
        TestStatus.FAILED: "failed",
        TestStatus.STOPPED_COST_CAP: "cancelled",
        TestStatus.STOPPED_BUDGET: "cancelled",
    }.get(status, "draft")


@require_GET
@login_required
def test_list(request: HtmxHttpRequest) -> HttpResponse:
    membership = _current(request)
    q = request.GET.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    status = request.GET.get("status", "")
    status = status if status in STATUS_FILTERS else ""
    context: dict[str, Any] = {"current": membership, "q": q, "status": status, "status_filters": STATUS_FILTERS}
    if membership is not None:
        tests = selectors.abtest_list(user=request.user, workspace_id=membership.workspace_id, search=q)
        if status == "active":
            tests = tests.filter(status__in=(TestStatus.QUEUED, TestStatus.RUNNING, TestStatus.CANCELLING))
        elif status == "stopped":
            tests = tests.filter(
                status__in=(
                    TestStatus.CANCELLED,
                    TestStatus.FAILED,
                    TestStatus.STOPPED_COST_CAP,
                    TestStatus.STOPPED_BUDGET,
                )
            )
        elif status:
            tests = tests.filter(status=status)
        page = Paginator(tests, PAGE_SIZE).get_page(request.GET.get("page"))
        items = list(page.object_list)
        verdicts = selectors.abtest_verdicts(tests=items)
        context.update(
            page=page,
            tests=[
                {
                    "test": t,
                    "badge": _status_badge(t.status),
                    "percent": round(t.finished_cells / t.total_cells * 100) if t.total_cells else 0,
                    "verdict": verdicts.get(t.pk),
                }
                for t in items
            ],
            can_edit=membership.has_role(Role.EDITOR),
            filtered=bool(q or status),
        )
    template = "abtests/test_list.html"
    if _fragment(request, "test-results"):
        template += "#results"
    return render(request, template, context)


def _test_for(request: HtmxHttpRequest, test_id: int, min_role: str = Role.VIEWER) -> ABTest:
    return selectors.abtest_get(user=request.user, pk=test_id, min_role=min_role)


def _builder_context(request: HtmxHttpRequest, workspace_id: int, state: BuilderState) -> dict[str, Any]:
    from prompts.models import Label, Prompt, PromptVersion
    from providers.models import Provider
    from providers.selectors import model_list

    prompts = list(Prompt.objects.filter(workspace_id=workspace_id).active().order_by("name", "id"))
    versions: dict[int, list[Any]] = {}
    for version in (
        PromptVersion.objects.filter(prompt__in=prompts)
        .order_by("prompt_id", "-number")
        .only("id", "prompt_id", "number")
    ):
        versions.setdefault(version.prompt_id, []).append(version)
    labels: dict[int, list[Any]] = {}
    for label in Label.objects.filter(prompt__in=prompts).select_related("version").order_by("prompt_id", "name"):
        labels.setdefault(label.prompt_id, []).append(label)
    sources = [
        {
            "prompt": p,
            "labels": [
                (f"label:{p.pk}:{lab.name}", f"{p.name} · {lab.name} (now v{lab.version.number})")
                for lab in labels.get(p.pk, [])
            ],
            "versions": [
                (f"version:{v.pk}", f"{p.name} · v{v.number}{' (latest)' if i == 0 else ''}")
                for i, v in enumerate(versions.get(p.pk, []))
            ],
        }
        for p in prompts
        if versions.get(p.pk)
    ]
    provider_labels = dict(Provider.choices)
    targets: dict[str, list[tuple[str, str]]] = {}
    for info in model_list(workspace_id=workspace_id):
        targets.setdefault(provider_labels.get(info.provider, info.provider), []).append(
            (f"{info.provider}|{info.model_id}", info.display_name or info.model_id)
        )
    datasets = list(selectors.dataset_list(user=request.user, workspace_id=workspace_id))
    rows = next((d.row_count for d in datasets if str(d.pk) == state.dataset), None)  # type: ignore[attr-defined]
    try:
        reps = max(1, int(state.repetitions))
    except ValueError:
        reps = 1
    return {
        "state": state,
        "sources": sources,
        "targets": targets,
        "datasets": datasets,
        "evaluator_types": EVALUATOR_TYPES,
        "max_variants": MAX_VARIANTS,
        "calls": len(state.variants) * rows * reps if rows is not None else None,
        "rows": rows,
    }


def _builder(request: HtmxHttpRequest, membership: Membership, test: ABTest | None) -> HttpResponse:
    if request.method == "POST":
        state = BuilderState.from_post(request.POST)
        action = request.POST.get("action", "save")
        if action.startswith("add-evaluator"):
            action = "add-evaluator:" + request.POST.get("new_evaluator", "")
        if action != "save":
            state.apply(action)
        else:
            cleaned = state.clean()
            if cleaned is not None:
                try:
                    if test is None:
                        test = services.abtest_create(workspace=membership.workspace, user=request.user, **cleaned)
                    else:
                        services.abtest_update(test=test, **cleaned)
                except TestError as exc:
                    field_name = next(iter(exc.error_dict)) if hasattr(exc, "error_dict") else ""
                    state.place_error(field_name, exc.text)
                else:
                    messages.success(request, TEST_SAVED.format(name=test.name))
                    return _go(request, reverse("abtests:detail", args=[test.pk]))
    elif test is not None:
        state = BuilderState.from_test(test, list(selectors.variant_list(test=test)))
    else:
        state = BuilderState(dataset=request.GET.get("dataset", ""))
        state.evaluators = []
    context = {
        **_builder_context(request, membership.workspace_id, state),
        "test": test,
        "workspace": membership.workspace,
    }
    template = "abtests/test_form.html"
    if _fragment(request, "builder"):
        template += "#builder"
    status = 400 if request.method == "POST" and state.has_errors else 200
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def test_new(request: HtmxHttpRequest) -> HttpResponse:
    membership = _editor_membership(request)
    return _builder(request, membership, None)


@require_http_methods(["GET", "POST"])
@login_required
def test_edit(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    test = _test_for(request, test_id, Role.EDITOR)
    if not test.is_draft:
        messages.info(request, services.TEST_NOT_DRAFT.format(status=test.get_status_display().lower()))
        return _go(request, reverse("abtests:detail", args=[test.pk]))
    from studio.permissions import memberships_for

    return _builder(request, memberships_for(request.user)[test.workspace_id], test)


def _progress_context(test: ABTest) -> dict[str, Any]:
    progress = results_module.test_progress(test)
    return {"test": test, "progress": progress, "badge": _status_badge(test.status)}


@require_GET
@login_required
def test_detail(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    test = _test_for(request, test_id)
    variants = list(selectors.variant_list(test=test))
    context: dict[str, Any] = {
        **_progress_context(test),
        "variants": variants,
        "can_edit": _can_edit(request, test.workspace_id),
        "evaluators": [
            {"config": e, "label": (EVALUATOR_TYPES.get(e.get("type")) or {}).get("label", e.get("type"))}
            for e in test.evaluators
        ],
        "tab": "overview",
        "has_human": any(e.get("type") == "human" for e in test.evaluators),
    }
    if test.is_draft:
        context["estimate"] = services.abtest_estimate(test=test)
    return render(request, "abtests/test_detail.html", context)


@require_GET
@login_required
def test_progress(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    """The live progress card (polled every 2 s while the test runs); a full page when opened directly."""
    if not _fragment(request, "test-progress"):
        return test_detail(request, test_id)
    test = _test_for(request, test_id)
    if test.is_finished and request.GET.get("was") == "active":
        # The run just ended: reload the page so its header, actions and tabs match the final state.
        messages.info(request, TEST_FINISHED.format(name=test.name, status=test.get_status_display().lower()))
        return HttpResponseClientRefresh()
    context = {**_progress_context(test), "can_edit": _can_edit(request, test.workspace_id)}
    return render(request, "abtests/test_detail.html#progress", context)


@require_POST
@login_required
def test_start(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    test = _test_for(request, test_id, Role.EDITOR)
    try:
        test = services.abtest_start(test=test, user=request.user)
    except TestError as exc:
        messages.error(request, exc.text)
    else:
        messages.success(request, TEST_STARTED.format(name=test.name, cells=test.total_cells))
    return _go(request, reverse("abtests:detail", args=[test.pk]))


@require_POST
@login_required
def test_cancel(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    test = _test_for(request, test_id, Role.EDITOR)
    try:
        test = services.abtest_cancel(test=test)
    except TestError as exc:
        messages.error(request, exc.text)
    else:
        messages.success(request, TEST_CANCELLED.format(name=test.name))
    return _go(request, reverse("abtests:detail", args=[test.pk]))


@require_POST
@login_required
def test_delete(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    test = _test_for(request, test_id, Role.EDITOR)
    name = test.name
    try:
        services.abtest_delete(test=test)
    except TestError as exc:
        messages.error(request, exc.text)
        return _go(request, reverse("abtests:detail", args=[test.pk]))
    messages.success(request, TEST_DELETED.format(name=name))
    return _go(request, reverse("abtests:list"))


@require_GET
@login_required
def test_results(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    test = _test_for(request, test_id)
    data = results_module.test_results(test)
    comparison = data["comparison"] or {}
    by_name = {c["name"]: c for c in comparison.get("variants", [])}
    rows = []
    for summary in data["variants"]:
        rate = summary["pass_rate"]
        bar = None
        if summary["n"] and rate["low"] is not None and rate["high"] is not None:
            bar = {
                "x": f"{rate['low'] * 100:.2f}",
                "w": f"{max(0.5, (rate['high'] - rate['low']) * 100):.2f}",
                "est": f"{min(98.5, rate['estimate'] * 100):.2f}",
            }
        rows.append(
            {
                **summary,
                "is_control": summary["name"] == data["control"],
                "compare": by_name.get(summary["name"]),
                "bar": bar,
            }
        )
    context = {
        **_progress_context(test),
        "results": data,
        "rows": rows,
        "comparison": comparison,
        "tab": "results",
        "can_edit": _can_edit(request, test.workspace_id),
        "has_human": any(e.get("type") == "human" for e in test.evaluators),
        "csv_url": _csv_url(test),
    }
    return render(request, "abtests/test_results.html", context)


def _csv_url(test: ABTest) -> str:
    try:
        base = reverse("exports:download")
    except Exception:  # exports not installed
        return ""
    return f"{base}?type=test&id={test.pk}&format=csv"


@require_GET
@login_required
def test_trials(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    """Per-row drill-down: the inputs and every variant's outputs side by side, failures first."""
    test = _test_for(request, test_id)
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_number = 1
    failures_first = request.GET.get("order") != "row"
    data = results_module.row_drilldown(
        test, failures_first=failures_first, offset=(page_number - 1) * DRILL_PAGE_SIZE, limit=DRILL_PAGE_SIZE
    )
    columns = data["columns"]
    assets = _asset_map(test.workspace_id, [r["inputs"] for r in data["rows"]], columns)
    rows = [{**r, "cells": _cells(r["inputs"], columns, assets)} for r in data["rows"]]
    total_rows = data["total_rows"]
    pages = max(1, -(-total_rows // DRILL_PAGE_SIZE))
    context = {
        **_progress_context(test),
        "rows": rows,
        "variants": list(selectors.variant_list(test=test)),
        "page_number": page_number,
        "pages": pages,
        "total_rows": total_rows,
        "failures_first": failures_first,
        "tab": "rows",
        "can_edit": _can_edit(request, test.workspace_id),
        "has_human": any(e.get("type") == "human" for e in test.evaluators),
    }
    template = "abtests/test_trials.html"
    if _fragment(request, "drilldown"):
        template += "#drilldown"
    return render(request, template, context)


# --- blind reviews -----------------------------------------------------------------------------------


def _remember(request: HtmxHttpRequest, item: dict[str, Any]) -> str:
    token = secrets.token_urlsafe(12)
    items = request.session.get(PAIRS_KEY, {})
    for old in list(items)[:-19]:
        items.pop(old)
    items[token] = item
    request.session[PAIRS_KEY] = items
    return token


def _recall(request: HtmxHttpRequest, token: str, test_id: int, kind: str) -> dict[str, Any] | None:
    items = request.session.get(PAIRS_KEY, {})
    item = items.pop(token, None) if isinstance(token, str) else None
    request.session[PAIRS_KEY] = items
    if not item or item.get("test") != test_id or item.get("kind") != kind:
        return None
    return dict(item)


def _review_inputs(test: ABTest, row_index: int) -> list[dict[str, Any]]:
    values = test.snapshot.row_values(row_index) if test.snapshot else {}
    columns = test.snapshot.columns if test.snapshot else []
    return _cells(values, columns, _asset_map(test.workspace_id, [values], columns))


def _review_test(request: HtmxHttpRequest, test_id: int) -> ABTest:
    return _test_for(request, test_id, Role.EDITOR)


@require_http_methods(["GET", "POST"])
@login_required
def review_pairwise(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    """Two outputs for the same row, variant names hidden and sides randomised; A better / B better / tie."""
    test = _review_test(request, test_id)
    error = ""
    if request.method == "POST":
        item = _recall(request, request.POST.get("item", ""), test.pk, "pair")
        choice = request.POST.get("choice", "")
        if item is None:
            messages.info(request, REVIEW_GONE)
        elif choice not in ("a", "b", "tie"):
            error = BAD_CHOICE
            request.POST = request.POST.copy()
            item_token = _remember(request, item)
            return _render_pair(request, test, item, item_token, error)
        else:
            try:
                services.review_create(
                    test=test,
                    reviewer=request.user,
                    trial_a=item["left"],
                    trial_b=item["right"],
                    choice=choice,
                    sides={"left": item["left"], "right": item["right"]},
                )
            except TestError as exc:
                messages.error(request, exc.text)
            else:
                messages.success(request, REVIEW_SAVED)
        return _go(request, reverse("abtests:review-pairwise", args=[test.pk]))
    pair = selectors.review_next_pair(test=test, reviewer=request.user, rng=random.SystemRandom())
    if pair is None:
        return _render_pair(request, test, None, "", error)
    left, right = pair
    item = {"test": test.pk, "kind": "pair", "left": left.pk, "right": right.pk}
    return _render_pair(request, test, item, _remember(request, item), error, left=left, right=right)


def _render_pair(
    request: HtmxHttpRequest,
    test: ABTest,
    item: dict[str, Any] | None,
    token: str,
    error: str,
    *,
    left: Trial | None = None,
    right: Trial | None = None,
) -> HttpResponse:
    if item is not None and (left is None or right is None):
        found = {t.pk: t for t in Trial.objects.filter(test=test, pk__in=[item["left"], item["right"]])}
        left, right = found.get(item["left"]), found.get(item["right"])
    done = Review.objects.filter(test=test, reviewer=request.user, trial_b__isnull=False).count()
    context = {
        "test": test,
        "badge": _status_badge(test.status),
        "token": token,
        "left": left,
        "right": right,
        "inputs": _review_inputs(test, left.row_index) if left else [],
        "row_number": left.row_index + 1 if left else None,
        "error": error,
        "done": done,
        "tab": "review",
        "mode": "pairwise",
        "can_edit": True,
    }
    return render(request, "abtests/review_pairwise.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
@login_required
def review_rating(request: HtmxHttpRequest, test_id: int) -> HttpResponse:
    """One output at a time (variant hidden), rated 1-5."""
    test = _review_test(request, test_id)
    if request.method == "POST":
        item = _recall(request, request.POST.get("item", ""), test.pk, "rating")
        rating = request.POST.get("rating", "")
        if item is None:
            messages.info(request, REVIEW_GONE)
        elif rating not in ("1", "2", "3", "4", "5"):
            token = _remember(request, item)
            return _render_rating(request, test, item, token, BAD_RATING)
        else:
            try:
                services.review_create(test=test, reviewer=request.user, trial_a=item["trial"], rating=int(rating))
            except TestError as exc:
                messages.error(request, exc.text)
            else:
                messages.success(request, REVIEW_SAVED)
        return _go(request, reverse("abtests:review-rating", args=[test.pk]))
    trial = selectors.review_next_rating(test=test, reviewer=request.user, rng=random.SystemRandom())
    if trial is None:
        return _render_rating(request, test, None, "", "")
    item = {"test": test.pk, "kind": "rating", "trial": trial.pk}
    return _render_rating(request, test, item, _remember(request, item), "", trial=trial)


def _render_rating(
    request: HtmxHttpRequest,
    test: ABTest,
    item: dict[str, Any] | None,
    token: str,
    error: str,
    *,
    trial: Trial | None = None,
) -> HttpResponse:
    if item is not None and trial is None:
        trial = Trial.objects.filter(test=test, pk=item["trial"]).first()
    done = Review.objects.filter(test=test, reviewer=request.user, rating__isnull=False).count()
    context = {
        "test": test,
        "badge": _status_badge(test.status),
        "token": token,
        "trial": trial,
        "inputs": _review_inputs(test, trial.row_index) if trial else [],
        "row_number": trial.row_index + 1 if trial else None,
        "error": error,
        "done": done,
        "tab": "review",
        "mode": "rating",
        "ratings": [1, 2, 3, 4, 5],
        "can_edit": True,
    }
    return render(request, "abtests/review_rating.html", context, status=400 if error else 200)
