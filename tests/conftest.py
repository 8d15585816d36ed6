import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example"


@pytest.fixture
def example_copy(tmp_path) -> Path:
    """A writable copy of the example dataset, to break on purpose."""
    target = tmp_path / "data"
    shutil.copytree(EXAMPLE, target)
    return target


#: a scenario of the example dataset: FOREIGN's tariff of 25 % on HOME's autos
AUTO_TARIFF = """
[scenarios.auto_tariff]
[[scenarios.auto_tariff.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
rate = 0.25
"""


def sigma_sweep(method: str = "monte_carlo", draws: int = 8, low: float = 0.8,
                high: float = 1.2) -> str:
    """A ``[sweep]`` table: ``draws`` draws (seed 1) of one uniform multiplier of every
    Armington elasticity, between ``low`` and ``high``."""
    return f"""
[sweep]
method = "{method}"
draws = {draws}
seed = 1
[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "uniform"
low = {low}
high = {high}
"""


def write_scenario(folder: Path, body: str, data: str = "data") -> Path:
    """A scenario file in ``folder`` pointing at the dataset folder ``data`` beside it."""
    path = folder / "scenario.toml"
    path.write_text(f'title = "test"\ndata = "{data}"\n' + body, encoding="utf-8")
    return path


def deliveries(monkeypatch) -> list:
    """The number of parts each forked child of :func:`model.processes.on_processes` sends
    back, appended to the list returned as they arrive."""
    import model.processes as processes

    delivered = []
    received = processes._received
    monkeypatch.setattr(processes, "_received",
                        lambda fd: (got := received(fd), delivered.append(len(got)))[0])
    return delivered


def seconds_to_interrupt(call, after: float) -> float:
    """Seconds ``call()`` ran until Ctrl-C (SIGINT), sent to the main thread by a timer after
    ``after`` seconds, stopped it with KeyboardInterrupt (which must be raised)."""
    main = threading.main_thread().ident
    begin = time.perf_counter()
    threading.Timer(after, lambda: signal.pthread_kill(main, signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        call()
    return time.perf_counter() - begin
