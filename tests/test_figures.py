"""Figures are looked at, not only written: each panel has a title and axis labels, no tick
labels overlap, legends and colour bars cover no panel, scenarios are described, values the
closure fixes are marked and employment is drawn where it moves."""

import itertools

import numpy as np
import pytest
import xarray as xr

from model.output.figures import (boxes, fixed_by_closure, headline_figure, headline_panels,
                                  optimal_tariff_figure, output_figure)
from model.sweep.report import sobol_figure, sweep_figure
from tests.conftest import ROOT

KIUCHI = ROOT / "results" / "kiuchi"


@pytest.fixture(scope="module")
def kiuchi():
    with xr.open_dataset(KIUCHI / "results.nc") as res:
        yield res.load()


@pytest.fixture(scope="module")
def kiuchi_sweep():
    with xr.open_dataset(KIUCHI / "sweep.nc") as sw:
        yield sw.load()


def drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def overlapping(boxes, slack=0.5):
    """Pairs of boxes that overlap by more than ``slack`` pixels each way."""
    out = []
    for (a, ta), (b, tb) in itertools.combinations(boxes, 2):
        if (min(a.x1, b.x1) - max(a.x0, b.x0) > slack
                and min(a.y1, b.y1) - max(a.y0, b.y0) > slack):
            out.append((ta, tb))
    return out


def check_figure(fig):
    """Every check of a readable figure; returns the panels (colour bars left out)."""
    renderer = drawn(fig)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert panels
    for ax in panels:
        assert ax.get_title(), "a panel without a title"
        siblings = ax.get_shared_x_axes().get_siblings(ax)
        assert any(s.get_xlabel() for s in siblings), f"{ax.get_title()}: no x label"
        siblings = ax.get_shared_y_axes().get_siblings(ax)
        assert any(s.get_ylabel() for s in siblings), f"{ax.get_title()}: no y label"
        for axis in (ax.xaxis, ax.yaxis):
            labels = [(t.get_window_extent(renderer), t.get_text())
                      for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            assert not overlapping(labels), f"{ax.get_title()}: tick labels overlap"
    for bar in bars:
        assert bar.get_ylabel() or bar.get_xlabel(), "a colour bar without a label"
    covered = [(ax.get_window_extent(renderer), ax.get_title()) for ax in panels + bars]
    for ax in panels:  # a title longer than its panel may run under a colour bar
        title = ax.title.get_window_extent(renderer)
        assert not [b for b in bars if overlapping([(title, "title"),
                                                    (b.get_window_extent(renderer), "bar")])], (
            f"{ax.get_title()}: a colour bar covers the title")
    for legend in fig.legends + [ax.get_legend() for ax in panels if ax.get_legend()]:
        box = legend.get_window_extent(renderer)
        hit = [t for b, t in covered if overlapping([(box, "legend"), (b, t)])]
        assert not hit, f"a legend covers {hit}"
    if fig._suptitle is not None:
        box = fig._suptitle.get_window_extent(renderer)
        assert not [t for b, t in covered if overlapping([(box, "title"), (b, t)])]
    return panels


def test_headline_figure_reads(kiuchi):
    fig = headline_figure(kiuchi)
    panels = check_figure(fig)
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels[0].startswith("april_2025\nUS measures of May 2025")
    assert len(labels) == kiuchi.sizes["scenario"]
    # the short-run scenarios move employment, so it is drawn; the real wage they fix is marked
    assert "employment_total" in headline_panels(kiuchi)
    assert [ax.get_title() for ax in panels][-1] == "employment (%)"
    fixed = fixed_by_closure(kiuchi, "real_wage")
    k = list(kiuchi.scenario.values).index("deal_2025_sr")
    assert fixed[k].all() and not fixed[0].any()
    assert np.abs(kiuchi.real_wage.values[fixed]).max() < 1e-8
    marks = [line for line in panels[1].lines if line.get_marker() == "x"]
    assert sum(len(m.get_xdata()) for m in marks) == fixed.sum()


def test_panels_beside_the_named_one_have_no_ticks_and_share_its_limits(kiuchi):
    """The headline panels after the first share the scenario axis with it but build no ticks
    of their own (:func:`~model.output.figures.unticked`); moving the first panel's limits
    moves theirs, and the first keeps a tick for each scenario."""
    fig = headline_figure(kiuchi)
    first, *rest = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    drawn(fig)
    assert rest and len(first.get_yticks()) == kiuchi.sizes["scenario"]
    for ax in rest:
        assert len(ax.get_yticks()) == 0 and len(ax.yaxis.get_minorticklocs()) == 0
        assert ax.yaxis.get_major_ticks() == [] or not any(
            t.get_visible() and t.label1.get_text() for t in ax.yaxis.get_major_ticks())
        assert ax.get_ylim() == first.get_ylim()
        assert len(ax.get_xticks()) > 0  # their own value axis keeps its ticks
    first.set_ylim(-5, 3)
    assert all(ax.get_ylim() == (-5, 3) for ax in rest)
    assert len(first.get_yticks()) > 0


def test_employment_is_left_out_where_no_closure_moves_it(kiuchi):
    full = kiuchi.sel(scenario=[s for s in kiuchi.scenario.values if not s.endswith("_sr")])
    assert "employment_total" not in headline_panels(full)
    check_figure(headline_figure(full))


def test_output_figure_reads(kiuchi):
    fig = output_figure(kiuchi)
    check_figure(fig)
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert "percent change" in bar.get_ylabel()
    # the scenarios named once, below the last panel: a column is one scenario in every panel
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    named = [[t.get_text() for t in ax.get_xticklabels() if t.get_visible()]
             for ax in panels]
    assert named[-1] == [str(s) for s in kiuchi.scenario.values]
    assert not any(any(names) for names in named[:-1])
    assert all(ax.get_xlim() == panels[-1].get_xlim() for ax in panels)
    # every finite cell labelled with its value; light text on dark cells, dark on light ones
    from matplotlib.colors import to_rgba

    limit = float(bar.get_ylim()[1])
    for k, ax in enumerate(ax for ax in fig.axes if ax.get_label() != "<colorbar>"):
        (labels,) = [c for c in ax.collections if hasattr(c, "labels")]
        data = kiuchi.output.values[:, k, :]
        assert len(labels.labels) == np.isfinite(data).sum()
        colours = labels.get_facecolors()
        for (s, j), text, colour in zip(labels.get_offsets(), labels.labels, colours):
            value = data[int(s), int(j)]
            assert text == f"{value:.1f}".replace("-0.0", "0.0")
            dark = abs(value) > 0.55 * limit
            assert tuple(colour) == to_rgba("white" if dark else "black")


def test_output_figure_of_a_few_scenarios_reads(kiuchi):
    """A narrow figure (a few scenarios, as the two-region teaching case's three): the titles
    stay clear of the colour bar."""
    for count in (1, 2, 3, 6):
        check_figure(output_figure(kiuchi.isel(scenario=list(range(count)))))


def test_optimal_tariff_figure_reads(kiuchi):
    check_figure(optimal_tariff_figure(kiuchi))


def test_sweep_figure_reads_and_marks_the_central_solution(kiuchi, kiuchi_sweep):
    fig = sweep_figure(kiuchi_sweep, kiuchi)
    panels = check_figure(fig)
    central = [line for line in panels[0].lines if line.get_marker() == "D"]
    assert len(central) == 1
    want = kiuchi.welfare.sel(scenario=list(kiuchi_sweep.scenario.values), region="JPN")
    np.testing.assert_allclose(central[0].get_xdata(), want.values)
    assert [t.get_text() for t in panels[0].get_yticklabels()] == list(
        kiuchi_sweep.scenario.values)


def test_boxes_draw_the_statistics_of_a_box_plot():
    from matplotlib.cbook import boxplot_stats
    from matplotlib.figure import Figure

    rng = np.random.default_rng(3)
    samples = [rng.normal(size=7), rng.normal(size=50), np.full(3, np.nan),
               np.r_[rng.lognormal(size=201), np.nan, np.inf], np.ones(4)]
    ax = Figure().subplots()
    boxes(ax, np.arange(len(samples)), samples, 0.6)
    polys, whiskers, medians = ax.collections
    drawn_ = [0, 1, 3, 4]  # the sample with no finite value draws nothing
    assert len(polys.get_paths()) == len(medians.get_segments()) == len(drawn_)
    assert len(whiskers.get_segments()) == 4 * len(drawn_)
    for k, s in enumerate(drawn_):
        st = boxplot_stats(samples[s][np.isfinite(samples[s])], whis=(5, 95))[0]
        box = polys.get_paths()[k].vertices
        assert box[0, 0] == st["q1"] and box[1, 0] == st["q3"]
        assert box[0, 1] == pytest.approx(s - 0.3) and box[2, 1] == pytest.approx(s + 0.3)
        assert medians.get_segments()[k][0, 0] == st["med"]
        low, high = whiskers.get_segments()[4 * k: 4 * k + 2]
        assert low[0, 0] == st["whislo"] and low[1, 0] == st["q1"]
        assert high[0, 0] == st["q3"] and high[1, 0] == st["whishi"]
    ends = np.concatenate(whiskers.get_segments())[:, 0]  # the axis shows every whisker
    assert ax.get_xlim()[0] <= ends.min() and ax.get_xlim()[1] >= ends.max()


def test_sobol_figure_reads(kiuchi_sweep):
    sw = kiuchi_sweep[["welfare"]].isel(scenario=[0, 1])
    rng = np.random.default_rng(0)
    shape = (2, 2, sw.sizes["region"])
    sw = sw.assign_coords(parameter=["sigma_goods", "sigma_services"])
    sw["welfare_S1"] = (("scenario", "parameter", "region"), rng.uniform(0, 0.5, shape))
    sw["welfare_ST"] = sw.welfare_S1 + 0.1
    sw.attrs = dict(kiuchi_sweep.attrs)
    fig = sobol_figure(sw)
    panels = check_figure(fig)
    bars = [p for p in panels[0].patches]
    assert len(bars) == 2 * 4  # S1 and ST for 2 scenarios x 2 parameters
    assert bars[0].get_width() == pytest.approx(float(sw.welfare_S1.values[0, 0, 0]))


def test_a_figure_with_overlapping_labels_fails_the_check():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.set_xticks(range(30), [f"scenario_{k}" for k in range(30)])
    ax.set_title("t")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    with pytest.raises(AssertionError, match="overlap"):
        check_figure(fig)


def test_a_legend_over_a_panel_fails_the_check():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.bar([0, 1], [1, 2], label="bars")
    ax.legend(loc="center")
    ax.set_title("t")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    with pytest.raises(AssertionError, match="legend covers"):
        check_figure(fig)


def test_figures_are_saved_whatever_layout_the_rc_settings_ask(kiuchi, tmp_path):
    """save() lays a figure out once and then drops its engine; a matplotlibrc asking for
    tight or constrained layout by default must not make it fail (a colour bar made under
    constrained layout refuses a switch to tight layout)."""
    import matplotlib

    from model.output.figures import save

    few = kiuchi.isel(scenario=[0, 1])
    for rc in ({"figure.autolayout": True}, {"figure.constrained_layout.use": True}):
        with matplotlib.rc_context(rc):
            fig = output_figure(few)
            save(fig, tmp_path / "output.png")
            assert fig.get_layout_engine() is None
            assert (tmp_path / "output.png").stat().st_size > 0


def test_an_infinite_value_does_not_collapse_its_panel(kiuchi):
    """A bar that is not finite is drawn at zero; the panel's scale stays that of the others."""
    few = kiuchi.isel(scenario=[0, 1]).copy(deep=True)
    few["welfare"][0, 0] = np.inf
    panel = headline_figure(few).axes[0]
    low, high = panel.get_xlim()
    finite = few.welfare.values[np.isfinite(few.welfare.values)]
    assert low <= finite.min() and high >= finite.max() and high - low < 100


@pytest.fixture(scope="module")
def small(kiuchi):
    """Two scenarios of the study: figures in a fraction of a second."""
    return kiuchi.isel(scenario=[0, 1])


def test_figures_drawn_in_a_child_are_the_figures_drawn_here(small, tmp_path, monkeypatch):
    """A Drawing's child writes the bytes write_figures writes; the run's own process draws
    nothing then."""
    import model.output.drawing as drawing
    from model.output.figures import write_figures

    here = write_figures(small, tmp_path / "here")
    calls = []
    monkeypatch.setattr(drawing, "write_figures",
                        lambda *a: calls.append(1) or write_figures(*a))
    job = drawing.Drawing(small, tmp_path / "child")
    job.start()
    assert job.pid is not None
    paths = job.paths()
    assert calls == []  # appended in the child only
    assert [p.name for p in paths] == [p.name for p in here]
    for a, b in zip(paths, here):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.parametrize("case", ["fails", "hangs", "interrupted", "reaped", "fork_fails",
                                  "no_fork", "not_started"])
def test_a_drawing_without_its_child_is_drawn_here(small, tmp_path, monkeypatch, case):
    """A child that fails, has not finished within the timeout (killed, its half-written file
    removed) or gets Ctrl-C (it ends at once); no process to be had, no fork: the figures are
    drawn in the run's own process, once.  A child that drew them and was reaped by another
    has said so: its figures are kept."""
    import os
    import signal
    import time

    import model.output.drawing as drawing
    from model.output.figures import write_figures

    parent, calls = os.getpid(), []

    def draw(result, folder):
        if os.getpid() != parent:  # the child
            if case == "reaped":
                return write_figures(result, folder)
            if case in ("hangs", "interrupted"):
                (folder / ".headline.png.half.tmp").write_bytes(b"")  # as atomic_path does
                time.sleep(60)
            raise RuntimeError("the child fails")
        calls.append(1)
        return write_figures(result, folder)

    monkeypatch.setattr(drawing, "write_figures", draw)
    monkeypatch.setattr(drawing, "TIMEOUT", 1.0 if case == "hangs" else 30.0)
    if case == "no_fork":
        monkeypatch.delattr(os, "fork")
    if case == "fork_fails":
        def no_process():
            raise BlockingIOError(11, "Resource temporarily unavailable")
        monkeypatch.setattr(os, "fork", no_process)
    from model.interrupts import deferred_interrupt

    job = drawing.Drawing(small, tmp_path)
    if case != "not_started":
        with deferred_interrupt():  # as in a run: the child still ends on Ctrl-C
            job.start()
    assert (job.pid is not None) == (case in ("fails", "hangs", "interrupted", "reaped"))
    begin = time.monotonic()
    if case == "interrupted":
        time.sleep(0.5)
        os.kill(job.pid, signal.SIGINT)
    if case == "reaped":
        os.waitpid(job.pid, 0)
    paths = job.paths()
    assert calls == ([] if case == "reaped" else [1]) and all(p.is_file() for p in paths)
    assert time.monotonic() - begin < 25  # never the 30 s timeout
    assert job.pid is None and not list(tmp_path.glob(".*.tmp"))


def test_a_drawing_child_writes_on_streams_of_its_own(small, tmp_path, monkeypatch):
    """The run's stream objects may hold a lock of a thread the child does not have (a
    notebook's output stream): a child that prints while drawing uses its own and finishes."""
    import os
    import sys
    import threading
    import warnings

    import model.output.drawing as drawing
    from model.output.figures import write_figures

    class Held:  # a stream whose lock its writer thread holds for good
        lock = threading.Lock()

        def write(self, text):
            with self.lock:
                return len(text)

        def flush(self):
            pass

    parent, calls = os.getpid(), []

    def draw(result, folder):
        if os.getpid() == parent:
            calls.append(1)
        else:
            warnings.warn("a warning while drawing")
            print("printed while drawing", file=sys.stderr)
        return write_figures(result, folder)

    monkeypatch.setattr(drawing, "write_figures", draw)
    monkeypatch.setattr(drawing, "TIMEOUT", 20.0)
    held = Held()
    held.lock.acquire()
    monkeypatch.setattr(sys, "stderr", held)
    try:
        job = drawing.Drawing(small, tmp_path)
        job.start()
        paths = job.paths()
    finally:
        monkeypatch.undo()
        held.lock.release()
    assert calls == [] and all(p.is_file() for p in paths)  # the child's, not redrawn


def test_a_drawing_ends_with_the_run(small, tmp_path):
    """A run that dies (killed, no clean-up of its own) takes its drawing child with it: no
    process left to write into a folder the next run cleans up."""
    import os
    import subprocess
    import sys
    import time

    small.to_netcdf(tmp_path / "small.nc")
    code = ("import os, sys, time, xarray as xr; import model.output.drawing as d; "
            "d.write_figures = lambda *a: time.sleep(60); "
            f"job = d.Drawing(xr.load_dataset({str(tmp_path / 'small.nc')!r}), "
            f"{str(tmp_path)!r}); job.start(); print(job.pid, flush=True); os._exit(0)")
    run = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                           cwd=ROOT)
    child = int(run.stdout.readline())  # not to the end: the child holds the pipe too
    assert run.wait(timeout=60) == 0
    run.stdout.close()

    def running(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child)


def test_stopping_a_drawing_ends_its_child(small, tmp_path, monkeypatch):
    """stop() kills a child still drawing and waits for it (before its folder is removed)."""
    import os
    import time

    import model.output.drawing as drawing

    monkeypatch.setattr(drawing, "write_figures", lambda *a: time.sleep(60))
    job = drawing.Drawing(small, tmp_path)
    job.start()
    pid = job.pid
    begin = time.monotonic()
    job.stop()
    assert time.monotonic() - begin < 5 and job.pid is None
    with pytest.raises(ChildProcessError):  # ended and reaped
        os.waitpid(pid, os.WNOHANG)
