# Shelf: two commands do everything — `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
OUT    ?= out

.PHONY: install tools serve test lint bench cost clean package cfn-lint load fuzz

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## tools: the command-line clients the tests run (curl for the README walkthrough, downloads, 307 uploads;
## dpkg-deb, apt-get and gpg for the Debian client test; dnf, rpmbuild and the download plugin for the RPM one)
tools:
	@# Debian packages the tests run, those missing only, in one apt-get: curl (README walkthrough, downloads),
	@# mvn + Debian's dependency plugin and junit4 (Maven runs it from a file:// central), npm, dnf + rpm +
	@# dnf-plugins-core (the dnf client test, rpmbuild), gnupg
	@missing=""; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	[ -d /usr/share/maven-repo/org/apache/maven/plugins/maven-dependency-plugin ] || missing="$$missing libmaven-dependency-plugin-java"; \
	[ -e /usr/share/java/junit4.jar ] || missing="$$missing junit4"; \
	command -v dnf >/dev/null || missing="$$missing dnf"; \
	command -v rpmbuild >/dev/null || missing="$$missing rpm"; \
	[ -e /usr/lib/python3/dist-packages/dnf-plugins/download.py ] || missing="$$missing dnf-plugins-core"; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	[ -z "$$missing" ] || (echo "installing:$$missing" && apt-get update -qq && apt-get install -y -qq $$missing)

## serve: embedded local AWS (moto server) + the API on http://127.0.0.1:$(PORT)
serve: install
	PORT=$(PORT) $(PY) -m infra.local.serve

## test: lint, the import layering (.importlinter), then the whole suite
test: install tools
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2 --dist loadfile  # two workers (CI has 2 cores), a test file per worker

## bench: AWS operations and latency per route, cold import time (figures in docs/performance.md)
bench: install
	$(PY) -m bench

## package: the deployable CloudFormation template in $(OUT)/ (sam.json + deployment.zip; no AWS account
## needed): the merge template generated from the code (infra/cloudformation.py) merged into `chalice package`,
## Chalice's REST API replaced by the merge template's HTTP API, the package's modules compiled for the
## functions' runtime (which must be this venv's Python)
package: install
	mkdir -p $(OUT)
	$(PY) -m infra.cloudformation $(OUT)/merge-template.json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage prod \
	    --merge-template $(OUT)/merge-template.json $(OUT)
	$(PY) -m infra.cloudformation http-api $(OUT)/sam.json  # the HTTP API replaces Chalice's REST API
	$(PY) -m infra.cloudformation compact $(OUT)/sam.json  # CloudFormation's 1 MB template limit
	$(PY) -m infra.cloudformation compile $(OUT)  # .pyc in deployment.zip: /var/task is read-only

## cfn-lint: the packaged template passes cfn-lint (make test runs it in tests/test_deploy_template.py)
cfn-lint: install
	$(MAKE) package OUT=.package
	$(VENV)/bin/cfn-lint .package/sam.json
## load: PUBLISHERS (4) publishers and DOWNLOADERS (8) downloaders for DURATION or SECONDS (60) s against a
## fresh make serve (CONTAINERS (2) API processes on its local AWS), or against URL= (loopback; ADMIN=user:key),
## then the state checks; figures as in docs/reliability.md ("Load")
load: install
	DURATION=$(or $(DURATION),$(SECONDS),60) $(PY) -m bench.load $(if $(URL),--url $(URL))

## fuzz: schemathesis' long mode: FUZZ_EXAMPLES (200) positive and as many negative cases per operation of
## GET /openapi.json (make test runs 1 of each), FUZZ_SEED (fixed) for others (docs/reliability.md, "Schemathesis")
fuzz: install
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),200) $(PY) -m pytest -q -s tests/test_schemathesis.py

## cost: dollars per million requests at AWS list prices, from measured operations (docs/performance.md)
cost: install
	$(PY) -m bench.cost

lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
