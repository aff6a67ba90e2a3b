"""An ipywidgets browser of saved predictions: pick a run (and a second one to compare), a test set and a
filter (wrong at rank 1, a condition such as night or occluded, a city), then move through the queries."""
from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import numpy as np

from vpr_lib.analysis import as_text, correct_at, query_conditions
from vpr_lib.runs import Run
from vpr_lib.errors import VPRInputError
from vpr_lib.viz.grids import grid_image, png_bytes

ALL, WRONG = "all queries", "wrong at rank 1"
FILTER_COLUMNS = ("time_of_day", "city", "camera", "viewpoint", "occluders", "capture_year")
NONE = "(none)"


class PredictionBrowser:
    """`runs` = {label: run_id}; the widget is `.widget` (displayed by Jupyter when it is the cell's value)."""

    def __init__(self, runs: dict, data_root: Path, test_sets=("sf_xs/test", "tokyo_xs/test", "sf_xs/val"),
                 k: int = 5, size: int = 112):
        if not runs:
            raise VPRInputError("PredictionBrowser needs at least one run ({label: run_id}).")
        self.runs, self.data_root, self.k, self.size = dict(runs), Path(data_root), k, size
        self._cache: dict = {}
        labels = list(self.runs)
        self.run_a = widgets.Dropdown(options=labels, value=labels[0], description="run")
        self.run_b = widgets.Dropdown(options=[NONE] + labels, value=labels[1] if len(labels) > 1 else NONE,
                                      description="compare")
        self.test_set = widgets.Dropdown(options=list(test_sets), value=test_sets[0], description="test set")
        self.filter = widgets.Dropdown(options=[ALL], value=ALL, description="show")
        self.query = widgets.IntSlider(min=0, max=0, value=0, description="query", continuous_update=False)
        self.info = widgets.HTML()
        self.label_a, self.label_b = widgets.HTML(), widgets.HTML()
        self.image_a, self.image_b = widgets.Image(format="png"), widgets.Image(format="png")
        for control in (self.run_a, self.run_b, self.test_set):
            control.observe(self._on_source, "value")
        self.filter.observe(self._on_filter, "value")
        self.query.observe(lambda _: self.render(), "value")
        self.widget = widgets.VBox([widgets.HBox([self.run_a, self.run_b, self.test_set]),
                                    widgets.HBox([self.filter, self.query]), self.info,
                                    self.label_a, self.image_a, self.label_b, self.image_b])
        self._on_source()

    def _data(self, label: str) -> dict:
        key = (self.runs[label], self.test_set.value)
        if key not in self._cache:
            self._cache[key] = Run(key[0]).predictions(key[1])
        return self._cache[key]

    def _conditions(self):
        key = ("conditions", self.runs[self.run_a.value], self.test_set.value)
        if key not in self._cache:
            self._cache[key] = query_conditions(self._data(self.run_a.value), self.data_root)
        return self._cache[key]

    def filter_options(self) -> list[str]:
        table = self._conditions()
        options = [ALL, WRONG]
        for column in FILTER_COLUMNS:
            if column in table:
                options += [f"{column} = {v}" for v in sorted(set(as_text(table[column])))]
        return options

    def queries(self) -> np.ndarray:
        """Indices of the queries the filter keeps."""
        data = self._data(self.run_a.value)
        choice = self.filter.value
        if choice == ALL:
            return np.arange(len(data["queries_paths"]))
        if choice == WRONG:
            return np.flatnonzero(~correct_at(data, 1))
        column, value = choice.split(" = ", 1)
        return np.flatnonzero(as_text(self._conditions()[column]) == value)

    def _on_source(self, _=None):
        if self.run_b.value != NONE:
            a, b = self._data(self.run_a.value), self._data(self.run_b.value)
            if not np.array_equal(a["queries_paths"], b["queries_paths"]):
                raise VPRInputError(f"Runs {self.run_a.value!r} and {self.run_b.value!r} were evaluated on "
                                    f"different {self.test_set.value} sets; compare runs of the same data.")
        options = self.filter_options()
        keep = self.filter.value if self.filter.value in options else ALL
        with self.filter.hold_trait_notifications():
            self.filter.options = options
            self.filter.value = keep
        self._on_filter()

    def _on_filter(self, _=None):
        """A new selection starts at its first query."""
        with self.query.hold_trait_notifications():
            self.query.value = 0
            self.query.max = max(len(self.queries()) - 1, 0)
        self.render()

    def render(self) -> None:
        """Show the current query: top-k of run a (and of run b)."""
        chosen = self.queries()
        if not len(chosen):
            self.info.value = "<b>No query matches this filter.</b>"
            self.image_a.value = self.image_b.value = b""
            return
        index = int(chosen[self.query.value])
        data = self._data(self.run_a.value)
        conditions = self._conditions().iloc[index].to_dict()
        details = ", ".join(f"{k}: {v}" for k, v in conditions.items())
        self.info.value = (f"<b>query {index}</b> ({self.query.value + 1} of {len(chosen)} shown) "
                           f"<code>{data['queries_paths'][index]}</code><br>{details}")
        self._show(self.image_a, grid_image(data, index, self.data_root, self.k, self.size))
        self.label_a.value = self._label(self.run_a.value, data, index)
        if self.run_b.value == NONE:
            self.image_b.value, self.label_b.value = b"", ""
        else:
            other = self._data(self.run_b.value)
            self._show(self.image_b, grid_image(other, index, self.data_root, self.k, self.size))
            self.label_b.value = self._label(self.run_b.value, other, index)

    @staticmethod
    def _show(widget, image) -> None:
        widget.width = str(image.width)  # natural size, not stretched to the output's width
        widget.value = png_bytes(image)

    def _label(self, label: str, data: dict, index: int) -> str:
        ok = bool(correct_at(data, 1)[index])
        return f"<b>{label}</b> ({self.runs[label]}): {'correct' if ok else 'wrong'} at rank 1"
