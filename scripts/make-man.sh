#!/usr/bin/env bash
# The manual page veil(1), made from the program's own help texts so that it lists every
# command and option the built program has. $1 = the veil program; writes to stdout.
set -euo pipefail
veil=$1
# roff: a backslash doubled; a line starting with . or ' protected
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
version=$("$veil" --version | awk '{print $2}')
cat <<HEAD
.TH VEIL 1 "" "veil $version" "User Commands"
.SH NAME
veil \- privacy-preserving speech features (Nelus et al., Interspeech 2019)
.SH SYNOPSIS
.B veil
.I COMMAND
.RI [ options ]
.br
.B veil help
.I COMMAND
.SH DESCRIPTION
veil trains feature extractors that keep what a service needs (the speaker's gender)
and remove what an eavesdropper wants (the speaker's identity), extracts those features
from audio, classifies gender with the model's recognizer, and measures how well an
attacker can still tell speakers apart. The library behind it, libveil, is described in
the project's docs/library.md (pkg-config name: veil).
.PP
Errors name the file and the problem and exit non-zero (2 for a usage error); output
files are written to a temporary name and renamed, so a failure never leaves a
half-written file.
.SH OVERVIEW
.nf
HEAD
"$veil" --help | esc
echo ".fi"
echo ".SH COMMANDS"
for cmd in $("$veil" --help | awk '/^  [a-z]/ && !seen[$1]++ && $1 !~ /^-/ {print $1}'); do
    echo ".SS veil $cmd"
    echo ".nf"
    "$veil" help "$cmd" | esc
    echo ".fi"
done
cat <<'TAIL'
.SH EXIT STATUS
0 on success, 1 on an error (the message says what and where), 2 on a usage error.
.SH SEE ALSO
The project's README.md and docs/*.md: architecture, mfcc, corpora, network, protocol,
experiment, audit (veil audit, the attacker battery), library.
TAIL
