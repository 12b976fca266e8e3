from typer.testing import CliRunner

from bayespatial.cli import app
from bayespatial.experiments import REGISTRY


def test_list_names_every_experiment():
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0
    for name in REGISTRY:
        assert name in result.output


def test_run_rejects_unknown_experiment():
    result = CliRunner().invoke(app, ["run", "no_such_study"])
    assert result.exit_code != 0
