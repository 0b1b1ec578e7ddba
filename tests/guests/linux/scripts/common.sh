# Shared helpers of the Linux test guest's test scripts (sourced by /tests/*.sh, busybox ash).
# Every line meant for a test starts with "HALCYON-GUEST: ".

say() {
    echo "HALCYON-GUEST: $*"
}

failures=0
failed() {
    failures=$((failures + 1))
    say "$@"
}

# The value of kernel command line option $1 (halcyon.NAME=VALUE), or $2.
option() {
    local word
    for word in $(cat /proc/cmdline); do
        case "$word" in
        "$1"=*)
            echo "${word#*=}"
            return
            ;;
        esac
    done
    echo "$2"
}

release="$(uname -r)"
module_dir="/lib/modules/$release"
wait_seconds="$(option halcyon.wait 120)"
stuck_modules=""
failed_modules=""

# True when module path $1 depends (directly or not) on a module that failed or is stuck.
needs_failed_module() {
    local dependencies path
    dependencies="$(grep "^$1:" "$module_dir/modules.dep" | cut -d: -f2)"
    for path in $failed_modules $stuck_modules; do
        case " $dependencies " in
        *" $path "*) return 0 ;;
        esac
    done
    return 1
}

# insmod of one module, in the background: a driver whose probe waits for a host that never
# answers (hv_vmbus waits for the VMBus host's reply without a timeout) must not hang the test.
# Prints "module NAME loaded|already loaded|FAILED: why|STUCK: ...|skipped: ...".
load_module() {
    local name="$1" path="$2" log="/tmp/insmod.$1" pid tenths=0 status
    if [ -e "/sys/module/$name" ]; then
        say "module $name already loaded"
        return 0
    fi
    if needs_failed_module "$path"; then
        failed_modules="$failed_modules $path"
        failed "module $name skipped: a module it needs did not load"
        return 1
    fi
    insmod "$module_dir/$path" >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$tenths" -ge $((wait_seconds * 10)) ]; then
            stuck_modules="$stuck_modules $path"
            failed "module $name STUCK: insmod still running after ${wait_seconds} s" \
                "(initstate $(cat "/sys/module/$name/initstate" 2>/dev/null || echo none))"
            return 1
        fi
        usleep 100000
        tenths=$((tenths + 1))
    done
    wait "$pid"
    status=$?
    if [ "$status" -eq 0 ]; then
        say "module $name loaded ($((tenths / 10)).$((tenths % 10)) s)"
        return 0
    fi
    failed_modules="$failed_modules $path"
    failed "module $name FAILED: $(tr '\n' ' ' <"$log")"
    return 1
}

# Loads the modules of group $1 (kernel_modules.py wrote them in dependency order).
load_group() {
    local name path
    if [ ! -f "$module_dir/halcyon-$1.load" ]; then
        failed "no module group $1 in $module_dir"
        return 1
    fi
    while read -r name path; do
        load_module "$name" "$path"
    done <"$module_dir/halcyon-$1.load"
}

# Waits up to $wait_seconds for block device $1; true when it is there.
wait_for_disk() {
    local waited=0
    while [ ! -b "$1" ]; do
        [ "$waited" -ge "$wait_seconds" ] && return 1
        sleep 1
        waited=$((waited + 1))
    done
    say "disk $1 appeared after ${waited} s"
}

# The guest's identity for the host's KVP integration service, then hv_kvp_daemon (Debian's
# hyperv-daemons, in the initramfs with its libc). Without the daemon Linux's hv_utils never
# answers KVP; with it the host reads the guest's Auto pool: FullyQualifiedDomainName and
# NetworkAddressIPv4/IPv6 (Get-VM's ComputerName and IPAddresses). Needs hv_utils loaded
# (load_group vmbus): the daemon opens /dev/vmbus/hv_kvp. Options (kernel command line):
#   halcyon.hostname=NAME   the host name (default halcyon-guest)
#   halcyon.ipv4=A.B.C.D/N  an address for the guest's interface (default 192.0.2.10/24,
#                           TEST-NET-1), "none" for no IPv4 address
#   halcyon.ipv6=ADDR/N     likewise (default 2001:db8::10/64, the documentation prefix)
# The interface is eth0 when the VM has a synthetic NIC (hv_netvsc), else dummy0 (module dummy):
# the daemon reports every address except loopback's, and Halcyon offers no NIC to VMs yet.
# Prints "kvp daemon running ..." and returns 0, or prints why not and returns 1.
start_kvp() {
    local name ipv4 ipv6 interface waited=0
    if [ -n "$kvp_daemon_pid" ] && kill -0 "$kvp_daemon_pid" 2>/dev/null; then
        return 0
    fi
    name="$(option halcyon.hostname halcyon-guest)"
    ipv4="$(option halcyon.ipv4 192.0.2.10/24)"
    ipv6="$(option halcyon.ipv6 2001:db8::10/64)"
    if [ ! -x /usr/sbin/hv_kvp_daemon ]; then
        say "kvp daemon not started: no /usr/sbin/hv_kvp_daemon"
        return 1
    fi
    # The daemon is of use only when hv_utils bound a KVP offer (not when hv_vmbus refused to
    # load, e.g. on a hypervisor that is not Hyper-V, nor when the host offers no KVP).
    if ! cat /sys/bus/vmbus/devices/*/class_id 2>/dev/null |
        grep -q a9a0f4e7-5a45-4d96-b827-8a841e8c03e6; then
        say "kvp daemon not started: the host offered no KVP service"
        return 1
    fi
    hostname "$name"
    mkdir -p /etc /var/lib/hyperv
    echo "$name" >/etc/hostname
    # The daemon's FullyQualifiedDomainName is getaddrinfo(host name, AI_CANONNAME), resolved
    # once when it starts; without an entry it reports "getaddrinfo failed: ...". glibc's files
    # backend is built into libc.so.6: no NSS module is needed.
    echo "hosts: files" >/etc/nsswitch.conf
    {
        echo "127.0.0.1 localhost"
        if [ "$ipv4" != none ]; then echo "${ipv4%/*} $name"; else echo "127.0.1.1 $name"; fi
    } >/etc/hosts
    ip link set lo up
    if [ -e /sys/class/net/eth0 ]; then
        interface=eth0
    else
        [ -e /sys/class/net/dummy0 ] || load_group net >/dev/null
        interface=dummy0
    fi
    if [ ! -e "/sys/class/net/$interface" ]; then
        say "kvp daemon not started: no network interface ($interface)"
        return 1
    fi
    ip link set "$interface" up
    [ "$ipv4" = none ] || ip addr add "$ipv4" dev "$interface" ||
        say "kvp: ip addr add $ipv4 dev $interface did not work"
    [ "$ipv6" = none ] || ip -6 addr add "$ipv6" dev "$interface" ||
        say "kvp: ip -6 addr add $ipv6 dev $interface did not work"
    # hv_utils makes the device when it binds the host's KVP offer.
    while [ ! -c /dev/vmbus/hv_kvp ]; do
        if [ "$waited" -ge 100 ]; then
            say "kvp daemon not started: no /dev/vmbus/hv_kvp after 10 s"
            return 1
        fi
        usleep 100000
        waited=$((waited + 1))
    done
    # -n: stay in the foreground (as its systemd unit runs it), so that $! is the daemon; it
    # logs to syslog only, its stderr says why it could not start.
    /usr/sbin/hv_kvp_daemon -n </dev/null >/tmp/kvp-daemon.log 2>&1 &
    kvp_daemon_pid=$!
    usleep 300000
    if ! kill -0 "$kvp_daemon_pid" 2>/dev/null; then
        say "kvp daemon not started: it exited: $(tr '\n' ' ' </tmp/kvp-daemon.log)"
        return 1
    fi
    # Its addresses but the link-local one (the daemon reports that too).
    say "kvp daemon running (pid $kvp_daemon_pid): hostname $name, $interface" \
        "$(ip -o addr show dev "$interface" |
            awk '$3 != "inet6" || $4 !~ /^fe80/ { printf "%s%s", sep, $4; sep = " " }')"
    return 0
}
