"""minires sweep --ray: the same sweep through a real local Ray cluster gives the same table.

Ray is the cluster extra (``python -m pip install -e ".[cluster]"``); without it these
tests are skipped. The cluster is started here, in this process, with 2 CPUs and no
dashboard, and the sweep command uses that connection (as a script that called
ray.init would), then it is shut down.
"""

import os
import shutil
import tempfile

import pytest

from minires.cli import main
from minires.sweep.ray_runner import sweep_key
from test_sweep import TINY, assert_same_results, last_records, log_of, run_sweep, write_config

ray = pytest.importorskip("ray", reason="needs Ray: python -m pip install -e \".[cluster]\"")
pytestmark = pytest.mark.ray

SWEEP = f"""\
name = "through-ray"
[base]
{TINY}epochs = 2
depth = 8
[grid]
model = ["plain", "residual"]
seed = [0, 1]
[resources]
cpus = 1
gpus = 0
"""


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def ray_out(tmp_path):
    """The Ray sweep's folder; the nodes' folders of its trials (checkpoints) are removed after."""
    out = tmp_path / "ray"
    yield out
    shutil.rmtree(os.path.join(tempfile.gettempdir(), "minires-sweeps", sweep_key(out)), ignore_errors=True)


def test_a_sweep_through_ray_equals_the_local_sweep(tmp_path, local_ray, ray_out, capsys):
    config = write_config(tmp_path, SWEEP)
    local = run_sweep(config, tmp_path / "local")
    assert local.returncode == 0, local.stdout + local.stderr

    out = ray_out
    assert main(["sweep", str(config), "--out", str(out), "--ray", "auto", "--no-progress"]) == 0
    assert "sweep through-ray: 4 done, 0 failed, 0 skipped" in capsys.readouterr().out
    assert_same_results(out, tmp_path / "local")           # bit for bit, on the CPU
    assert ray.is_initialized()                            # the caller's connection is left open

    for trial in last_records(out):                        # an ordinary run folder, without the checkpoint
        names = set(os.listdir(out / "trials" / trial))
        assert {"config.json", "metrics.jsonl", "curves.png", ".minires-run"} <= names
        assert "checkpoint.npz" not in names
        assert "through Ray; its checkpoint stays there" in log_of(out, trial)

    assert main(["sweep", str(config), "--out", str(out), "--ray", "auto", "--no-progress"]) == 0
    assert "0 done, 0 failed, 4 skipped (done before)" in capsys.readouterr().out
