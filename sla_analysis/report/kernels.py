"""Notebook kernels forked from a warm process, so a page does not pay for Python's imports.

A notebook kernel started the usual way is a new Python process: before its first cell it imports
ipykernel, NumPy, pandas, SciPy, statsmodels, matplotlib, seaborn, Ibis and DuckDB, about 3-5 s of
one core, seven times a report. Here the orchestrator starts one *fork server* (Python's
``multiprocessing`` ``forkserver``) that imports them once (:mod:`sla_analysis.report.kernel_preload`),
and each kernel is a fork of it: the same ipykernel, started with the same command-line arguments,
environment and working folder papermill asks for, but with the modules already in memory.

- :class:`WarmKernelManager` is the ``kernel_manager_class`` papermill hands to nbclient. Its
  provisioner forks the kernel when the kernel spec runs ``ipykernel_launcher`` (as ``python3``
  does), and otherwise launches the command as jupyter_client does.
- A forked kernel starts its own session (as jupyter_client's launch does), and is killed when the
  fork server dies, which it does when the orchestrator dies (Linux ``prctl``): no kernel outlives
  a killed run.
- The settings' ``warm_kernels`` off (``SLA_ANALYSIS_WARM_KERNELS=0``) starts every kernel as a new process instead (the outputs are the
  same: a test runs a page both ways and compares them).

Only third-party modules are preloaded: the package's own modules are imported by each kernel.
A forked kernel's environment is the one jupyter_client gives its launch (papermill's, the run's):
it is installed in the forked process before ipykernel starts, as ``exec`` would.
"""
from __future__ import annotations

import io
import os
import signal
import sys
import uuid
from multiprocessing import forkserver, popen_forkserver, reduction, resource_tracker, spawn, util
from multiprocessing.context import set_spawning_popen
from multiprocessing.process import BaseProcess
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from sla_analysis import settings
from sla_analysis.processes import die_with_parent, name_process

PRELOAD = "sla_analysis.report.kernel_preload"
#: the kernels' own fork server, not multiprocessing's shared one (another user of that one, such
#: as the tests' CLI runner, would start it with its own preload, or have it stopped with the kernels)
_SERVER = forkserver.ForkServer()
#: a forked kernel's process name (``ps``, ``/proc/<pid>/comm``): its command line is the fork server's
KERNEL_NAME = "sla-kernel"


def warm_kernels_enabled() -> bool:
    """Kernels are forked from the warm process unless the settings' ``warm_kernels`` is off."""
    return settings.current().warm_kernels


def start_fork_server() -> None:
    """Start the fork server now (it imports for a few seconds), so that the first kernel need not
    wait for it. Safe to call more than once, and from any thread."""
    if warm_kernels_enabled():
        _SERVER.set_forkserver_preload([PRELOAD])
        _SERVER.ensure_running()


def server_pids() -> set[int]:
    """The fork server's and multiprocessing's resource tracker's process ids (when running): a run
    that stops its kernels leaves these two to the next run in the same process (killing the
    tracker makes multiprocessing warn; the server would have to import again)."""
    pids = {getattr(_SERVER, "_forkserver_pid", None), getattr(resource_tracker._resource_tracker, "_pid", None)}
    return {p for p in pids if p}


class _KernelPopen(popen_forkserver.Popen):
    """The fork server's launch (Python 3.11's ``popen_forkserver.Popen._launch``) through the
    kernels' own server, and without the orchestrator's ``__main__``: multiprocessing would have each
    child run again the script that started the orchestrator (a test runner's, or fail on
    ``python -``), where a kernel needs none."""

    def _launch(self, process_obj):
        prep_data = {k: v for k, v in spawn.get_preparation_data(process_obj._name).items()
                     if not k.startswith("init_main_from")}
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = _SERVER.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)  # the child's sentinel of its parent, as in the original
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _KernelProcess(BaseProcess):
    _start_method = "forkserver"

    @staticmethod
    def _Popen(process_obj):
        return _KernelPopen(process_obj)


def _kernel_arguments(cmd: list[str]) -> list[str] | None:
    """The ipykernel arguments of a kernel command ``[python, ..., -m, ipykernel_launcher, *args]``,
    or None for any other command (it is launched as a new process)."""
    for i in range(len(cmd) - 1):
        if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
            return list(cmd[i + 2:])
    return None


def _run_kernel(arguments: list[str], env: dict[str, str], cwd: str) -> None:
    """In the forked process: a session of its own, killed with the fork server, the environment and
    working folder of the launch, then ipykernel as ``python -m ipykernel_launcher`` runs it."""
    os.setsid()
    die_with_parent(os.getppid())  # the fork server
    name_process(KERNEL_NAME)
    # multiprocessing hands each child of the fork server the end of the pipe whose closing tells the
    # server that the orchestrator is gone (a child may start children of its own there). A kernel
    # starts none: holding it would keep the server, and so the kernel, alive after a killed run.
    alive = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        forkserver._forkserver._forkserver_alive_fd = None
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["ipykernel_launcher", *arguments]
    if sys.path and sys.path[0] in ("", cwd):
        del sys.path[0]  # as ipykernel_launcher does; IPython adds the working folder back
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=arguments)


class ForkedKernel:
    """The part of :class:`subprocess.Popen` jupyter_client's provisioner uses, for a forked kernel."""

    stdin = stdout = stderr = None

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        self.pid = process.pid

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class WarmProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, forking ipykernel from the warm process."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        arguments = _kernel_arguments(cmd)
        if arguments is None or not warm_kernels_enabled():
            return await super().launch_kernel(cmd, **kwargs)
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        _SERVER.set_forkserver_preload([PRELOAD])
        process = _KernelProcess(target=_run_kernel, args=(arguments, env, cwd), name="notebook-kernel",
                                 daemon=False)  # a daemon could not start the attempt cap's workers
        try:
            process.start()
        except OSError:  # no fork server (a resource limit?): the kernel is started as a new process
            return await super().launch_kernel(cmd, **kwargs)
        self.process = ForkedKernel(process)
        self.pid = process.pid
        self.pgid = process.pid  # the kernel's own session (os.setsid above); until then, the pid alone
        self.cwd = cwd
        return self.connection_info


class WarmKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with :class:`WarmProvisioner`."""

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = WarmProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)
