#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tap-unnumbered.sh PROG ARGS...: PROG's numbered TAP lines ("ok 3 - x") as
# run-checks.sh reads them ("ok - x"); PROG's exit status.
set -o pipefail
"$@" | sed -E 's/^(not )?ok [0-9]+ - /\1ok - /'
