"""Starting and reliably stopping Bochs for the integration tests (stdlib only), the way qemu.py
does it for QEMU, so runner.py can boot the same cases on Bochs's VT-x emulation.

Bochs boots the case's hybrid ISO from a CD through its BIOS, GRUB and Halcyon's Multiboot2
stage (tests/bochs/bochsrc.in, filled in per run). COM1 goes to serial.log, Bochs's own log to
bochs.log. Bochs has no QMP; why it stopped is read from its log:
  - "ACPI control: soft power off"           -> "guest-shutdown" (what QEMU reports for it)
  - a triple fault (reset_on_triple_fault=0) -> "guest-reset"
  - a second "Reset(HARDWARE|SOFTWARE)"      -> "guest-reset": Bochs would reboot, so the harness
                                                stops it, as QEMU's -no-reboot does.
Those stops count as exit status 0, like QEMU's; any other end is Bochs's own exit status.

Debian's Bochs is built with its internal debugger, which stops before the first instruction:
a debugger command file says `continue`. It has no "nogui" display; the "term" display (package
bochs-term) draws the VGA text screen with curses. With the debugger built in, that display
writes to a pseudo-terminal of its own (it opens /dev/ptmx and names the other side on stderr:
`Bochs connected to screen "/dev/pts/N"`). Nobody reads that side, so once a few KiB of screen
updates are queued Bochs blocks in write() for good: a long test (a Linux boot with its disk
checks) stalled there. ScreenDrain opens that side in raw mode and reads it into
bochs-screen.log for as long as Bochs runs. Bochs runs in its own process group, dies with its
parent (PR_SET_PDEATHSIG) and is killed from atexit and signal handlers, like QEMU (qemu.py's
registry is shared).
"""
import os
import pathlib
import re
import subprocess
import termios
import threading
import time
import tty

import qemu

HERE = pathlib.Path(__file__).resolve().parent
BOCHSRC_TEMPLATE = HERE.parent / "bochs" / "bochsrc.in"
# Instructions per emulated second. With `clock: sync=none` emulated time follows the
# instruction count, so this sets the guest's clock rate (and the TSC's), not the speed.
DEFAULT_IPS = 100_000_000

_POWER_OFF = "ACPI control: soft power off"
_TRIPLE_FAULT = re.compile(r"3rd \(\d+\) exception with no resolution|triple fault", re.I)
_RESET = re.compile(r"bx_pc_system_c::Reset\((HARDWARE|SOFTWARE)\) called")
# Bochs log lines: "<ticks><level>[<module>] <message>"; levels e(rror) and p(anic) are the ones
# worth showing with a test's result.
_LOG_LINE = re.compile(r"^\d+([ep])\[")


_SCREEN = re.compile(rb'Bochs connected to screen "(/dev/pts/\d+)"')


class ScreenDrain:
    """Reads the term display's pseudo-terminal (named in `stdout_log`) into `screen_log` until
    Bochs closes it, so that Bochs never blocks writing its screen."""

    def __init__(self, stdout_log, screen_log, process):
        self.stdout_log = stdout_log
        self.screen_log = screen_log
        self.process = process
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def wait(self, timeout):
        """Until the terminal is closed and bochs-screen.log complete (or `timeout` seconds)."""
        self._thread.join(timeout)

    def _find_terminal(self):
        # Bochs names it right after start-up; give up once Bochs has exited.
        while self.process.poll() is None:
            try:
                match = _SCREEN.search(self.stdout_log.read_bytes())
            except FileNotFoundError:
                match = None
            if match:
                return match.group(1).decode()
            time.sleep(0.05)
        return None

    def _run(self):
        path = self._find_terminal()
        if path is None:
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
        except OSError:
            return
        # Raw: reads return what is there (no line buffering) and nothing is echoed back to
        # Bochs, which would read it as key presses. At once (TCSANOW): the default TCSAFLUSH
        # discards what is queued, and on a full queue leaves the writer stuck all the same.
        tty.setraw(fd, termios.TCSANOW)
        self.opened.set()
        with open(self.screen_log, "wb") as screen:
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO once Bochs has closed its side
                    break
                if not data:
                    break
                screen.write(data)
        os.close(fd)


def available():
    """None when Bochs can run here, else what is missing (for a skipped test's message)."""
    for path, package in (("/usr/bin/bochs", "bochs"),
                          ("/usr/share/bochs/BIOS-bochs-latest", "bochsbios"),
                          ("/usr/share/vgabios/vgabios.bin", "vgabios"),
                          ("/usr/lib/x86_64-linux-gnu/bochs/plugins/libbx_term_gui.so",
                           "bochs-term")):
        if not os.path.exists(path):
            return f"{path} is missing (Debian package {package})"
    return None


class Bochs:
    """One headless Bochs PC (i440FX, Haswell with VMX) booting `iso` from its CD drive."""

    def __init__(self, work_dir, cpus, memory_mib, iso, ips=DEFAULT_IPS):
        self.work_dir = pathlib.Path(work_dir)
        self.serial_log = self.work_dir / "serial.log"
        self.bochs_log = self.work_dir / "bochs.log"
        self.stderr_log = self.work_dir / "bochs-errors.log"  # e/p lines of bochs.log, at stop
        self.stdout_log = self.work_dir / "bochs-stdout.log"
        self.screen_log = self.work_dir / "bochs-screen.log"  # the term display's raw output
        self.config = self.work_dir / "bochsrc.txt"
        self.debugger_commands = self.work_dir / "bochs-debugger.rc"
        self.virt = "vmx"
        self.cpus = cpus
        values = {"@IPS@": str(ips), "@MEMORY_MIB@": str(memory_mib), "@CPUS@": str(cpus),
                  "@ISO@": str(pathlib.Path(iso).resolve()), "@SERIAL_LOG@": str(self.serial_log),
                  "@BOCHS_LOG@": str(self.bochs_log)}
        text = BOCHSRC_TEMPLATE.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        self._config_text = text
        self.command = ["bochs", "-q", "-f", str(self.config), "-rc", str(self.debugger_commands)]
        self.process = None
        self._stop_reason = None  # set when the harness stopped Bochs for the guest (a reset)
        self._log_offset = 0
        self._resets = 0
        self._reason = None

    def describe(self):
        return f"Bochs {self.cpus} CPU, corei7_haswell_4770 (VMX), ISO via BIOS + GRUB"

    def start(self):
        for path in (self.serial_log, self.bochs_log, self.stderr_log):
            path.unlink(missing_ok=True)
        self.serial_log.touch()
        self.config.write_text(self._config_text)
        self.debugger_commands.write_text("continue\n")
        (self.work_dir / "bochs-command.txt").write_text(" ".join(self.command) + "\n")
        self._stdout = open(self.stdout_log, "w")
        # TERM: the term display needs a terminal type to draw with, even into a file.
        env = dict(os.environ, TERM="xterm")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=self._stdout, stderr=subprocess.STDOUT,
                                        cwd=self.work_dir, env=env, start_new_session=True,
                                        preexec_fn=qemu._die_with_parent)
        qemu._running.add(self.process)
        (self.work_dir / "bochs.pid").write_text(f"{self.process.pid}\n")
        self.screen = ScreenDrain(self.stdout_log, self.screen_log, self.process)
        self.started = time.monotonic()

    def _scan_log(self):
        """Reads what Bochs logged since the last call and notes power-offs and resets."""
        try:
            with open(self.bochs_log, "rb") as log:
                log.seek(self._log_offset)
                data = log.read()
        except FileNotFoundError:
            return
        # Only whole lines; a partial last line is read again next time.
        end = data.rfind(b"\n") + 1
        self._log_offset += end
        for line in data[:end].decode("utf-8", "replace").splitlines():
            if self._reason is None and _POWER_OFF in line:
                self._reason = "guest-shutdown"
            elif self._reason is None and _TRIPLE_FAULT.search(line):
                self._reason = "guest-reset"
            elif _RESET.search(line):
                self._resets += 1
                if self._resets > 1 and self._reason is None:
                    self._reason = "guest-reset"

    def exit_status(self):
        """None while Bochs runs. QEMU's conventions: 0 for a guest power-off or reset."""
        status = self.process.poll()
        self._scan_log()
        if status is None and self._reason == "guest-reset" and self._resets > 1:
            # The guest reset the machine: stop here instead of booting again.
            self._kill()
            status = self.process.poll()
        if status is None:
            return None
        if self._reason is not None:
            return 0
        return status

    def shutdown_reason(self):
        self._scan_log()
        return self._reason

    def _kill(self):
        # SIGKILL at once, as for QEMU: with the internal debugger built in, Bochs answers
        # SIGTERM by stopping at its debugger prompt instead of exiting. Its log and the serial
        # file are written line by line, so nothing is lost.
        if self.process is not None:
            qemu._kill_group(self.process)

    def stop(self):
        if self.process is not None:
            self._kill()
            qemu._running.discard(self.process)
            self.screen.wait(2)
        if getattr(self, "_stdout", None):
            self._stdout.close()
        if self.bochs_log.exists():
            lines = [line for line in self.bochs_log.read_text(errors="replace").splitlines()
                     if _LOG_LINE.match(line)]
            self.stderr_log.write_text("".join(line + "\n" for line in lines))
