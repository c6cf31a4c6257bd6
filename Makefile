# Both targets set up everything they need: a .venv with the pinned versions, then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: parity test porting demo mutants notebooks install clean

parity: $(STAMP)  ## the main job: every concept, float64 and float32, CPU + any GPU
	$(VENV)/bin/rosetta parity

test: $(STAMP)  ## the whole test suite
	$(VENV)/bin/python -m pytest

porting: $(STAMP)  ## measure every documented framework difference
	$(VENV)/bin/rosetta porting

demo: $(STAMP)  ## the book's multi-layer net, SimpleConvNet, seq2seq, a metric-learning net, a DCGAN and BiT transfer in NumPy, PyTorch and TF
	$(VENV)/bin/rosetta demo mlp
	$(VENV)/bin/rosetta demo cnn
	$(VENV)/bin/rosetta demo seq2seq
	$(VENV)/bin/rosetta demo metric
	$(VENV)/bin/rosetta demo gan
	$(VENV)/bin/rosetta demo bit

mutants: $(STAMP)  ## mutation testing: does rosetta parity notice a one-token slip? (~10 min; not in make test)
	$(VENV)/bin/python -m tools.mutate

notebooks: $(STAMP)  ## run every notebook and save it with its outputs (after editing one)
	$(VENV)/bin/python -m tools.notebooks

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v[:2] == (3, 11) else f"dl-rosetta needs Python 3.11, found {v.major}.{v.minor}: make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[all,test]"
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
