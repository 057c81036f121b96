"""A warm dbt: one process per run imports dbt once, and every dbt command is a fork of it.

Every ``dbt build`` that dagster-dbt starts is a new Python that imports dbt and its DuckDB adapter,
builds dbt's schema validators and its artifact (de)serialisers before it reads a single file: 3-4 s
of each build and increment on two cores, about a third of a one-day increment's dbt step
(bench/README). The server pays that once per run, at the start, while the ingest runs on the other
core; each dbt command is then a fork of the warmed server, which starts where a fresh dbt would be
after its imports.

- ``WarmDbtServer`` (parent side): made by the dbt resource for the length of a run. It binds the
  Unix socket itself, so a client can connect (and wait) while the server is still warming up.
- ``serve`` (``python -m pipelines.warm_dbt``): imports dbt; when the data folder is new to dbt,
  parses the project for its profile in a forked child (so the run's dbt command finds a current
  partial-parse file); warms dbt with a ``dbt ls`` of the project into a scratch folder; then
  forks a dbt for each request. It ends when the run's side of its lifeline pipe closes, also
  when the run's process dies.
- ``client_main`` (the ``civicloop-dbt`` executable that dagster-dbt runs instead of ``dbt``): hands
  its arguments, working folder, environment and standard streams to the server, passes SIGINT and
  SIGTERM on to the forked dbt, and exits with its exit code. With no server, or a server that
  refuses before starting dbt, it becomes plain ``dbt`` (``exec``), so nothing depends on it.

The client imports only the standard library: it starts in tens of milliseconds.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import io
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SOCKET_ENV = "CIVICLOOP_WARM_DBT_SOCKET"
CLIENT_EXECUTABLE = "civicloop-dbt"
_LENGTH = struct.Struct("!I")
_STANDARD_STREAMS = (0, 1, 2)
# Exit code of a dbt command whose server vanished while it ran (dbt's own code for a crash).
_LOST_SERVER_EXIT = 2
# The pid of the process that started the server, kept across its restart without the warm-up.
_STARTER_ENV = "CIVICLOOP_WARM_DBT_STARTER"
# Set when the project's partial-parse file was written for another profile (another warehouse):
# the server parses first and records this key (pipelines.build.partial_parse_key) beside it.
_PARSE_KEY_ENV = "CIVICLOOP_WARM_DBT_PARSE_KEY"
PARTIAL_PARSE_KEY_FILE = "civicloop_partial_parse.key"
_NO_TRACKING = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
# The pid of the server's background parse while it runs (a one-item list, set in the server).
_PARSING_CHILD: list[int] = []
# Made by the server once it has warmed up (and installed a fresh partial-parse file).
_READY_FILE = "ready"
# Written by the server as it ends: how many dbt commands it forked.
_SERVED_FILE = "served"


def plain_dbt_executable() -> Path:
    """The dbt installed beside this interpreter."""
    return Path(sys.executable).with_name("dbt")


def client_executable() -> Path:
    """The ``civicloop-dbt`` script installed beside this interpreter."""
    return Path(sys.executable).with_name(CLIENT_EXECUTABLE)


# --- client ---------------------------------------------------------------------------------------


def client_main() -> None:
    """Run one dbt command on the run's warm server, or as plain dbt when there is none."""
    arguments = sys.argv[1:]
    address = os.environ.get(SOCKET_ENV)
    if address:
        exit_code = _run_on_server(address, arguments)
        if exit_code is not None:
            sys.exit(exit_code)
    dbt = str(plain_dbt_executable())
    os.execv(dbt, [dbt, *arguments])


def _run_on_server(address: str, arguments: list[str]) -> int | None:
    """The forked dbt's exit code; None when the server refused before starting dbt."""
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(address)
        request = json.dumps({"argv": arguments, "cwd": str(Path.cwd()), "env": dict(os.environ)})
        payload = request.encode()
        socket.send_fds(connection, [_LENGTH.pack(len(payload))], list(_STANDARD_STREAMS))
        connection.sendall(payload)
        replies = connection.makefile("r", encoding="utf-8")
        first = json.loads(replies.readline() or "{}")
    except (OSError, ValueError):
        return None
    if "pid" not in first:
        return None
    dbt_pid = int(first["pid"])

    def relay(signal_number: int, _frame: object) -> None:
        try:
            os.kill(dbt_pid, signal_number)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGINT, relay)
    signal.signal(signal.SIGTERM, relay)
    try:
        last = json.loads(replies.readline() or "{}")
    except (OSError, ValueError):
        last = {}
    if "exit" not in last:
        print("civicloop-dbt: lost the warm dbt server while dbt ran", file=sys.stderr)
        return _LOST_SERVER_EXIT
    return int(last["exit"])


# --- parent side ----------------------------------------------------------------------------------


class WarmDbtServer:
    """A warm dbt server for the length of a run; ``address`` goes into ``SOCKET_ENV``."""

    @staticmethod
    def supported() -> bool:
        """Linux only: the server waits on its dbt processes through pidfds."""
        return sys.platform == "linux" and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")

    def __init__(self, project_dir: Path, profiles_dir: Path, partial_parse_key: str | None = None) -> None:
        """Start the server, which parses first when given ``partial_parse_key``.

        The parse writes ``target/partial_parse.msgpack`` for this profile and records the key
        beside it (pipelines.build.partial_parse_key).
        """
        import subprocess
        import tempfile

        self._folder = Path(tempfile.mkdtemp(prefix="civicloop-dbt-"))
        self.address = str(self._folder / "dbt.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.address)
        listener.listen(16)
        lifeline_read, self._lifeline = os.pipe()
        command = [
            sys.executable,
            "-m",
            "pipelines.warm_dbt",
            str(listener.fileno()),
            str(lifeline_read),
            str(project_dir),
            str(profiles_dir),
            str(self._folder / "warm-up"),
            "warm",
        ]
        # Its own session: a Ctrl-C in the terminal reaches the client, which relays it once.
        self._process = subprocess.Popen(
            command,
            pass_fds=(listener.fileno(), lifeline_read),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={
                **os.environ,
                _STARTER_ENV: str(os.getpid()),
                **({_PARSE_KEY_ENV: partial_parse_key} if partial_parse_key else {}),
            },
        )
        listener.close()
        os.close(lifeline_read)

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait_until_ready(self, timeout: float = 120.0) -> bool:
        """Wait for the warm-up (and a background parse) to finish; False if it did not.

        dagster-dbt copies ``target/partial_parse.msgpack`` into a command's folder before it
        starts the command, so a command started during the background parse would parse the
        whole project again itself.
        """
        import time

        deadline = time.monotonic() + timeout
        while not (self._folder / _READY_FILE).exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout: float = 2.0) -> int:
        """End the server (it stops any dbt still running), remove its folder; commands served.

        A server still warming up (a run that ended before its dbt step, say) does not see the
        lifeline until it is done: after ``timeout`` seconds it is terminated instead of awaited.
        """
        import subprocess

        os.close(self._lifeline)
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        tally = self._folder / _SERVED_FILE
        served = int(tally.read_text(encoding="utf-8")) if tally.is_file() else 0
        shutil.rmtree(self._folder, ignore_errors=True)
        return served


# --- server ---------------------------------------------------------------------------------------


def serve(
    listener_fd: int, lifeline_fd: int, project_dir: str, profiles_dir: str, scratch: str, warm_up: bool
) -> None:
    """Warm dbt up, then fork a dbt for every request until the lifeline closes.

    Without ``warm_up`` it only imports dbt: the server starts so again when its warm-up left
    threads behind.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    # No usage statistics from the warm-up: their sender's threads would outlive it (and dbt
    # reads the switch when it is imported).
    os.environ.update(_NO_TRACKING)
    starter = int(os.environ.get(_STARTER_ENV, os.getppid()))
    listener = socket.socket(fileno=listener_fd)
    importlib.import_module("dbt.adapters.duckdb")  # the adapter every command loads

    # Importing DuckDB starts a native thread of its own (its default database's worker). Any
    # thread beyond these at a fork may hold a lock, or be a pool the forked dbt would wait on
    # forever: a warm-up that had to parse the project from scratch leaves dbt's static parser
    # with a pool of two threads (rayon, in dbt_extractor).
    threads_after_import = _native_thread_count()
    parse_key = os.environ.pop(_PARSE_KEY_ENV, None)
    if warm_up:
        if parse_key:
            _parse_in_child(project_dir, profiles_dir, scratch, parse_key)
        _warm_up(project_dir, profiles_dir, scratch)
        if _native_thread_count() > threads_after_import:
            arguments = [str(listener_fd), str(lifeline_fd), project_dir, profiles_dir, scratch, "cold"]
            _release_before_exec()
            os.execv(sys.executable, [sys.executable, "-m", "pipelines.warm_dbt", *arguments])
    # What the imports and the warm-up made lives as long as the server: keep it out of the cycle
    # collector's passes in every forked dbt (which would also copy each page it touches).
    gc.collect()
    gc.freeze()
    (Path(scratch).parent / _READY_FILE).touch()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(lifeline_fd, selectors.EVENT_READ, "lifeline")
    running: dict[int, _RunningDbt] = {}  # by the forked dbt's pidfd
    served = 0
    while True:
        for key, _ in selector.select():
            if key.data == "lifeline":
                for dbt in running.values():
                    dbt.stop()
                folder = Path(scratch).parent
                if os.getppid() == starter:
                    (folder / _SERVED_FILE).write_text(str(served), encoding="utf-8")
                else:  # the process that started it died: nobody else will remove the folder
                    shutil.rmtree(folder, ignore_errors=True)
                return
            if key.data == "accept":
                connection, _ = listener.accept()
                held = [listener.fileno(), lifeline_fd, selector.fileno()]
                for dbt in running.values():
                    held += [dbt.pidfd, dbt.connection.fileno()]
                started = _start_dbt(connection, held, threads_after_import)
                if started is not None:
                    served += 1
                    running[started.pidfd] = started
                    selector.register(started.pidfd, selectors.EVENT_READ, "exited")
                    selector.register(connection, selectors.EVENT_READ, started.pidfd)
            elif key.data == "exited":
                exited = running.pop(key.fd)
                _unregister(selector, exited.pidfd)
                _unregister(selector, exited.connection)
                exited.finish()
            elif key.data in running:
                # The client closed its end while its dbt runs: it was killed, so is its dbt.
                os.kill(running[key.data].pid, signal.SIGTERM)
                _unregister(selector, key.fileobj)


class _RunningDbt:
    """A forked dbt, the pidfd that becomes readable when it exits, and its client's connection."""

    def __init__(self, pid: int, connection: socket.socket) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.connection = connection

    def finish(self) -> None:
        """Reap the exited dbt and tell the client its exit code (128 + n for signal n)."""
        _, status = os.waitpid(self.pid, 0)
        exit_code = os.waitstatus_to_exitcode(status)
        _reply(self.connection, {"exit": exit_code if exit_code >= 0 else 128 - exit_code})
        self._close()

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._close()

    def _close(self) -> None:
        os.close(self.pidfd)
        self.connection.close()


def _parse_in_child(project_dir: str, profiles_dir: str, scratch: str, key: str) -> None:
    """Parse the project for this profile in a forked child and install its partial-parse file.

    A new warehouse path makes dbt parse the whole project again (its profile is part of what the
    partial-parse file was written for): done here, beside the run's first steps, instead of at the
    start of its dbt command. In a child, because the parse starts the static parser's thread pool,
    which no later fork could use. The file replaces the project's atomically, so dagster-dbt never
    copies half of it.
    """
    target = Path(project_dir) / "target"
    parsed = Path(scratch)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with _stdout_silenced():
                from dbt.cli.main import dbtRunner

                arguments = ["parse", "--quiet", "--project-dir", project_dir, "--profiles-dir", profiles_dir]
                arguments += ["--target-path", str(parsed), "--log-path", str(parsed)]
                code = 0 if dbtRunner().invoke(arguments).success else 1
            atexit._run_exitfuncs()
        finally:
            os._exit(code)
    _PARSING_CHILD[:] = [pid]
    _, status = os.waitpid(pid, 0)
    _PARSING_CHILD.clear()
    if os.waitstatus_to_exitcode(status) != 0:
        print("civicloop-dbt: the background dbt parse failed; dbt will parse itself", file=sys.stderr)
        return
    target.mkdir(exist_ok=True)
    installed = target / "partial_parse.msgpack"
    staging = target / f".partial_parse.msgpack.{os.getpid()}.tmp"
    staging.write_bytes((parsed / installed.name).read_bytes())
    staging.replace(installed)
    record_partial_parse(target, key)


def record_partial_parse(target: Path, key: str) -> None:
    """Record beside ``target/partial_parse.msgpack`` what it was written for, with its stamp.

    The stamp (size and modification time) makes the record false as soon as any other dbt
    command rewrites the file for another profile or other variables.
    """
    staging = target / f".{PARTIAL_PARSE_KEY_FILE}.{os.getpid()}.tmp"
    staging.write_text(key + partial_parse_stamp(target), encoding="utf-8")
    staging.replace(target / PARTIAL_PARSE_KEY_FILE)


def partial_parse_stamp(target: Path) -> str:
    """Size and modification time of ``target/partial_parse.msgpack`` (empty when absent)."""
    try:
        status = (target / "partial_parse.msgpack").stat()
    except FileNotFoundError:
        return ""
    return f"{status.st_size} {status.st_mtime_ns}\n"


def _warm_up(project_dir: str, profiles_dir: str, scratch: str) -> None:
    """Import dbt and list one kind of node of the project, as a first command does.

    The listing loads the project, the profile and the parsed manifest (copied from the project's
    partial-parse file), which builds the validators and (de)serialisers every later command
    would otherwise build again. It writes only into ``scratch``; it opens no database.
    """
    from dbt.cli.main import dbtRunner

    Path(scratch).mkdir(parents=True, exist_ok=True)
    partial_parse = Path(project_dir) / "target" / "partial_parse.msgpack"
    if partial_parse.is_file() and not (Path(scratch) / partial_parse.name).is_file():
        shutil.copy(partial_parse, Path(scratch) / partial_parse.name)
    arguments = ["ls", "--resource-type", "seed", "--quiet", "--project-dir", project_dir]
    arguments += ["--profiles-dir", profiles_dir, "--target-path", scratch, "--log-path", scratch]
    with _stdout_silenced():
        try:
            dbtRunner().invoke(arguments)
        except Exception as error:  # a failed warm-up only leaves a colder dbt
            print(f"civicloop-dbt: warm-up failed, dbt starts colder: {error}", file=sys.stderr)


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null for a while: the warm-up's listings are for nobody."""
    sys.stdout.flush()
    saved = os.dup(1)
    with Path(os.devnull).open("w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _exit_on_terminate(_signal_number: int, _frame: object) -> None:
    """Leave at once, but as an exit would.

    Releases the warm-up's semaphores (no leak warnings) and takes a background parse along (its
    folder is about to be removed).
    """
    if _PARSING_CHILD:
        with contextlib.suppress(ProcessLookupError):
            os.kill(_PARSING_CHILD[0], signal.SIGKILL)
    atexit._run_exitfuncs()
    os._exit(0)


def _release_before_exec() -> None:
    """Release the warm-up's semaphores and end its resource tracker, as an exit would.

    Left running, the tracker would end unreaped (a zombie) once the new program closes its pipe,
    and warn about the semaphores it still holds.
    """
    from multiprocessing import resource_tracker

    atexit._run_exitfuncs()
    stop_tracker = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop_tracker is not None:
        stop_tracker()


def _native_thread_count() -> int:
    return sum(1 for _ in Path("/proc/self/task").iterdir())


def _start_dbt(connection: socket.socket, held: list[int], thread_limit: int) -> _RunningDbt | None:
    """Fork a dbt for the request on ``connection``; None when it was refused.

    ``held`` are the server's own descriptors, which the child closes.
    """
    import threading

    try:
        connection.settimeout(30)
        header, streams, _, _ = socket.recv_fds(connection, _LENGTH.size, len(_STANDARD_STREAMS))
        (length,) = _LENGTH.unpack(header)
        payload = _receive_exactly(connection, length)
        request = json.loads(payload)
        connection.settimeout(None)
    except (OSError, ValueError, struct.error):
        connection.close()
        return None
    # A fork copies only the calling thread: with another thread alive (a lock it held) the child
    # could hang, so the client runs plain dbt instead.
    threads = (threading.active_count(), _native_thread_count())
    if threads[0] != 1 or threads[1] > thread_limit or len(streams) != len(_STANDARD_STREAMS):
        _close_all(streams)
        reason = f"{threads[1]} threads (at most {thread_limit}), {len(streams)} streams"
        print(f"civicloop-dbt: cannot fork a warm dbt safely ({reason}); plain dbt runs", file=sys.stderr)
        _reply(connection, {"refused": reason})
        connection.close()
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os._exit(_run_dbt_in_child(request, streams, [*held, connection.fileno()]))
    _close_all(streams)
    _reply(connection, {"pid": pid})
    return _RunningDbt(pid, connection)


def _run_dbt_in_child(request: dict[str, Any], streams: list[int], held: list[int]) -> int:
    """Become the client's dbt: its streams, folder, environment and arguments; the exit code."""
    exit_code = 1
    try:
        _close_all(held)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for target, stream in zip(_STANDARD_STREAMS, streams, strict=True):
            os.dup2(stream, target)
        _close_all(streams)
        # dagster-dbt reads dbt's events line by line as they happen (it sets PYTHONUNBUFFERED
        # for a fresh dbt); this interpreter's streams were set up for the server's.
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(line_buffering=True)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["dbt", *request["argv"]]
        exit_code = _dbt_exit_code(request["argv"])
        # What a normal exit runs, without the interpreter's teardown (which in a forked child can
        # abort in native destructors): DuckDB's hook closes the database dbt-duckdb leaves open,
        # so that it checkpoints instead of leaving its changes in the write-ahead log; the log
        # handlers flush; multiprocessing releases dbt's semaphores.
        atexit._run_exitfuncs()
    except BaseException:  # the child must always reach os._exit
        import traceback

        traceback.print_exc()
    finally:
        for standard in (sys.stdout, sys.stderr):
            try:
                standard.flush()
            except (OSError, ValueError):
                pass
    return exit_code


def _dbt_exit_code(arguments: list[str]) -> int:
    """Run dbt's command line as the ``dbt`` executable does, and return its exit code."""
    from dbt.cli.main import cli

    try:
        cli.main(args=arguments, prog_name="dbt")
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    return 0


def _unregister(selector: selectors.BaseSelector, watched: Any) -> None:
    try:
        selector.unregister(watched)
    except (KeyError, ValueError):
        pass  # already unregistered: its client had closed


def _receive_exactly(connection: socket.socket, length: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < length:
        chunk = connection.recv(length - len(chunks))
        if not chunk:
            raise ValueError("the client closed the connection mid-request")
        chunks.extend(chunk)
    return bytes(chunks)


def _reply(connection: socket.socket, message: dict[str, Any]) -> None:
    try:
        connection.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass


def _close_all(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        try:
            os.close(descriptor)
        except OSError:
            pass


if __name__ == "__main__":
    listener_arg, lifeline_arg, project_arg, profiles_arg, scratch_arg, mode = sys.argv[1:7]
    serve(int(listener_arg), int(lifeline_arg), project_arg, profiles_arg, scratch_arg, mode == "warm")
