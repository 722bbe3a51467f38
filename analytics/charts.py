"""Geometry of the dashboard's SVG charts; the templates draw them.

Drawn by hand rather than with a chart library: bars and lines need a few lines of
arithmetic, and SVG rendered on the server is readable without JavaScript and loads
nothing from anywhere (a JS chart library would need both).
"""

from dataclasses import dataclass, field

PALETTE = ("#2b6cb0", "#2f855a", "#c05621", "#6b46c1", "#b83280")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as people read it (12.5%, $0.42, 380 ms)
    x: float
    y: float
    width: float
    height: float
    series: str = ""
    color: str = PALETTE[0]

    @property
    def text_x(self) -> float:
        return self.x + self.width + 4

    @property
    def text_y(self) -> float:
        return self.y + self.height * 0.72

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, text
    max_value: float = 0.0
    empty: bool = False

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def horizontal_bars(
    title: str,
    rows: list[tuple[str, float, str]],
    *,
    series: str = "",
    max_value: float | None = None,
    width: int = 720,
    label_width: int = 260,
    bar_height: int = 18,
    gap: int = 6,
) -> Chart:
    """One bar per (label, value, text), longest = `max_value` (default the largest)."""
    top = max_value if max_value is not None else max((v for _, v, _ in rows), default=0)
    room = width - label_width - 90
    chart = Chart(title, width, max(1, len(rows)) * (bar_height + gap) + gap, max_value=top)
    chart.empty = not rows
    for index, (label, value, text) in enumerate(rows):
        y = gap + index * (bar_height + gap)
        length = room * value / top if top else 0
        chart.bars.append(
            Bar(label, value, text, label_width, y, max(length, 0.5), bar_height, series)
        )
        chart.labels.append((label_width - 6, y + bar_height * 0.72, label))
    return chart


def columns(
    title: str,
    rows: list[tuple[str, float, str]],
    *,
    series: str = "",
    width: int = 720,
    height: int = 220,
    color: str = PALETTE[0],
) -> Chart:
    """One column per (day label, value, text), oldest first."""
    top = max((v for _, v, _ in rows), default=0)
    plot_h = height - 50
    chart = Chart(title, width, height, max_value=top, empty=not rows)
    step = (width - 60) / max(1, len(rows))
    for index, (label, value, text) in enumerate(rows):
        h = plot_h * value / top if top else 0
        x = 50 + index * step
        chart.bars.append(
            Bar(
                label,
                value,
                text,
                x,
                24 + plot_h - h,
                max(step * 0.7, 1),
                max(h, 0.5),
                series,
                color,
            )
        )
    _day_axis(chart, [r[0] for r in rows], lambda i: 50 + i * step + step * 0.35, height)
    return chart


def lines(
    title: str,
    days: list[str],
    series: dict[str, list[float]],
    *,
    width: int = 720,
    height: int = 240,
) -> Chart:
    """One line per series over the same days."""
    top = max((v for values in series.values() for v in values), default=0)
    plot_h = height - 40
    chart = Chart(title, width, height, max_value=top, empty=not days)
    # Room on the right for each line's name and latest value.
    step = (width - 150) / max(1, len(days) - 1)
    for (name, values), color in zip(series.items(), PALETTE, strict=False):
        points = [
            Point(
                day,
                value,
                f"{value:g}",
                50 + index * step,
                10 + plot_h - (plot_h * value / top if top else 0),
            )
            for index, (day, value) in enumerate(zip(days, values, strict=True))
        ]
        chart.lines.append(Line(name, color, points))
    _day_axis(chart, days, lambda i: 50 + i * step, height)
    return chart


def _day_axis(chart: Chart, days: list[str], x_of, height: int) -> None:
    """About eight day labels along the bottom, so they never overlap."""
    every = max(1, len(days) // 8)
    for index, day in enumerate(days):
        if index % every == 0 or index == len(days) - 1:
            chart.labels.append((x_of(index), height - 8, day[5:]))
