"""Issue 31, items 5, 10, 11: run_all.sh's arguments, stores given relative to where it was typed, and stops whose
exit code follows the signal (130 INT, 143 TERM), with no traceback and no step left working after a kill -9.

Each test runs the real run_all.sh on a project of one tiny notebook (VPR_ROOT), with its stores in tmp_path."""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import tiny_notebook

ROOT = Path(__file__).resolve().parents[1]


def fake_project(tmp_path, source: str) -> Path:
    project = tmp_path / "project"
    tiny_notebook(project, "00_step", source)
    shutil.copytree(ROOT / "report" / "sections", project / "report" / "sections")  # what the report step reads
    shutil.copy(ROOT / "report" / "main.tex", project / "report")
    (project / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "seeds_reference.csv", project / "docs")
    return project


def _as_from_a_terminal():
    """In the child, before run_all.sh starts: INT and TERM as a terminal's shell leaves them (default, unblocked).
    A process started with a signal ignored cannot trap it (POSIX), and the test process's own disposition may
    have been changed by a library an earlier test ran in-process; the suite once hung here when run whole."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def start_run_all(tmp_path, project, *args, results="results", **extra_env):
    env = dict(os.environ, VPR_ROOT=str(project), VPR_RESULTS=results, VPR_DATA=str(tmp_path / "data"), **extra_env)
    return subprocess.Popen([str(ROOT / "run_all.sh"), "--profile", "smoke", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_from_a_terminal)


def runner_of(proc) -> int:
    """The pid of run_all.sh's notebook runner (its child `python -m vpr_lib.notebooks`)."""
    return int(subprocess.run(["pgrep", "-f", "-P", str(proc.pid), "vpr_lib.notebooks"], capture_output=True,
                              text=True).stdout.split()[0])


def communicate_or_show(proc, timeout=120):
    """proc.communicate, or on a timeout a failure that shows the process group (state, wait channel) and this
    process's own INT/TERM disposition, after killing the group."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        tree = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:20,args", "-g", str(proc.pid)], capture_output=True,
                              text=True).stdout
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"run_all.sh still running after {timeout} s; its group:\n{tree}\nthis process: INT "
                    f"{signal.getsignal(signal.SIGINT)}, TERM {signal.getsignal(signal.SIGTERM)}, blocked "
                    f"{signal.pthread_sigmask(signal.SIG_BLOCK, [])}")


def wait_for(path: Path, timeout=180) -> int:
    deadline = time.time() + timeout
    while not (path.is_file() and path.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    return int(path.read_text())


def gone(pid: int, timeout=30) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie (exited, not yet reaped by its new parent) is gone too
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.2)
    return False


def sleeping_project(tmp_path):
    pidfile = tmp_path / "kernel.pid"
    source = f"import os, time\nopen({str(pidfile)!r}, 'w').write(f'{{os.getpid()}}')\ntime.sleep(300)"
    return fake_project(tmp_path, source), pidfile


@pytest.mark.parametrize("signum,code,group", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_a_stop_exits_with_the_signals_code_without_a_traceback(tmp_path, signum, code, group):
    """Ctrl-C reaches the whole foreground group (killpg); `kill` reaches run_all.sh alone."""
    project, pidfile = sleeping_project(tmp_path)
    proc = start_run_all(tmp_path, project, results=str(tmp_path / "results"))
    kernel = wait_for(pidfile)
    (os.killpg if group else os.kill)(proc.pid, signum)
    out, err = communicate_or_show(proc)
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in out + err and "stopped" in err
    assert gone(kernel), "the notebook's kernel survived the stop"


def test_a_kill_9_of_run_all_leaves_no_step_working(tmp_path):
    project, pidfile = sleeping_project(tmp_path)
    proc = start_run_all(tmp_path, project, results=str(tmp_path / "results"))
    kernel = wait_for(pidfile)
    runner = runner_of(proc)
    proc.kill()
    proc.wait()
    assert gone(runner), "the notebook runner works on without run_all.sh"
    assert gone(kernel), "the kernel works on without run_all.sh"


def test_a_relative_results_store_is_relative_to_where_run_all_was_typed(tmp_path):
    """VPR_RESULTS=rel used to split: runs and tables under notebooks/rel, the executed copy elsewhere."""
    project = fake_project(tmp_path, "from vpr_lib.paths import results_dir\n"
                                     "(results_dir() / 'where.txt').write_text('here')")
    proc = start_run_all(tmp_path, project, results="rel")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert (tmp_path / "rel" / "executed" / "00_step.ipynb").is_file()
    assert (tmp_path / "rel" / "where.txt").is_file()
    assert not (project / "notebooks" / "rel").exists() and not (ROOT / "rel").exists()


@pytest.mark.parametrize("asked", [True, False])
def test_a_step_dies_with_its_parent_only_when_run_all_asks(asked):
    """run_all.sh exports VPR_DIE_WITH_PARENT=$$; a command run by hand (under nohup, say) outlives its shell."""
    import sys
    step = f"{sys.executable} -c 'from vpr_lib.process import die_with_parent; die_with_parent(); " \
           "import time; time.sleep(60)'"
    export = "export VPR_DIE_WITH_PARENT=$$; " if asked else "unset VPR_DIE_WITH_PARENT; "
    shell = subprocess.run(["bash", "-c", f"{export}{step} >/dev/null 2>&1 & echo $!; sleep 2"], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
    pid = int(shell.stdout.split()[0])
    try:
        assert gone(pid, timeout=10) == asked
    finally:
        if not asked:
            os.kill(pid, signal.SIGKILL)


def test_a_step_that_does_not_shut_down_is_killed_with_its_kernel_after_the_grace_time(tmp_path):
    """The stop is bounded: a runner that cannot act on its TERM (here frozen by SIGSTOP) is killed, with its kernel,
    VPR_STOP_GRACE seconds after it, and run_all.sh still exits with the signal's code."""
    project, pidfile = sleeping_project(tmp_path)
    proc = start_run_all(tmp_path, project, results=str(tmp_path / "results"), VPR_STOP_GRACE="3")
    kernel = wait_for(pidfile)
    runner = runner_of(proc)
    os.kill(runner, signal.SIGSTOP)
    start = time.time()
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert time.time() - start < 30, "the stop waited longer than its grace time"
    assert gone(runner) and gone(kernel), "the frozen runner or its kernel survived the stop"


def test_a_grace_time_that_is_not_whole_seconds_is_refused(tmp_path):
    project, _ = sleeping_project(tmp_path)
    proc = start_run_all(tmp_path, project, results=str(tmp_path / "results"), VPR_STOP_GRACE="soon")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "VPR_STOP_GRACE=soon: expected whole seconds" in err


@pytest.mark.parametrize("profile,store", [("smoke", "results/smoke"), ("study", "results")])
def test_only_the_study_writes_the_committed_results_other_profiles_write_their_own(tmp_path, profile, store):
    """Issue 28: the demo (and any profile but the study) writes into results/<profile>/, never over the committed
    study's results/, and shares its runs (VPR_RUNS = results/runs: the same run ids, reused)."""
    project = fake_project(tmp_path, "import os\nfrom pathlib import Path\nfrom vpr_lib.paths import runs_dir\n"
                                     "tables = Path(os.environ['VPR_OUTPUTS']) / 'tables'\ntables.mkdir()\n"
                                     "(tables / '00_runs_at.txt').write_text(str(runs_dir()))")
    env = {k: v for k, v in os.environ.items() if k not in ("VPR_RESULTS", "VPR_RUNS")}
    env.update(VPR_ROOT=str(project), VPR_DATA=str(tmp_path / "data"))
    done = subprocess.run([str(ROOT / "run_all.sh"), "--profile", profile], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (project / store / "executed" / "00_step.ipynb").is_file()
    others = [p for p in (project / "results").rglob("00_step.ipynb") if p.parent != project / store / "executed"]
    assert not others, others
    # what the kernel saw, published with the notebook's outputs
    assert (project / store / "tables" / "00_runs_at.txt").read_text() == str(project / "results" / "runs")
