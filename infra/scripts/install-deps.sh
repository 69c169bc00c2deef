#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine lacks: Debian's
# Prometheus, VictoriaMetrics and Alertmanager, the AWS Lambda Runtime
# Interface Emulator and Cortex (both into the project's git-ignored
# .tools/bin). moto and cfn-lint come from Python; they are checked, with
# install advice if missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rie_version=v0.0.0-20261030222936-bef5c4ba774d
# Cortex is the engine inside Amazon Managed Service for Prometheus: the
# stand-in for receivers that store a request series by series.
cortex_version=v1.21.1
missing_pkgs=()
command -v prometheus >/dev/null || missing_pkgs+=(prometheus)
command -v victoria-metrics >/dev/null || missing_pkgs+=(victoria-metrics)
command -v prometheus-alertmanager >/dev/null || missing_pkgs+=(prometheus-alertmanager)

if ((${#missing_pkgs[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${missing_pkgs[*]}; run as root or: sudo apt-get install -y --no-install-recommends ${missing_pkgs[*]}" >&2
    exit 1
  fi
  echo "installing ${missing_pkgs[*]} (Debian packages)"
  # Never let a package start its service here: tests start their own.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f "$policy"
fi

if [ ! -x "$root/.tools/bin/aws-lambda-rie" ]; then
  echo "installing aws-lambda-rie $rie_version into .tools/bin"
  GOBIN="$root/.tools/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
fi

if [ ! -x "$root/.tools/bin/cortex" ]; then
  # Built from the Go module proxy's source (there is no Debian package). The
  # module ships a stale vendor/ directory, so build from a writable copy
  # without it; the slicelabels tag is required (without it the ingester
  # panics on the first push). Takes 4-5 minutes on 2 cores, once.
  echo "building cortex $cortex_version into .tools/bin (once, a few minutes)"
  src=$(cd / && go mod download -json "github.com/cortexproject/cortex@$cortex_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$src" ] || [ ! -d "$src" ]; then
    echo "cortex: go mod download github.com/cortexproject/cortex@$cortex_version gave no source directory" >&2
    exit 1
  fi
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"
  rm -rf "$work/vendor"
  mkdir -p "$root/.tools/bin"
  (cd "$work" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 go build -trimpath -tags "netgo slicelabels" -o "$root/.tools/bin/cortex.partial" ./cmd/cortex)
  mv "$root/.tools/bin/cortex.partial" "$root/.tools/bin/cortex"
  echo "built .tools/bin/cortex"
fi

fail=0
if ! command -v moto_server >/dev/null; then
  echo "moto_server not found: install it with: pip install 'moto[server]' (it serves CloudWatch, SNS, SQS, STS and Secrets Manager to the tests)" >&2
  fail=1
fi
if ! command -v cfn-lint >/dev/null; then
  echo "cfn-lint not found: install it with: pip install cfn-lint (it checks template.yaml with the SAM transform)" >&2
  fail=1
fi
exit $fail
