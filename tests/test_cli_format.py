"""What the CLI shows: defaults in --help, one-seed tables, the t-SNE legends, a light import path (issue 15)."""

import subprocess
import sys

import click
import numpy as np
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from otmix.cli import app
from otmix.cli._common import scores_table
from otmix.cli.supervised import SUPERVISED_EPOCHS
from otmix.configs import clustering_config
from otmix.jobs.benchmark import markdown
from otmix.report.document import ReportInputs, markdown_report


def _payload(n_seeds):
    block = {"mean": 0.5, "std": 0.0 if n_seeds == 1 else 0.125}
    scores = {k: block for k in ("acc", "purity", "nmi", "ari")}
    return {"dataset": "toy", "aligned": False, "seeds": list(range(n_seeds)), "metrics": scores,
            "per_view": [{"view": 0, "name": "a", **scores}], "metrics_by_readout": {"kmeans": scores}}


def _render(table):
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_one_seed_prints_the_value_alone_and_never_1_seeds():
    text = _render(scores_table(_payload(1)))
    assert "0.500" in text and "±" not in text
    assert "1 seed;" in text and "1 seeds" not in text and "mean ± std" not in text
    text = _render(scores_table(_payload(3)))
    assert "0.500 ± 0.125" in text and "3 seeds, mean ± std" in text


def test_benchmark_and_report_tables_follow_the_same_rule():
    row = {"dataset": "toy", "setting": "unaligned", "method": "otm", "n_seeds": 1, "paper_purity": None,
           "seconds": {"mean": 1.0, "std": 0.0}, "per_view_mean": {"nmi": {"mean": 0.25, "std": 0.0}},
           **{k: {"mean": 0.5, "std": 0.0} for k in ("acc", "purity", "nmi", "ari")}}
    text = markdown({"toy|unaligned|otm": row}, ["toy"], ["unaligned"], ["otm"])
    assert "**0.500**" in text and "±" not in text
    inputs = ReportInputs(root=__import__("pathlib").Path("."), clustering=[("run.json", _payload(1))])
    report = markdown_report(inputs)
    assert "(unaligned, 1 seed)" in report and "±" not in report


def _options(command: click.Command):
    return [p for p in command.params if isinstance(p, click.Option) and p.name != "help"]


EXACTLY_ONE = {"dataset", "data"}  # `give exactly one of --dataset or --data`: neither has a default


def test_help_shows_the_default_of_every_option():
    group = typer.main.get_command(app)
    commands = {name: group.commands[name] for name in ("cluster", "supervised", "demo", "tune", "report")}
    commands["bench clustering"] = group.commands["bench"].commands["clustering"]
    for name, command in commands.items():
        for option in _options(command):
            if option.required or (option.name in EXACTLY_ONE and name in ("cluster", "tune")):
                continue
            shown = isinstance(option.show_default, str) or (option.default is not None and option.show_default)
            assert shown, f"otmix {name} {option.opts[0]} shows no default"


def test_the_shown_defaults_are_the_ones_used():
    cluster = typer.main.get_command(app).commands["cluster"]
    shown = {option.opts[0]: option.show_default for option in _options(cluster)}
    defaults = clustering_config()
    for option, value in (("--epochs", defaults["epochs"]), ("--mix", defaults["mix"]),
                          ("--readout", defaults["readout"]), ("--w-otm", f"{defaults['w_otm']:g}")):
        assert shown[option] == f"{value}, from the data set's config"
    help_text = CliRunner().invoke(app, ["cluster", "--help"], env={"COLUMNS": "200"}).output
    assert f"[default: ({defaults['epochs']}, from the data set's config)]" in help_text
    from otmix.train.supervised import SupervisedConfig

    assert SUPERVISED_EPOCHS == SupervisedConfig().epochs


def test_tsne_colour_is_the_class_and_marker_the_view_with_a_legend_each():
    pytest.importorskip("matplotlib")
    from otmix.report.figures import class_colours, fused_tsne_figure

    rng = np.random.default_rng(0)
    labels = [np.arange(40) % 3, np.arange(30) % 3]
    codes = [rng.normal(size=(40, 4)) + labels[0][:, None] * 4, rng.normal(size=(30, 4)) + labels[1][:, None] * 4]
    fig = fused_tsne_figure(codes, labels, max_points=70)
    ax = fig.axes[0]
    legends = [a for a in ax.get_children() if type(a).__name__ == "Legend"]
    titles = sorted(legend.get_title().get_text() for legend in legends)
    assert titles == ["colour: class", "marker: view"]
    by_title = {legend.get_title().get_text(): legend for legend in legends}
    views = by_title["marker: view"].legend_handles
    assert [h.get_label() for h in views] == ["view 0", "view 1"]
    assert len({h.get_marker() for h in views}) == 2 and len({h.get_color() for h in views}) == 1  # shape, one colour
    classes = by_title["colour: class"].legend_handles
    assert [h.get_label() for h in classes] == ["0", "1", "2"]
    palette = class_colours(3)
    for handle, colour in zip(classes, palette):
        np.testing.assert_allclose(np.asarray(__import__("matplotlib").colors.to_rgba(handle.get_color())), colour)
    # every point is drawn in its class's colour, whatever its view
    for collection in ax.collections:
        colours = {tuple(np.round(c[:3], 6)) for c in collection.get_facecolors()}
        assert colours <= {tuple(np.round(c[:3], 6)) for c in palette}
    assert len(ax.collections) == 2


HEAVY = ("torch", "ot", "sklearn", "otmix.ot", "flwr", "optuna", "matplotlib", "numba", "scipy")


@pytest.mark.parametrize("argv", [["--help"], ["cluster", "--help"], ["bench", "clustering", "--help"]])
def test_help_imports_none_of_the_heavy_libraries(argv):
    code = (f"import sys\nfrom otmix.cli import app\ntry:\n    app({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
