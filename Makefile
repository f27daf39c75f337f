# CPU builds use GOEXPERIMENT=simd: the pure-Go backend's AVX-512 matmul is ~20x faster with it.
export GOEXPERIMENT := simd
GO ?= go
LIBTOKENIZERS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/steer/libtokenizers/v1.22.1

.PHONY: build build-xla test test-go test-oracle test-xla vet bench fuzz

build:
	$(GO) build -o bin/steer ./cmd/steer

# steer with the XLA (PJRT) backend linked in (cgo), and a CPU PJRT plugin for it (from PyPI, cached):
# run with --backend xla:$$(bash scripts/xla-cpu-plugin.sh), about 2x the Go backend's forward passes on CPU.
build-xla:
	$(GO) build -tags xla -o bin/steer-xla ./cmd/steer
	bash scripts/xla-cpu-plugin.sh

# The test command of the README and of CI.
test: vet test-go test-oracle test-xla

vet:
	$(GO) vet ./...

# The Python peers (sae-lens, huggingface_hub) live in a venv outside the clone, keyed by the
# requirements' hash, created on first use by scripts/venv.sh.
test-go:
	PY="$$(bash scripts/venv.sh)/bin/python" && STEER_SAELENS_PYTHON="$$PY" STEER_HF_PYTHON="$$PY" $(GO) test ./...

# Hugging Face's Rust tokenizers (daulet/tokenizers v1.22.1, built with cargo) as the oracle
# for our pure-Go tokenizer on the whole corpus.
test-oracle:
	bash scripts/build-libtokenizers.sh "$(LIBTOKENIZERS_DIR)"
	CGO_ENABLED=1 CGO_LDFLAGS="-L$(LIBTOKENIZERS_DIR)" $(GO) test -tags hftokenizers ./tokenizer/hforacle/ ./cmd/steer/

# The XLA (PJRT) backend, CUDA's code path, checked on CPU with a CPU PJRT plugin against the same references.
test-xla:
	STEER_XLA_PLUGIN="$$(bash scripts/xla-cpu-plugin.sh)" $(GO) test -tags xla -run XLA ./model/ ./sae/

bench:
	$(GO) test -run XXX -bench . -benchtime 3x ./weights/ ./tokenizer/

fuzz:
	$(GO) test ./weights/ -run XXX -fuzz FuzzSafetensorsHeader -fuzztime 60s
	$(GO) test ./weights/ -run XXX -fuzz FuzzParseConfig -fuzztime 60s
	$(GO) test ./tokenizer/ -run XXX -fuzz FuzzEncode -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./tokenizer/ -run XXX -fuzz FuzzFromBytes -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./sae/ -run XXX -fuzz FuzzReadNPY -fuzztime 60s
	$(GO) test ./sae/ -run XXX -fuzz FuzzReadNPZ -fuzztime 60s
	$(GO) test ./sae/ -run XXX -fuzz FuzzLoadConfig -fuzztime 60s
	$(GO) test ./activations/ -run XXX -fuzz FuzzOpenCache -fuzztime 60s
	$(GO) test ./activations/ -run XXX -fuzz FuzzDocReader -fuzztime 60s
	$(GO) test ./model/chat/ -run XXX -fuzz FuzzTemplate -fuzztime 60s
