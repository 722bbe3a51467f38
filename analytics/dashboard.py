"""The staff dashboard at <ADMIN_URL>dashboard/ and its CSV downloads (admin views: staff
only, with the admin's own sign-in and two-factor rules)."""

import csv
from dataclasses import dataclass
from datetime import date

from django import forms
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from analytics import charts, selectors
from analytics.models import RetentionCohort
from analytics.rollups import RETENTION_DAYS

MAX_DAYS = 400


class PeriodForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)
    last = forms.DateField(required=False, input_formats=["%Y-%m-%d"])


def _period(request: HttpRequest) -> selectors.Period:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return selectors.Period.ending(None, 30)
    return selectors.Period.ending(form.cleaned_data["last"], form.cleaned_data["days"] or 30)


@dataclass(frozen=True)
class RetentionCell:
    day: int
    retained: int | None
    share: float | None

    @property
    def shade(self) -> str:
        """Darker blue for a larger share, so the table reads like a heat map."""
        return f"rgba(43, 108, 176, {0.08 + 0.8 * (self.share or 0):.2f})"

    @property
    def percent(self) -> str:
        return f"{(self.share or 0) * 100:.1f}"

    @property
    def text_color(self) -> str:
        return "#fff" if (self.share or 0) > 0.5 else "#1a202c"


def _retention_rows(cohorts: list[RetentionCohort]) -> list[dict]:
    rows = []
    for cohort in cohorts:
        cells = []
        for n in RETENTION_DAYS:
            retained = getattr(cohort, f"d{n}")
            share = retained / cohort.size if retained is not None and cohort.size else None
            cells.append(RetentionCell(n, retained, share))
        rows.append({"cohort": cohort, "cells": cells})
    return rows


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _context(period: selectors.Period) -> dict:
    days = period.days()
    labels = [day.isoformat() for day in days]
    activity = selectors.activity(period)
    active = charts.lines(
        "Active users",
        labels,
        {
            name: [getattr(activity[d], field) if d in activity else 0 for d in days]
            for name, field in (("DAU", "dau"), ("WAU", "wau"), ("MAU", "mau"))
        },
    )
    new_users = charts.columns(
        "New users",
        [(label, a.new_users, str(a.new_users)) for label, a in _present(days, activity)],
        series="new_users",
        color=charts.PALETTE[1],
    )
    adoption_day, adoption = selectors.adoption(period)
    adoption_charts = [
        charts.horizontal_bars(
            f"Feature adoption, last {window} days",
            [
                (row.feature, row.share, f"{_pct(row.share)} ({row.users} of {row.active_users})")
                for row in adoption
                if row.window_days == window
            ],
            series=f"adoption_{window}",
            max_value=1.0,
        )
        for window in (7, 30)
    ]
    ai = selectors.ai_cost_per_day(period)
    ai_cost = charts.columns(
        "Estimated AI cost per day (USD)",
        [(label, float(v["cost"]), f"${v['cost']:.4f}") for label, v in _present(days, ai)],
        series="ai_cost",
        color=charts.PALETTE[2],
    )
    recognition = selectors.recognition(period)
    recognition_chart = charts.columns(
        "Photo recognition success rate",
        [
            (label, r.success_rate, f"{_pct(r.success_rate)} of {r.finished}")
            for label, r in _present(days, recognition)
            if r.success_rate is not None
        ],
        series="recognition",
        color=charts.PALETTE[3],
    )
    routes_day, routes = selectors.routes(period)
    p95 = charts.horizontal_bars(
        "p95 latency per route",
        [(f"{r.method} {r.route}", r.p95_ms, f"{r.p95_ms} ms") for r in routes],
        series="p95",
    )
    errors = charts.horizontal_bars(
        "Error rate (5xx) per route",
        [
            (f"{r.method} {r.route}", r.error_rate, f"{_pct(r.error_rate)} of {r.requests}")
            for r in routes
        ],
        series="error_rate",
        max_value=max([r.error_rate for r in routes] + [0.01]),
    )
    return {
        "period": period,
        "active": active,
        "new_users": new_users,
        "retention": _retention_rows(selectors.retention(period)),
        "retention_days": RETENTION_DAYS,
        "adoption_day": adoption_day,
        "adoption_charts": adoption_charts,
        "ai_cost": ai_cost,
        "ai_totals": ai,
        "recognition": recognition_chart,
        "routes_day": routes_day,
        "routes": routes,
        "p95": p95,
        "errors": errors,
        "csv_names": list(selectors.CSV_ROLLUPS),
    }


def _present(days: list[date], rows: dict) -> list[tuple[str, object]]:
    return [(day.isoformat(), rows[day]) for day in days if day in rows]


def dashboard(request: HttpRequest) -> TemplateResponse:
    period = _period(request)
    context = {
        **admin.site.each_context(request),
        "title": "Product dashboard",
        **_context(period),
    }
    return TemplateResponse(request, "admin/analytics/dashboard.html", context)


def rollup_csv(request: HttpRequest, name: str) -> HttpResponse:
    if name not in selectors.CSV_ROLLUPS:
        raise Http404("No such rollup.")
    period = _period(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{name}_{period.first.isoformat()}_{period.last.isoformat()}.csv"'
    )
    writer = csv.writer(response)
    for row in selectors.csv_rows(name, period):
        writer.writerow(row)
    return response
