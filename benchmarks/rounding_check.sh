#!/usr/bin/env bash
# The numeric tests under other float rounding (issue 29): a test must pass on any host, not only on the
# arithmetic of the machine it was written on. Each setting below changes how PyTorch sums or orders float
# operations (as another CPU would) and runs the numerics-sensitive test files once, at nice 19:
#
#   default        this host's own kernels (2 threads on a 2-core machine)
#   cap=default    ATEN_CPU_CAPABILITY=default: PyTorch's non-vectorized kernels (other summation order)
#   cap=avx2       ATEN_CPU_CAPABILITY=avx2, only where the host's own capability is AVX512
#   mkldnn=off     torch.backends.mkldnn.enabled = False (oneDNN off: other matmul/conv kernels)
#   threads=1      OMP_NUM_THREADS=1 and torch.set_num_threads(1)
#   threads=2      OMP_NUM_THREADS=2 and torch.set_num_threads(2)
#   deterministic  torch.use_deterministic_algorithms(True)
#
#   bash benchmarks/rounding_check.sh                        the default file list, every setting
#   bash benchmarks/rounding_check.sh tests/test_ensemble.py only these files (pytest arguments)
#   SETTINGS="cap=default mkldnn=off" bash benchmarks/rounding_check.sh    only these settings
#   LEARNING=1 bash benchmarks/rounding_check.sh             adds tests/test_learning.py (minutes per setting)
#
# Prints one line per setting (what took effect, pytest's summary, wall time) and keeps each full log under
# $LOGS (default $TMPDIR/rounding_check, outside the repository). Exit status: 0 when every setting passed.
set -uo pipefail
cd "$(dirname "$0")/.."
LOGS=${LOGS:-${TMPDIR:-/tmp}/rounding_check}
mkdir -p "$LOGS"

if [ $# -gt 0 ]; then
  files=("$@")
else
  files=(tests/test_ensemble.py tests/test_mbpo.py tests/test_sac.py tests/test_tom.py tests/test_mnm.py
    tests/test_mg.py tests/test_mbmpo.py tests/test_policy_gradient.py tests/test_buffers_and_rollouts.py
    tests/test_model_diagnostics.py)
  if [ "${LEARNING:-0}" = 1 ]; then files+=(tests/test_learning.py); fi
fi

native=$(python -c "import torch; print(torch.backends.cpu.get_cpu_capability())")
all_settings="default cap=default cap=avx2 mkldnn=off threads=1 threads=2 deterministic"
echo "host: $(nproc) cores, torch $(python -c 'import torch; print(torch.__version__)'), own capability $native"
echo "files: ${files[*]}"

# pytest in-process, after the setting's Python statement ($PRE); first prints what is in effect
PY='
import os, sys, torch, pytest
exec(os.environ["PRE"])
print(f"EFFECTIVE cap={torch.backends.cpu.get_cpu_capability()} threads={torch.get_num_threads()} "
      f"mkldnn={torch.backends.mkldnn.enabled} deterministic={torch.are_deterministic_algorithms_enabled()}",
      flush=True)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *os.environ["FILES"].split()]))
'

status=0
for setting in ${SETTINGS:-$all_settings}; do
  env_vars=() pre="pass"
  case "$setting" in
  default) ;;
  cap=default) env_vars=(ATEN_CPU_CAPABILITY=default) ;;
  cap=avx2)
    if [ "$native" != AVX512 ]; then
      echo "$(printf '%-14s' "$setting") skipped: own capability is $native, not AVX512"
      continue
    fi
    env_vars=(ATEN_CPU_CAPABILITY=avx2)
    ;;
  mkldnn=off) pre="torch.backends.mkldnn.enabled = False" ;;
  threads=1) env_vars=(OMP_NUM_THREADS=1) pre="torch.set_num_threads(1)" ;;
  threads=2) env_vars=(OMP_NUM_THREADS=2) pre="torch.set_num_threads(2)" ;;
  deterministic) pre="torch.use_deterministic_algorithms(True)" ;;
  *)
    echo "unknown setting $setting (known: $all_settings)" >&2
    exit 2
    ;;
  esac
  log="$LOGS/${setting//=/-}.log"
  start=$(date +%s)
  env "${env_vars[@]}" FILES="${files[*]}" PRE="$pre" nice -n 19 python -c "$PY" >"$log" 2>&1
  rc=$?
  wall=$(($(date +%s) - start))
  [ $rc -eq 0 ] || status=1
  effective=$(grep -m1 '^EFFECTIVE' "$log" | cut -d' ' -f2-)
  summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)' "$log" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')
  printf '%-14s rc=%d  %-40s %5ds  [%s]\n' "$setting" "$rc" "${summary:-no summary, see $log}" "$wall" "$effective"
  grep -E '^FAILED' "$log" | sed 's/^/    /'
done
exit $status
