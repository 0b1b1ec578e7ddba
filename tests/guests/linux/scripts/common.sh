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
