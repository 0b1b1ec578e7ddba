# halcyon.test=kvp: the key-value pair exchange with the real hv_kvp_daemon (the integration case
# vm_kvp_e2e and its driver tests/integration/vm_kvp_e2e.py). Loads the Hyper-V drivers, gives
# the guest its host name and addresses and starts hv_kvp_daemon (start_kvp in common.sh:
# halcyon.hostname, halcyon.ipv4, halcyon.ipv6), so that the host can read them; then waits
# (halcyon.wait seconds) for the host's own item VirtualMachineName, which Halcyon writes into
# the AutoExternal pool (3) once the daemon answers and the daemon keeps in
# /var/lib/hyperv/.kvp_pool_3 - the other direction of the exchange:
#   kvp daemon running (pid P): hostname NAME, dummy0 ADDRESSES
#   kvp host item VirtualMachineName = NAME (after N s)
#   kvp test PASS | kvp test FAIL (N problems)
# It never ends by itself: the host shuts the VM down (Stop-VM through the shutdown service).
. /tests/common.sh

# The value of KEY in daemon pool file $1: records of key[512] and value[2048] (NUL-padded
# UTF-8, the daemon's struct kvp_record), read 512 bytes at a time.
pool_value() {
    local file="$1" key="$2" records index=0
    [ -f "$file" ] || return 1
    records=$(($(stat -c %s "$file") / 2560))
    while [ "$index" -lt "$records" ]; do
        if [ "$(dd if="$file" bs=512 skip=$((index * 5)) count=1 2>/dev/null | tr -d '\000')" = \
            "$key" ]; then
            dd if="$file" bs=512 skip=$((index * 5 + 1)) count=4 2>/dev/null | tr -d '\000'
            return 0
        fi
        index=$((index + 1))
    done
    return 1
}

load_group vmbus
start_kvp || failed "kvp test FAILED: the daemon did not start"

if [ -n "$kvp_daemon_pid" ]; then
    waited=0
    until value="$(pool_value /var/lib/hyperv/.kvp_pool_3 VirtualMachineName)"; do
        if [ "$waited" -ge $((wait_seconds * 5)) ]; then
            failed "kvp test FAILED: no VirtualMachineName from the host after ${wait_seconds} s"
            break
        fi
        if ! kill -0 "$kvp_daemon_pid" 2>/dev/null; then
            failed "kvp test FAILED: hv_kvp_daemon exited: $(tr '\n' ' ' </tmp/kvp-daemon.log)"
            break
        fi
        usleep 200000
        waited=$((waited + 1))
    done
    [ -n "$value" ] &&
        say "kvp host item VirtualMachineName = $value (after $((waited / 5)).$((waited % 5 * 2)) s)"
fi

if [ "$failures" -eq 0 ]; then
    say "kvp test PASS"
else
    say "kvp test FAIL ($failures problems)"
fi
# The host reads the guest's items while it runs: stay up until it stops the VM.
while true; do
    sleep 3600
done
