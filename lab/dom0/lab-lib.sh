# Helpers for lab scenarios, sourced in dom0. A scenario calls exactly one of pass / fail.
# Result lines are parsed by the host (lab/test.sh):
#   VSNOOP-RESULT PASS <name>
#   VSNOOP-RESULT FAIL <name>: <reason>
#   VSNOOP-LAB-DEFECT <name>: <reason>   (dom0 itself is broken: a lab verdict, not vsnoop's)

LAB_IMAGES=/lab/images
VSNOOP_ELF=/lab/vsnoop.elf

pass() { echo "VSNOOP-RESULT PASS $SCENARIO"; exit 0; }
fail() { echo "VSNOOP-RESULT FAIL $SCENARIO: $*"; exit 1; }
note() { echo "[$SCENARIO] $*"; }

# Starts a domain's console log afresh (logs are per domain name and would otherwise mix
# the output of earlier boots of the same name).
fresh_console() { rm -f "/var/log/xen/console/guest-$1.log"; }

# Prints a guest's console log (xenconsoled --log=guest) with a prefix.
show_console() { # domain-name
  sed "s/^/[$1 console] /" "/var/log/xen/console/guest-$1.log" 2>/dev/null | tr -d '\r'
}

# Waits until a command succeeds: wait_for SECONDS CMD...
wait_for() {
  local t=$1 i=0; shift
  while ! "$@" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge $((t * 10)) ] && return 1; sleep 0.1
  done
}

# State letters of a domain in `xl list` (r b p s c d), empty if it does not exist.
dom_state() { xl list "$1" 2>/dev/null | awk 'NR==2 {print $5}'; }
dom_gone() { ! xl list "$1" >/dev/null 2>&1; }

# dom0 integrity: the tools' hashes taken when the image was built.
lab_integrity_ok() { sha256sum -c --quiet /lab/integrity.sha256 >/tmp/integrity.out 2>&1; }

lab_run_list() {
  local name rc
  for name in $(cat "$1"); do
    echo "VSNOOP-SCENARIO-START $name"
    xl dmesg -c >/dev/null 2>&1   # each scenario judges only its own hypervisor messages
    timeout "${SCENARIO_TIMEOUT:-300}" sh -c "SCENARIO=$name; . /lab/lab-lib.sh; . /lab/scenarios/$name.sh" 2>&1
    rc=$?
    [ "$rc" -eq 124 ] && echo "VSNOOP-RESULT FAIL $name: scenario still running after ${SCENARIO_TIMEOUT:-300}s, killed"
    # Clean up whatever the scenario left running.
    for d in $(xl list 2>/dev/null | awk 'NR>2 {print $1}'); do xl destroy "$d" >/dev/null 2>&1; done
    if ! lab_integrity_ok; then
      echo "VSNOOP-LAB-DEFECT $name: dom0 files changed under the lab ($(head -3 /tmp/integrity.out | tr '\n' ' '))"
    fi
    echo "VSNOOP-SCENARIO-END $name rc=$rc"
  done
}
