#!/usr/bin/env bash
# Run HERE, before a GPU session: the lent GPU machines hold torch (CUDA), numpy, pandas, typer, rich, pyyaml,
# matplotlib, seaborn, scipy and pytest, but not the simulator stack or pydantic, and they cannot reach an index.
# This fetches those wheels (Python 3.12, x86-64, the versions installed here) into .whl/ (git-ignored);
# pass `carry: [".whl"]` to the device call and run benchmarks/gpu_session.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
version() { python3 -c "from importlib.metadata import version; print(version('$1'))"; }
pkgs=()
for name in mujoco gymnasium pydantic pydantic_core annotated-types typing-inspection farama-notifications glfw \
    pyopengl; do
  pkgs+=("$name==$(version "$name")")
done
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pkgs[@]}"
ls -l .whl
