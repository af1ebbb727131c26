# test: host checks (cargo test, fmt, clippy) and lab scenarios, one PASS/FAIL line each and
# a final "N passed, N failed" line. Sourced by run-xen.sh.
# shellcheck shell=bash

TEST_PASSED=0
TEST_FAILED=0

report() { # PASS|FAIL name [reason]
  if [ "$1" = PASS ]; then
    TEST_PASSED=$((TEST_PASSED + 1)); echo "PASS $2"
  else
    TEST_FAILED=$((TEST_FAILED + 1)); echo "FAIL $2: $3"
  fi
}

all_scenarios() {
  local f
  for f in "$LAB_DIR"/scenarios/*.sh; do basename "$f" .sh; done
}

host_checks() {
  local out="$ROOT/target/lab/host-tests.log"
  mkdir -p "$(dirname "$out")"
  # The ELF-notes test parses the kernel image: build it first and make its absence an error.
  if kernel_build; then report PASS kernel-build; else report FAIL kernel-build "cargo kbuild failed"; fi
  export VSNOOP_REQUIRE_KERNEL_ELF=1
  log "host tests: cargo test --workspace (log: $out)"
  if cargo test --workspace 2>&1 | tee "$out" | grep -E '^(test result|error|failures:|    [a-z_:]+$)'; then :; fi
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    report PASS cargo-test
  else
    report FAIL cargo-test "see $out"
  fi
  if cargo fmt --all -- --check >/dev/null 2>&1; then report PASS fmt; else report FAIL fmt "cargo fmt --all -- --check"; fi
  if cargo clippy --workspace --all-targets --quiet -- -D warnings >"$ROOT/target/lab/clippy.log" 2>&1; then
    report PASS clippy
  else
    report FAIL clippy "see target/lab/clippy.log"
  fi
  # The kernel's PV-only code is invisible to a host clippy run: lint it for its target.
  if RUSTC_BOOTSTRAP=1 cargo kclippy --quiet -- -D warnings >"$ROOT/target/lab/clippy-kernel.log" 2>&1; then
    report PASS clippy-kernel
  else
    report FAIL clippy-kernel "see target/lab/clippy-kernel.log"
  fi
}

# Runs scenarios in one lab boot and reports each.
lab_scenarios() {
  local initrd logf rc name line reason
  kernel_build
  image_build
  initrd=$(lab_initrd test "$@")
  qemu_args "$initrd"
  logf="$ROOT/target/lab/test-console.log"
  mkdir -p "$ROOT/target/lab"
  log "lab: booting Xen + dom0 for: $* (console log: $logf)"
  set +e
  timeout "${VSNOOP_TIMEOUT:-$((1200 + ${VSNOOP_LAB_BYTES:-8000000} / 50000))}" "${QEMU_ARGS[@]}" </dev/null >"$logf" 2>&1
  rc=$?
  set -e
  rm -rf "$(dirname "$initrd")"
  tr -d '\r' <"$logf" >"$logf.txt"
  for name in "$@"; do
    if line=$(grep -m1 "^VSNOOP-LAB-DEFECT $name:" "$logf.txt"); then
      report FAIL "$name" "LAB defect, not a vsnoop verdict: ${line#*: }"
    elif grep -q "^VSNOOP-RESULT PASS $name\$" "$logf.txt"; then
      report PASS "$name"
    elif line=$(grep -m1 "^VSNOOP-RESULT FAIL $name:" "$logf.txt"); then
      report FAIL "$name" "vsnoop: ${line#*: }"
      sed -n "/^VSNOOP-SCENARIO-START $name\$/,/^VSNOOP-SCENARIO-END $name/p" "$logf.txt" | grep -v '^(XEN)' | tail -60 | sed 's/^/    /'
    else
      if ! grep -q '^LAB: dom0 ready' "$logf.txt"; then
        reason="LAB: dom0 never came up (qemu exit $rc)"
      elif [ "$rc" -eq 124 ]; then
        reason="LAB or vsnoop: the boot timed out and was killed (hung)"
      else
        reason="no verdict (qemu exit $rc)"
      fi
      report FAIL "$name" "$reason; console tail:"
      tail -15 "$logf.txt" | sed 's/^/    /'
    fi
  done
}

lab_test() {
  local want=("$@") scen=()
  [ ${#want[@]} -eq 0 ] && want=(host $(all_scenarios))
  local w
  for w in "${want[@]}"; do
    if [ "$w" = host ]; then
      host_checks
    elif [ -f "$LAB_DIR/scenarios/$w.sh" ]; then
      scen+=("$w")
    else
      report FAIL "$w" "no such scenario (have: host $(all_scenarios | tr '\n' ' '))"
    fi
  done
  [ ${#scen[@]} -gt 0 ] && lab_scenarios "${scen[@]}"
  echo "$TEST_PASSED passed, $TEST_FAILED failed"
  [ "$TEST_FAILED" -eq 0 ]
}
