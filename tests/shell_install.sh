#!/bin/bash
# make install into a DESTDIR: the tree (shared library with its soname, static library,
# headers, veil.pc, program, man page); libveil.so exports only the public API and needs
# none of the research part's libraries; examples/stream_extract.c, built against the
# installed library through pkg-config, gives the features of `veil extract` byte for
# byte, at the file's rate and resampled, whatever the chunk size.
# $1 = veil binary (in the build folder), $2 = scratch folder; VEIL_SOURCE_DIR = the source.
set -euo pipefail
veil=$1
dir=$2
build=$(cd "$(dirname "$veil")" && pwd)
src=${VEIL_SOURCE_DIR:?VEIL_SOURCE_DIR is not set}
rm -rf "$dir"
mkdir -p "$dir"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1

root=$dir/root
DESTDIR=$root cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^prefix=//p' "$build/veil.pc") # the build's CMAKE_INSTALL_PREFIX
pre=$root$prefix
lib=$(dirname "$(find "$pre" -name libveil.so -print -quit)")
[ -n "$lib" ] || fail "no libveil.so installed"
for f in "$lib"/libveil.so.0 "$lib"/libveil.a "$lib"/pkgconfig/veil.pc "$pre"/bin/veil \
         "$pre"/include/veil/stream.h "$pre"/include/veil/export.h "$pre"/share/man/man1/veil.1; do
    [ -e "$f" ] || fail "not installed: ${f#$root}"
done
[ ! -e "$pre"/include/veil/job.h ] || fail "a header of the research part was installed"
soname=$(objdump -p "$lib"/libveil.so | awk '/SONAME/ {print $2}')
[ "$soname" = libveil.so.0 ] || fail "soname '$soname'"

# exports: the public API only (veil_ names), never an internal helper
nm -D --defined-only "$lib"/libveil.so | awk '{print $3}' > "$dir/exports.txt"
grep -qx veil_stream_open "$dir/exports.txt" || fail "veil_stream_open is not exported"
grep -qx veil_mfcc_stream_push "$dir/exports.txt" || fail "veil_mfcc_stream_push is not exported"
if grep -v '^veil_' "$dir/exports.txt" | grep -v '^_' | grep -q .; then
    fail "exports outside the API: $(grep -v '^veil_' "$dir/exports.txt" | head -5 | tr '\n' ' ')"
fi
grep -qx veil_json_print "$dir/exports.txt" && fail "an internal function (veil_json_print) is exported"
# the manual page has every command
for cmd in extract classify train experiment attack corpus mfcc bench; do
    grep -q "^\.SS veil $cmd" "$pre"/share/man/man1/veil.1 || fail "veil.1 lacks veil $cmd"
done
needed=$(objdump -p "$lib"/libveil.so | awk '/NEEDED/ {print $2}' | tr '\n' ' ')
for bad in cairo espeak mpi; do
    case "$needed" in *$bad*) fail "libveil.so needs $bad: $needed" ;; esac
done

# the example, compiled from the installed headers and library found by pkg-config
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs veil)
cc -std=c17 -Wall -Wextra -Werror "$src/examples/stream_extract.c" -o "$dir/stream_extract" $flags ||
    fail "the example does not build with: $flags"
static_libs=$(pkg-config --static --libs veil | sed "s|-lveil|$lib/libveil.a|")
cc -std=c17 "$src/examples/stream_extract.c" -o "$dir/stream_extract_static" $(pkg-config --cflags veil) $static_libs ||
    fail "the example does not link statically with: $static_libs"

"$veil" corpus synth --out "$dir/corpus" --speakers 6 --female 3 --seconds 3 --seed 3 --threads 1 >/dev/null
"$veil" train --corpus "$dir/corpus" --method siamese --groups 2 --st 2 --epochs 1 --seed 5 \
    --threads 1 --precision fp32 -q -o "$dir/m.safetensors" >/dev/null
wav=$(ls "$dir"/corpus/TRAIN/*/*/*.WAV | head -1)
# the same samples labelled 22050 Hz: another rate, so the stream resamples
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
bytes=$(($(stat -c %s "$wav") - 44))
{ printf 'RIFF'; le32 $((bytes + 36)); printf 'WAVEfmt '; le32 16; printf '\x01\x00\x01\x00'; le32 22050; le32 44100
  printf '\x02\x00\x10\x00data'; le32 $bytes; tail -c +45 "$wav"; } > "$dir/r22050.wav"

for audio in "$wav" "$dir/r22050.wav"; do
    "$veil" extract --model "$dir/m.safetensors" "$audio" -o "$dir/want.npy" --threads 1 -q
    for chunk in 1 997 1000000; do
        LD_LIBRARY_PATH=$lib "$dir/stream_extract" "$dir/m.safetensors" "$audio" "$dir/got.npy" --chunk $chunk
        cmp -s "$dir/want.npy" "$dir/got.npy" ||
            fail "stream features differ from veil extract ($(basename "$audio"), chunks of $chunk)"
    done
done
"$veil" extract --model "$dir/m.safetensors" "$wav" -o "$dir/want.npy" --threads 1 -q
"$dir/stream_extract_static" "$dir/m.safetensors" "$wav" "$dir/got.npy" --chunk 4000
cmp -s "$dir/want.npy" "$dir/got.npy" || fail "the statically linked example differs from veil extract"

# the posterior of every patch, as veil classify --per-patch gives it
LD_LIBRARY_PATH=$lib "$dir/stream_extract" "$dir/m.safetensors" "$wav" "$dir/got.npy" --posterior > "$dir/post.txt"
n_stream=$(grep -c 'P(female)=' "$dir/post.txt")
n_classify=$("$veil" classify --model "$dir/m.safetensors" "$wav" --per-patch | awk -F'\t' 'NR > 1 && $6 != "-"' | wc -l)
[ "$n_stream" -gt 0 ] && [ "$n_stream" = "$n_classify" ] || fail "posteriors: $n_stream patches streamed, $n_classify classified"
echo "shell_install: ok"
