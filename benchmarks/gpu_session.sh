#!/usr/bin/env bash
# The device checks of a GPU session, prepared so that a lent machine's 15 minutes go to measuring.
#
#   here:   bash benchmarks/gpu_wheels.sh                      (once: wheels the GPU image lacks, into .whl/)
#   there:  bash benchmarks/gpu_session.sh 1   (carry .whl; <= 5 min)  CUDA tests, MBPO hopper eager and graphed
#           bash benchmarks/gpu_session.sh 2   (carry .whl; <= 5 min)  phase split, packing k = 1, 2, 4, 8, MB-MPO
#
# Run part 2 right after part 1 (the machine stays warm for 30 s). Every section has its own time limit and
# writes under $OUT (the device tool brings it back; here it defaults to benchmarks/results/gpu), so a section
# that runs out of time still leaves the others' results. docs/performance.md says how to read them.
set -uo pipefail
cd "$(dirname "$0")/.."
part=${1:?usage: gpu_session.sh 1|2}
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MUJOCO_GL=egl
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
fi
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
log() { echo "== $(date +%T) $*"; }

log "part $part on $(nvidia-smi -L 2>/dev/null | head -1)"
python3 -c "import torch, mujoco, gymnasium, pydantic; print('torch', torch.__version__, 'cuda', torch.version.cuda,
  torch.cuda.get_device_name(0), '| mujoco', mujoco.__version__, '| gymnasium', gymnasium.__version__)" || exit 1

case "$part" in
1)
  log "CUDA tests (same numbers as CPU, graphed SAC update = eager, no host sync, every algorithm runs and resumes)"
  timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/cuda_tests.log"
  log "MBPO hopper, paper settings, eager: headline rate (no phase syncs: host and GPU overlap as in a real run)"
  timeout 100 python3 benchmarks/run.py --device cuda --reps 3 --no-phase-sync --out "$OUT" 2>&1 \
    | tee "$OUT/mbpo_eager.log"
  log "MBPO hopper, paper settings, SAC updates replayed from CUDA graphs (sac_cuda_graph=true)"
  timeout 100 python3 benchmarks/run.py --device cuda --reps 3 --no-phase-sync --set sac_cuda_graph=true \
    --out "$OUT" 2>&1 | tee "$OUT/mbpo_graphed.log"
  ;;
2)
  log "MBPO hopper, paper settings, eager: phase split (a sync at each phase boundary puts GPU time in its phase)"
  timeout 60 python3 benchmarks/run.py --device cuda --reps 1 --out "$OUT" 2>&1 | tee "$OUT/mbpo_split.log"
  log "packing without MPS: MBPO hopper, k copies at once (100 timed steps each, one model fit among them)"
  timeout 120 python3 benchmarks/run.py --device cuda --pack 1 2 4 8 --pack-only --reps 1 --steps 100 \
    --no-phase-sync --out "$OUT" 2>&1 | tee "$OUT/pack.log"
  if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d; then
    log "packing with MPS"
    timeout 60 python3 benchmarks/run.py --device cuda --pack 4 --pack-only --reps 1 --steps 100 \
      --no-phase-sync --out "$OUT" 2>&1 | tee "$OUT/pack_mps.log"
    echo quit | nvidia-cuda-mps-control
  else
    log "MPS not available on this machine: packing measured without it only" | tee "$OUT/pack_mps.log"
  fi
  log "MB-MPO reduced (2 of 30 meta-steps, <= 10 model epochs; per-unit times scale to the paper's settings)"
  timeout 70 python3 benchmarks/run.py --device cuda --cases mbmpo-reduced --reps 1 --out "$OUT" 2>&1 \
    | tee "$OUT/mbmpo.log"
  ;;
*)
  echo "usage: gpu_session.sh 1|2" >&2
  exit 2
  ;;
esac
log "done; files in $OUT:"
ls -l "$OUT"
