"""Starting and reliably stopping QEMU for the integration tests (stdlib only).

A guest that hangs, a runner that is interrupted or killed, a test that times out: in every case
QEMU must go away with it. QEMU runs in its own process group (so the whole group can be killed),
is told by the kernel to die with its parent (PR_SET_PDEATHSIG, covering SIGKILL of the runner),
and is killed from atexit, from SIGINT/SIGTERM/SIGHUP handlers and from the runner's finally path.
"""
import atexit
import ctypes
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time

OVMF = "/usr/share/ovmf/OVMF.fd"
_PR_SET_PDEATHSIG = 1
_running = set()


def _die_with_parent():
    # Runs in the child between fork and exec.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _kill_group(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _kill_all():
    for process in list(_running):
        _kill_group(process)
        _running.discard(process)


def _on_signal(number, frame):
    _kill_all()
    # Re-raise with the default action so our caller sees the usual exit status.
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)


atexit.register(_kill_all)
for _signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signal, _on_signal)


def nested_kvm():
    """'amd' or 'intel' when KVM is usable here and allows nested virtualization, else None."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return None
    for vendor in ("amd", "intel"):
        path = pathlib.Path(f"/sys/module/kvm_{vendor}/parameters/nested")
        try:
            if path.read_text().strip() in ("1", "Y"):
                return vendor
        except OSError:
            continue
    return None


def accelerator():
    """(QEMU arguments, the virtualization extension the guest will see: 'svm' or 'vmx')."""
    vendor = nested_kvm()
    if vendor:
        return ["-accel", "kvm", "-cpu", "host"], "svm" if vendor == "amd" else "vmx"
    # TCG emulates SVM (with nested paging) but not VMX.
    return ["-accel", "tcg", "-cpu", "EPYC,+svm,+npt"], "svm"


class Qmp:
    """Collects QMP events in the background; only the SHUTDOWN reason is needed, which tells a
    guest power-off ("guest-shutdown") from a reset or triple fault ("guest-reset") even though
    QEMU exits with status 0 for both under -no-reboot."""

    def __init__(self, path, deadline):
        self.events = []
        self._socket = None
        while time.monotonic() < deadline:
            try:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._socket.connect(str(path))
                break
            except OSError:
                self._socket.close()
                self._socket = None
                time.sleep(0.05)
        if self._socket is None:
            raise RuntimeError(f"could not connect to QEMU's QMP socket {path}")
        self._file = self._socket.makefile("rw", encoding="utf-8")
        self._file.readline()  # greeting
        self._file.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
        self._file.flush()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for line in self._file:
                message = json.loads(line)
                if "event" in message:
                    self.events.append(message)
        except (OSError, ValueError):
            pass

    def shutdown_reason(self):
        for event in self.events:
            if event["event"] == "SHUTDOWN":
                return event.get("data", {}).get("reason", "unknown")
        return None

    def close(self):
        try:
            self._socket.close()
        except OSError:
            pass


class Qemu:
    """One headless q35 machine booting OVMF (or, with firmware="bios", QEMU's default BIOS,
    SeaBIOS); serial output goes to `serial_log`."""

    def __init__(self, work_dir, cpus, memory_mib, boot_args, firmware="uefi"):
        self.work_dir = pathlib.Path(work_dir)
        self.serial_log = self.work_dir / "serial.log"
        self.stderr_log = self.work_dir / "qemu-stderr.log"
        self.qmp_path = self.work_dir / "qmp.sock"
        accel_args, self.virt = accelerator()
        self.command = ["qemu-system-x86_64", "-nodefaults", "-machine", "q35", *accel_args,
                        "-smp", str(cpus), "-m", str(memory_mib),
                        *(["-bios", OVMF] if firmware == "uefi" else []),
                        "-display", "none", "-no-reboot",
                        "-serial", f"file:{self.serial_log}",
                        "-qmp", f"unix:{self.qmp_path},server=on,wait=off", *boot_args]
        self.process = None
        self.qmp = None

    def start(self):
        for path in (self.serial_log, self.qmp_path):
            path.unlink(missing_ok=True)
        self.serial_log.touch()
        (self.work_dir / "qemu-command.txt").write_text(" ".join(self.command) + "\n")
        self._stderr = open(self.stderr_log, "w")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=self._stderr, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        _running.add(self.process)
        (self.work_dir / "qemu.pid").write_text(f"{self.process.pid}\n")
        self.started = time.monotonic()
        self.qmp = Qmp(self.qmp_path, self.started + 10)

    def exit_status(self):
        return self.process.poll()

    def shutdown_reason(self):
        return self.qmp.shutdown_reason()

    def describe(self):
        return " ".join(self.command[self.command.index("-accel"):][:4])

    def stop(self):
        if self.process is not None:
            _kill_group(self.process)
            _running.discard(self.process)
        if self.qmp is not None:
            self.qmp.close()
        if getattr(self, "_stderr", None):
            self._stderr.close()


# Management NIC models Halcyon drives (drivers/net), as QEMU -device strings. Modern-only virtio
# (the driver has no legacy interface); no option ROMs, so OVMF does not try to PXE boot from
# the NIC.
NIC_MODELS = {
    "virtio": "virtio-net-pci,disable-legacy=on,romfile=",
    "e1000": "e1000,romfile=",
    "e1000e": "e1000e,romfile=",
}


def nic_args(model, netdev, slot=None):
    """QEMU arguments for a management NIC of `model` (a NIC_MODELS key) on `netdev`, in PCI
    slot `slot` of bus 0 when given (else QEMU picks the next free one)."""
    where = f",addr={slot:#x}" if slot is not None else ""
    return ["-device", f"{NIC_MODELS[model]},netdev={netdev}{where}"]
