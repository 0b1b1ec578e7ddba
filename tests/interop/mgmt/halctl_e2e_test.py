#!/usr/bin/env python3
"""halctl end to end: the real halctl binary against the management API served over localhost
TCP by mgmt_test_server (the real Server over the fake VmHost). A VM's whole life, the -Json
output scripts rely on, every documented exit code, the ways of giving host and key, uploads,
the console, concurrency, and hostile bytes that must leave the server serving others.

usage: halctl_e2e_test.py HALCTL MGMT_TEST_SERVER
"""
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

KEY = "5ec7e7" + "0123456789abcdef" * 3 + "a1b2c3d4e5"[:10]
WRONG_KEY = "f" * 64
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL: " + message, flush=True)


class Halctl:
    def __init__(self, binary, address):
        self.binary = binary
        self.address = address

    def run(self, *arguments, key=KEY, host=None, stdin=None, env=None, timeout=30):
        command = [self.binary]
        if host is not False:
            command += ["--host", host or self.address]
        if key is not None:
            command += ["--key", key]
        command += list(arguments)
        environment = dict(os.environ, HOME=tempfile.gettempdir(), XDG_CONFIG_HOME="/nonexistent")
        environment.pop("HALCYON_HOST", None)
        environment.pop("HALCYON_KEY", None)
        environment.update(env or {})
        result = subprocess.run(command, input=stdin, capture_output=True, env=environment,
                                timeout=timeout)
        return result.returncode, result.stdout.decode(errors="replace"), \
            result.stderr.decode(errors="replace")

    def expect(self, code, *arguments, **options):
        status, out, err = self.run(*arguments, **options)
        check(status == code, "halctl %s: exit %d, expected %d (stdout %r, stderr %r)"
              % (" ".join(arguments), status, code, out[:300], err[:300]))
        return out, err

    def json(self, *arguments):
        out, _ = self.expect(0, *arguments, "-Json")
        try:
            return json.loads(out)
        except ValueError:
            check(False, "halctl %s -Json printed no JSON: %r" % (" ".join(arguments), out[:200]))
            return {}


def raw_exchange(port, data, read_until_close=True):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        received = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
            if not read_until_close and b"\r\n\r\n" in received:
                break
        return received


def documented_client(port, method, target, body=b"", key=KEY, timestamp=None, nonce=None,
                      content_type="application/json"):
    """A client written from docs/management-api.md with Python's own SHA-256 and HMAC: proves
    the server's scheme is the documented one, not just whatever halctl happens to do."""
    key_bytes = bytes.fromhex(key)
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or os.urandom(16).hex()
    canonical = "\n".join([method, target, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    signature = hmac.new(key_bytes, canonical.encode(), hashlib.sha256).hexdigest()
    key_id = hashlib.sha256(key_bytes).hexdigest()[:16]
    request = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
               "Authorization: Halcyon-HMAC-SHA256 keyid=%s, ts=%s, nonce=%s, sig=%s\r\n"
               "Content-Length: %d\r\n" % (method, target, key_id, timestamp, nonce, signature,
                                              len(body)))
    if body:
        request += "Content-Type: %s\r\n" % content_type
    response = raw_exchange(port, request.encode() + b"\r\n" + body)
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), payload


def documented_scheme(port):
    status, body = documented_client(port, "POST", "/v1/vms",
                                     b'{"name":"doc","kernel":"vmlinuz","vcpus":1}')
    check(status == 201 and json.loads(body).get("name") == "doc", "documented client: %d %r"
          % (status, body[:200]))
    nonce = os.urandom(16).hex()
    status, _ = documented_client(port, "GET", "/v1/vms/doc?x=1", nonce=nonce)
    check(status == 200, "documented client, query in the signed target: %d" % status)
    status, body = documented_client(port, "GET", "/v1/vms/doc?x=1", nonce=nonce)
    check(status == 401 and b"replayed" in body, "replayed nonce: %d %r" % (status, body))
    status, body = documented_client(port, "GET", "/v1/host", timestamp=int(time.time()) - 400)
    check(status == 401 and b"300 seconds" in body, "old timestamp: %d %r" % (status, body))
    status, _ = documented_client(port, "DELETE", "/v1/vms/doc")
    check(status == 200, "documented client DELETE: %d" % status)


def lifecycle(halctl, files):
    out, _ = halctl.expect(0, "Get-VMHost")
    check("fakehost" in out and "LogicalProcessorCount" in out, "Get-VMHost table: %r" % out)
    check(halctl.json("Get-VM") == {"vms": []}, "no VMs at first")

    out, _ = halctl.expect(0, "New-VM", "-Name", "web", "-MemoryStartupBytes", "512MB",
                           "-ProcessorCount", "2", "-Kernel", "vmlinuz", "-Initrd", "initrd.img",
                           "-CommandLine", "console=ttyS0 quiet", "-Disk", "web.vhdx",
                           "-Disk", "tools.iso:ro")
    check(out.splitlines()[0].split() == ["Name", "State", "CPUs", "MemoryMB", "Uptime", "Kernel"],
          "New-VM prints the VM table: %r" % out)
    check(out.splitlines()[2].split()[:4] == ["web", "Off", "2", "512"], "New-VM row: %r" % out)
    vm = halctl.json("Get-VM", "web")
    check(vm.get("state") == "Off" and vm.get("memory_bytes") == 512 << 20
          and vm.get("vcpus") == 2 and vm.get("command_line") == "console=ttyS0 quiet"
          and vm.get("disks") == [{"path": "web.vhdx", "read_only": False},
                                  {"path": "tools.iso", "read_only": True}],
          "Get-VM web -Json: %r" % vm)
    halctl.expect(4, "New-VM", "web", "-Kernel", "k")  # exists already

    # Verbs and parameters are case-insensitive; parameters may be abbreviated.
    halctl.expect(0, "start-vm", "-name", "web")
    check(halctl.json("GET-VM", "web").get("state") == "Running", "Start-VM -> Running")
    halctl.expect(4, "Start-VM", "web")  # already running
    halctl.expect(4, "Set-VM", "web", "-Proc", "4")  # processors only while off
    halctl.expect(0, "Set-VM", "web", "-CommandLine", "console=ttyS0")
    out, _ = halctl.expect(0, "Get-VM")
    rows = [line.split() for line in out.splitlines()[2:]]
    check(rows and rows[0][:3] == ["web", "Running", "2"], "Get-VM table: %r" % out)

    # The console: piped input is sent, the echo and the answer come back.
    out, err = halctl.expect(0, "Connect-VM", "web", stdin=b"echo hello-from-halctl\r")
    check("Booting web" in out and "hello-from-halctl\r\nhello-from-halctl" in out,
          "Connect-VM output: %r %r" % (out, err))

    halctl.expect(0, "Suspend-VM", "web")
    check(halctl.json("Get-VM", "web").get("state") == "Paused", "Suspend-VM -> Paused")
    halctl.expect(0, "Resume-VM", "web")
    halctl.expect(0, "Restart-VM", "web")
    halctl.expect(4, "Remove-VM", "web")  # running
    vm = halctl.json("Stop-VM", "web", "-Force")
    check(vm.get("state") == "Off", "Stop-VM -Force -Json shows the VM off: %r" % vm)
    halctl.expect(4, "Stop-VM", "web", "-TurnOff")  # already off
    halctl.expect(0, "Set-VM", "web", "-ProcessorCount", "4", "-MemoryStartupBytes", "1GB")
    vm = halctl.json("Get-VM", "web")
    check(vm.get("vcpus") == 4 and vm.get("memory_bytes") == 1 << 30, "Set-VM while off: %r" % vm)

    out, _ = halctl.expect(0, "Get-VMLog")
    check("created VM web" in out and "started VM web" in out, "Get-VMLog: %r" % out)
    log = halctl.json("Get-VMLog", "-Since", "8")
    check(log.get("first") == 8, "Get-VMLog -Since: %r" % log)

    # An upload larger than one request body: sent in 64 KiB chunks with Content-Range.
    payload = os.urandom(150 * 1024 + 17)
    source = os.path.join(files, "source-kernel")
    with open(source, "wb") as handle:
        handle.write(payload)
    out, _ = halctl.expect(0, "Copy-VMFile", source, "-DestinationPath", "boot/vmlinuz")
    check(out.strip() == "boot/vmlinuz: %d bytes copied" % len(payload), "Copy-VMFile: %r" % out)
    uploaded = os.path.join(files, "boot_vmlinuz")
    check(os.path.exists(uploaded) and open(uploaded, "rb").read() == payload,
          "the uploaded file arrived intact")
    halctl.expect(8, "Copy-VMFile", os.path.join(files, "missing"))
    halctl.expect(6, "Copy-VMFile", source, "-DestinationPath", "../escape")

    halctl.expect(0, "Remove-VM", "web")
    halctl.expect(3, "Get-VM", "web")
    halctl.expect(3, "Start-VM", "nosuchvm")


def exit_codes_and_settings(halctl, port):
    # Authentication: a wrong key, and the exit code scripts rely on.
    _, err = halctl.expect(2, "Get-VM", key=WRONG_KEY)
    check("different host key" in err, "wrong key message: %r" % err)
    halctl.expect(1, "Get-VM", key="abc")  # not 64 hex digits
    halctl.expect(1, "Frobnicate-VM")
    halctl.expect(1, "Start-VM")  # -Name missing
    halctl.expect(1, "Get-VM", "-Bogus", "x")
    halctl.expect(1, "New-VM", "x", "-Kernel", "k", "-MemoryStartupBytes", "lots")
    halctl.expect(6, "New-VM", "x", "-Kernel", "k", "-MemoryStartupBytes", "1000")
    halctl.expect(1, "Get-VM", host=False)  # no server configured
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    halctl.expect(5, "Get-VM", host="127.0.0.1:%d" % closed_port)

    # Host and key from the environment, then from the config file.
    out, _ = halctl.expect(0, "Get-VMHost", "-Json", host=False, key=None,
                           env={"HALCYON_HOST": "127.0.0.1:%d" % port, "HALCYON_KEY": KEY})
    check(json.loads(out).get("name") == "fakehost", "settings from the environment")
    with tempfile.TemporaryDirectory() as config_home:
        os.makedirs(os.path.join(config_home, "halctl"))
        with open(os.path.join(config_home, "halctl", "config"), "w") as config:
            config.write("# halctl settings\nhost = 127.0.0.1:%d\nkey = %s\n" % (port, KEY))
        halctl.expect(0, "Get-VMHost", host=False, key=None, env={"XDG_CONFIG_HOME": config_home})
        # The command line wins over the file.
        halctl.expect(2, "Get-VMHost", host=False, key=WRONG_KEY,
                      env={"XDG_CONFIG_HOME": config_home})

    out, _ = halctl.expect(0, "completion", "bash", host=False, key=None)
    check("complete -F _halctl halctl" in out and "Connect-VM" in out, "bash completion script")
    result = subprocess.run(["bash", "-n"], input=out.encode(), capture_output=True)
    check(result.returncode == 0, "the completion script is valid bash: %r" % result.stderr)
    out, _ = halctl.expect(0, "help", "stop-vm", host=False, key=None)
    check("-TurnOff" in out, "help for Stop-VM")


def concurrency(halctl):
    # Sixteen clients at once: each gets its answer.
    halctl.expect(0, "New-VM", "busy", "-Kernel", "k")
    results = [None] * 16

    def worker(index):
        results[index] = halctl.run("Get-VM", "busy", "-Json")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for status, out, err in results:
        check(status == 0 and json.loads(out or "{}").get("name") == "busy",
              "concurrent Get-VM: %d %r %r" % (status, out[:100], err[:200]))


def hostile_bytes(halctl, port):
    # A slow, half-sent request on one connection must not block anyone else.
    lingering = socket.create_connection(("127.0.0.1", port))
    lingering.sendall(b"GET /v1/vms HTTP/1.1\r\nHo")
    big = raw_exchange(port, b"PUT /v1/files/x HTTP/1.1\r\nHost: h\r\nContent-Length: 999999\r\n\r\n")
    check(big.startswith(b"HTTP/1.1 413 ") and b"payload_too_large" in big, "413: %r" % big[:200])
    bad = raw_exchange(port, b"GET /v1/vms HTTP/1.1\nHost: h\n\n")
    check(bad.startswith(b"HTTP/1.1 400 ") and b'"code":"bad_request"' in bad, "400: %r" % bad[:200])
    long_line = raw_exchange(port, b"GET /" + b"a" * 5000)
    check(long_line.startswith(b"HTTP/1.1 414 "), "414: %r" % long_line[:200])
    many = b"GET /v1/vms HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(40))
    check(raw_exchange(port, many + b"\r\n").startswith(b"HTTP/1.1 431 "), "431")
    check(raw_exchange(port, b"GET /v1/vms HTTP/2.0\r\nHost: h\r\n\r\n").startswith(
        b"HTTP/1.1 505 "), "505")
    unsigned = raw_exchange(port, b"GET /v1/vms HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    check(unsigned.startswith(b"HTTP/1.1 401 "), "401 without credentials: %r" % unsigned[:100])
    halctl.expect(0, "Get-VMHost")  # still serving
    lingering.close()
    host = halctl.json("Get-VMHost")
    api = host.get("api", {})
    check(api.get("bad_requests", 0) >= 5, "bad requests counted: %r" % api)
    check(api.get("auth_failures", {}).get("missing", 0) >= 1, "auth failures counted: %r" % api)


def main():
    halctl_binary, server_binary = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as files:
        server = subprocess.Popen([server_binary, KEY, files], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        try:
            line = server.stdout.readline().decode()
            check(line.startswith("listening on 127.0.0.1:"), "server ready: %r" % line)
            port = int(line.strip().rsplit(":", 1)[1])
            halctl = Halctl(halctl_binary, "127.0.0.1:%d" % port)
            documented_scheme(port)
            lifecycle(halctl, files)
            exit_codes_and_settings(halctl, port)
            concurrency(halctl)
            hostile_bytes(halctl, port)
        finally:
            server.stdin.close()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                check(False, "the server did not exit when its stdin closed")
    print("%s: %d failures in %.1f s" % ("PASS" if not FAILURES else "FAIL", len(FAILURES),
                                          time.monotonic() - started))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
