"""Parts on forked processes: results in order, the same as one after the other, whatever
happens to a child."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import model.processes as processes
from model.processes import on_processes
from tests.conftest import deliveries, seconds_to_interrupt

pytestmark = pytest.mark.skipif(not processes.can_fork(), reason="forks on Linux only")


def _no_children_left():
    """No child of this process is running, nor ended unreaped."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_results_come_in_order_from_more_than_one_process():
    def work(k):
        time.sleep(0.02)
        return k, os.getpid(), np.full(3, float(k))

    done = on_processes(work, [(k,) for k in range(12)], 3)
    assert [k for k, _, _ in done] == list(range(12))
    assert all((a == k).all() for k, _, a in done)
    assert len({pid for _, pid, _ in done}) > 1  # in more than one process
    assert _no_children_left()


def test_the_first_failure_in_order_is_raised():
    parent = os.getpid()

    def work(k):
        if k in (3, 5):
            time.sleep(0.05 if k == 3 else 0.0)  # the later part fails first
            raise ValueError(f"part {k} in {'the run' if os.getpid() == parent else 'a child'}")
        return k

    with pytest.raises(ValueError, match="part 3 in the run"):  # done again here
        on_processes(work, [(k,) for k in range(8)], 2)
    assert _no_children_left()


@pytest.mark.parametrize("case", ["fails", "killed", "unpicklable", "no_process", "thread"])
def test_what_a_child_does_not_deliver_is_done_here(case, monkeypatch, tmp_path):
    """A part failing only in a child, a child killed outright, a result that cannot be
    pickled, no process to be had, a call from another thread: every part is done, once in
    the results, in order."""
    parent = os.getpid()

    def work(k):
        time.sleep(0.01)
        if os.getpid() != parent and k >= 2:
            (tmp_path / f"child took {k}").write_text("")
            if case == "fails":
                raise RuntimeError("only in a child")
            if case == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            if case == "unpicklable":
                return threading.Lock()  # pickle fails on it
        return k, os.getpid()

    if case == "no_process":
        def no_process():
            raise BlockingIOError(11, "Resource temporarily unavailable")
        monkeypatch.setattr(os, "fork", no_process)
    parts = [(k,) for k in range(10)]
    if case == "thread":
        box = []
        worker = threading.Thread(target=lambda: box.append(on_processes(work, parts, 2)))
        worker.start()
        worker.join()
        done = box[0]
    else:
        done = on_processes(work, parts, 2)
    assert [k for k, _ in done] == list(range(10))
    pids = {pid for k, pid in done if k >= 2}
    assert pids == {parent}  # the parts from 2 on: here
    if case in ("fails", "killed", "unpicklable"):
        assert list(tmp_path.glob("child took *"))  # a child did take one
    assert _no_children_left()


def test_ctrl_c_kills_the_children():
    def work(k):
        time.sleep(10)
        return k

    assert seconds_to_interrupt(lambda: on_processes(work, [(k,) for k in range(4)], 2),
                                0.5) < 5.0
    assert _no_children_left()


def test_ctrl_c_while_forking_still_ends_every_child(monkeypatch):
    """Ctrl-C arriving right after a fork (on any thread of the run): the interrupt is raised
    once the child is known, and the child is ended."""
    fork = processes._fork

    def interrupted(*args):
        child = fork(*args)  # the child never returns from it
        os.kill(os.getpid(), signal.SIGINT)
        begin = time.monotonic()
        while time.monotonic() - begin < 0.3:  # time for the other thread to take it
            pass
        return child

    monkeypatch.setattr(processes, "_fork", interrupted)
    stop = threading.Event()  # a thread that takes the signal while the main one holds it
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            on_processes(lambda k: time.sleep(0.05), [(k,) for k in range(40)], 2)
    finally:
        stop.set()
        other.join()
    assert _no_children_left()


def test_many_parts_fill_a_larger_pipe(monkeypatch):
    """More part numbers than a pipe holds by default (16,384): the pipe is enlarged, or the
    parts go to threads where it cannot be (a system or user limit)."""
    enlarged = []
    task_pipe = processes._task_pipe
    monkeypatch.setattr(processes, "_task_pipe",
                        lambda n: (fd := task_pipe(n), enlarged.append(fd))[0])
    done = on_processes(lambda k: (2 * k, os.getpid()), [(k,) for k in range(20000)], 2)
    assert [v for v, _ in done] == [2 * k for k in range(20000)]
    if enlarged:  # on processes: a child took parts
        assert len({pid for _, pid in done}) > 1
    assert _no_children_left()


def test_searched_sweep_draws_on_processes_equal_them_one_after_another(tmp_path, monkeypatch):
    """A sweep's draws of an optimal tariff and of quotas, solved by two processes: the
    same numbers, bit for bit, as the same draws solved one after another."""
    import model.sweep.runner as runner
    from model.study import prepare
    from model.sweep import parse_sweep
    from tests.conftest import EXAMPLE, write_scenario
    from tests.test_instruments_files import swept_instruments

    study = prepare(write_scenario(tmp_path, swept_instruments(16, 4), data=str(EXAMPLE)))
    spec = parse_sweep(study.file.sweep, study.file.path, study.benchmark)
    point, scales = runner.chunk_cases(spec, 0, spec.n_draws)
    delivered = deliveries(monkeypatch)  # parts each child sent back
    searched = 0
    for prepared in study.scenarios:
        if prepared.search is None and prepared.policy.quotas is None:
            continue
        searched += 1
        static, _ = runner.prepare_scenario(spec, study.benchmark, prepared.policy,
                                            study.file.solver, search=prepared.search)
        with monkeypatch.context() as two:  # two processes on any machine
            two.setattr(runner, "on_processes", lambda work, parts: on_processes(work, parts, 2))
            on_two = runner.solve_chunk(static, point, scales)
        with monkeypatch.context() as serial:
            serial.setattr(runner, "on_processes",
                           lambda work, parts: [work(*args) for args in parts])
            one_by_one = runner.solve_chunk(static, point, scales)
        assert (on_two["status"] == 0).all()
        for key in on_two:
            np.testing.assert_array_equal(on_two[key], one_by_one[key], err_msg=key)
    assert searched == 3 and len(delivered) == searched  # two with quotas, an optimal tariff
    assert sum(delivered) > 0  # the children solved draws
    assert _no_children_left()


def test_a_policy_sent_back_by_a_child_stays_read_only():
    import pickle

    from calibration.calibrate import calibrate
    from calibration.synthetic import random_dataset
    from model.core.policy import make_policy

    policy = make_policy(calibrate(random_dataset(2, 3, seed=0)))
    for protocol in (4, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps(policy, protocol=protocol))
        assert np.array_equal(back.t1, policy.t1) and back.nested == policy.nested
        arrays = [v for v in vars(back).values() if isinstance(v, np.ndarray)]
        assert len(arrays) == 7 and not any(a.flags.writeable for a in arrays)


def test_loaded_is_false_where_a_kernel_is_neither_loaded_nor_in_the_cache(monkeypatch):
    """Then a study is solved on threads (the solves compile what they need once, in the
    run); so too with numba's JIT off (plain functions, no kernels to load)."""
    from model import compiling

    compiled = []

    class Kernel:  # a dispatcher compiled for no types yet
        signatures = []

        def compile(self, types):
            compiled.append(types)

    monkeypatch.setattr(compiling, "_LOADED", set())
    monkeypatch.setattr(compiling, "signatures", lambda bm, settings: {
        name: (Kernel(), ()) for name in compiling.STUDY})
    monkeypatch.setattr(compiling, "compiled", lambda function=None: False)
    assert compiling.loaded(None, None) is False and compiled == []
    monkeypatch.setattr(compiling, "compiled", lambda function=None: True)  # in the cache
    assert compiling.loaded(None, None) is True and len(compiled) == len(compiling.STUDY)
    assert compiling._LOADED == set(compiling.STUDY)

    def plain(bm, settings):
        raise AttributeError("'function' object has no attribute 'py_func'")  # JIT off

    monkeypatch.setattr(compiling, "_LOADED", set())
    monkeypatch.setattr(compiling, "signatures", plain)
    assert compiling.loaded(None, None) is False
