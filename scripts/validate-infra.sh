#!/usr/bin/env bash
# Offline checks of the SAM stack (infra/template.yaml): `sam validate --lint`, `cfn-lint`
# and `checkov`. Installs the tools on first use into .tools/ (separate venvs: checkov
# would downgrade SAM's boto3). No AWS account or network beyond PyPI is needed.
# Checks that do not apply are skipped in the template itself, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools
SAM_VENV="$TOOLS/sam"
CHECKOV_VENV="$TOOLS/checkov"
TEMPLATE=infra/template.yaml
export SAM_CLI_TELEMETRY=0

pip_install() {
    local venv=$1
    shift
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

if ! "$SAM_VENV/bin/sam" --version 2>/dev/null | grep -q "1.170.0"; then
    echo "installing aws-sam-cli 1.170.0 (with cfn-lint) and cargo-lambda 1.9.2 into $SAM_VENV" >&2
    pip_install "$SAM_VENV" aws-sam-cli==1.170.0 cargo-lambda==1.9.2
fi
if ! "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -q "3.3.30"; then
    echo "installing checkov 3.3.30 into $CHECKOV_VENV" >&2
    pip_install "$CHECKOV_VENV" checkov==3.3.30
fi

echo "== sam validate --lint"
# sam needs a region to resolve the transform; nothing is sent anywhere.
AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" "$SAM_VENV/bin/sam" validate --lint --template-file "$TEMPLATE"

echo "== cfn-lint"
"$SAM_VENV/bin/cfn-lint" "$TEMPLATE"
echo "cfn-lint: no findings"

echo "== checkov"
"$CHECKOV_VENV/bin/checkov" -f "$TEMPLATE" --framework cloudformation --skip-download --compact --quiet
echo "checkov: passed"
