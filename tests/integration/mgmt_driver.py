"""The plumbing every management-API host script shares (vm_mgmt_e2e.py, vm_vhd_e2e.py,
mgmt_load.py): runner.py calls `SCRIPT prepare WORK` before QEMU starts and `SCRIPT verify WORK`
after; prepare forwards a free localhost port to the API and starts `SCRIPT drive WORK` in the
background, which talks to Halcyon with the real halctl and leaves NAME.result (PASS or FAIL: why)
and NAME.log in WORK. Stdlib only.
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time


def start_driver(work, name, script):
    """prepare's common part: a free localhost port forwarded to the API (port 8443 of the guest)
    through the QEMU -readconfig file mgmt-net.cfg, its number in mgmt-port, and `script drive
    WORK` started in its own session with its output in NAME.log. Returns the driver's Popen."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "mgmt-net.cfg").write_text(
        '[netdev "mgmt"]\n  type = "user"\n'
        f'  hostfwd = "tcp:127.0.0.1:{port}-:8443"\n')
    (work / "mgmt-port").write_text(f"{port}\n")
    for suffix in ("result", "log"):
        (work / f"{name}.{suffix}").unlink(missing_ok=True)
    log = open(work / f"{name}.log", "w")
    driver = subprocess.Popen([sys.executable, str(script), "drive", str(work)],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, close_fds=True)
    print(f"{name}: API forwarded from 127.0.0.1:{port}; driver pid {driver.pid}")
    return driver


def driver_result(work, name):
    """verify's common part: waits up to 60 s for the driver, prints its log and its result.
    Returns the result line, or None when the driver did not finish."""
    result_file = work / f"{name}.result"
    deadline = time.monotonic() + 60
    while not result_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    print((work / f"{name}.log").read_text(errors="replace"), end="")
    if not result_file.exists():
        print(f"{name}: FAIL: the driver did not finish")
        return None
    result = result_file.read_text().strip()
    print(f"{name}: {result}")
    return result


def drive(work, name, driver, failures):
    """Runs driver.run() and writes NAME.result. On one of `failures` (exception classes; the
    JSON, key, timeout and OS errors a driver meets are added) it tells the runner at once
    through QEMU's stderr log, which the runner prints, and stops QEMU so that the case fails
    now rather than at its timeout."""
    try:
        driver.run()
        result = "PASS"
    except (*failures, json.JSONDecodeError, KeyError, subprocess.TimeoutExpired,
            OSError) as error:
        result = f"FAIL: {type(error).__name__}: {error}"
        driver.say(result)
        with open(work / "qemu-stderr.log", "a") as stderr:
            stderr.write(f"{name} driver: {result} (see {work / (name + '.log')})\n")
        try:
            os.kill(int((work / "qemu.pid").read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
    (work / f"{name}.result").write_text(result + "\n")
    return 0


def main(prepare, verify, drive_step):
    """The command line of a host script: prepare|verify|drive WORK."""
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "verify", "drive"):
        sys.exit(f"usage: {sys.argv[0]} prepare|verify|drive WORK")
    work = pathlib.Path(sys.argv[2])
    return {"prepare": prepare, "verify": verify, "drive": drive_step}[sys.argv[1]](work)
