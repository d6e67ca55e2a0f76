#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (its "Ubuntu" base image): installs what the course's grader and the labs'
# tests need, then builds the test helpers. It stops at the first failure:
# Gradescope then shows the image's build as failed, with this output,
# rather than grading every submission without a tool (a test skipped for a
# missing tool counts as passed).
#
# Written into the autograder zip by make gradescope (tests/tools/gradescope)
# from tests/grading/gradescope/setup.sh; the course is in sockets-lab/
# beside it (/autograder/source on Gradescope).
set -euo pipefail

SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COURSE=$SOURCE/sockets-lab
# bats_load_library, which the tests use, came with bats 1.7.0.
BATS_MINIMUM=1.7.0
export DEBIAN_FRONTEND=noninteractive

# candidate PACKAGE: the version apt would install, or nothing.
candidate() {
    apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '^(none)$' || true
}

# The compiler and make; the tests' tools: real clients (ncat, socat,
# netcat-openbsd), script/prlimit/taskset/setpriv (util-linux, bsdutils),
# pgrep/ps (procps), strace, valgrind; jq and python3 read Gradescope's
# submission_metadata.json in run_autograder.
packages=(make gcc libc6-dev valgrind socat netcat-openbsd util-linux bsdutils procps strace
          patch jq python3 ca-certificates)
apt-get update -qq
# (ncat is a package of its own since Ubuntu 22.04; before, nmap's part.)
if [[ -n $(candidate ncat) ]]; then packages+=(ncat); else packages+=(nmap); fi
# bats and its libraries from Ubuntu when it has them recent enough (24.04);
# otherwise from npm into sockets-lab/.tools, where the course's tools look
# (tests/tools/common.bash: the same versions as make check installs).
bats_version=$(candidate bats)
if [[ -n $bats_version && -n $(candidate bats-support) && -n $(candidate bats-assert) ]] &&
    dpkg --compare-versions "$bats_version" ge "$BATS_MINIMUM"; then
    packages+=(bats bats-support bats-assert)
    bats_from=apt
else
    packages+=(nodejs npm)
    bats_from=npm
fi
echo "Installing: ${packages[*]}"
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# shellcheck disable=SC2034 # REPO: read by common.bash
REPO=$COURSE
# shellcheck source=/dev/null # (tests/tools/common.bash, in the zip)
source "$COURSE/tests/tools/common.bash"
if [[ $bats_from == npm ]]; then
    echo "Ubuntu's bats is older than $BATS_MINIMUM (or absent): installing $BATS_LIBS_NPM with npm"
    # shellcheck disable=SC2086 # the packages, one a word
    npm install --prefix "$COURSE/.tools" --no-audit --no-fund --loglevel=error $BATS_LIBS_NPM >/dev/null
fi
find_bats
[[ -n $BATS && -n $BATS_LIB_DIR ]] || { echo "setup.sh: bats or its libraries were not found" >&2; exit 1; }
version=$("$BATS" --version | sed -n 's/^Bats *//p')
if ! dpkg --compare-versions "$version" ge "$BATS_MINIMUM"; then
    echo "setup.sh: $BATS is bats $version; the tests need $BATS_MINIMUM at least" >&2
    exit 1
fi
echo "bats: $BATS ($version), libraries in $BATS_LIB_DIR"

# The test helpers, once (the grader would build them for each submission).
make -s -C "$COURSE/tests/helpers"
for tool in gcc make valgrind ncat socat nc strace script prlimit setpriv pgrep timeout; do
    command -v "$tool" >/dev/null || { echo "setup.sh: $tool is missing after the installation" >&2; exit 1; }
done
echo "setup.sh: done"
