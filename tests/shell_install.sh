#!/bin/bash
# make install into a DESTDIR: the tree (shared library with its soname, static library,
# headers, veil.pc, program, man page); libveil.so exports only the public API and needs
# none of the research part's libraries; examples/stream_extract.c, built against the
# installed library through pkg-config, gives the features of `veil extract` byte for
# byte, at the file's rate and resampled, whatever the chunk size.
# $1 = veil binary (in the build folder), $2 = scratch folder; VEIL_SOURCE_DIR = the source.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
build=$(cd "$(dirname "$veil")" && pwd)
src=${VEIL_SOURCE_DIR:?VEIL_SOURCE_DIR is not set}
export OMP_NUM_THREADS=1

root=$tmp/root
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
nm -D --defined-only "$lib"/libveil.so | awk '{print $3}' > "$tmp/exports.txt"
grep -qx veil_stream_open "$tmp/exports.txt" || fail "veil_stream_open is not exported"
grep -qx veil_mfcc_stream_push "$tmp/exports.txt" || fail "veil_mfcc_stream_push is not exported"
if grep -v '^veil_' "$tmp/exports.txt" | grep -v '^_' | grep -q .; then
    fail "exports outside the API: $(grep -v '^veil_' "$tmp/exports.txt" | head -5 | tr '\n' ' ')"
fi
grep -qx veil_json_print "$tmp/exports.txt" && fail "an internal function (veil_json_print) is exported"
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
cc -std=c17 -Wall -Wextra -Werror "$src/examples/stream_extract.c" -o "$tmp/stream_extract" $flags ||
    fail "the example does not build with: $flags"
static_libs=$(pkg-config --static --libs veil | sed "s|-lveil|$lib/libveil.a|")
cc -std=c17 "$src/examples/stream_extract.c" -o "$tmp/stream_extract_static" $(pkg-config --cflags veil) $static_libs ||
    fail "the example does not link statically with: $static_libs"

tiny_corpus "$tmp/corpus" 6 3 3
tiny_model "$tmp/corpus" siamese --groups 2 -o "$tmp/m.safetensors" >/dev/null
wav=$(ls "$tmp"/corpus/TRAIN/*/*/*.WAV | head -1)
# the same samples labelled 22050 Hz: another rate, so the stream resamples
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
bytes=$(($(stat -c %s "$wav") - 44))
{ printf 'RIFF'; le32 $((bytes + 36)); printf 'WAVEfmt '; le32 16; printf '\x01\x00\x01\x00'; le32 22050; le32 44100
  printf '\x02\x00\x10\x00data'; le32 $bytes; tail -c +45 "$wav"; } > "$tmp/r22050.wav"

for audio in "$wav" "$tmp/r22050.wav"; do
    "$veil" extract --model "$tmp/m.safetensors" "$audio" -o "$tmp/want.npy" --threads 1 -q
    for chunk in 1 997 1000000; do
        LD_LIBRARY_PATH=$lib "$tmp/stream_extract" "$tmp/m.safetensors" "$audio" "$tmp/got.npy" --chunk $chunk
        cmp -s "$tmp/want.npy" "$tmp/got.npy" ||
            fail "stream features differ from veil extract ($(basename "$audio"), chunks of $chunk)"
    done
done
"$veil" extract --model "$tmp/m.safetensors" "$wav" -o "$tmp/want.npy" --threads 1 -q
"$tmp/stream_extract_static" "$tmp/m.safetensors" "$wav" "$tmp/got.npy" --chunk 4000
cmp -s "$tmp/want.npy" "$tmp/got.npy" || fail "the statically linked example differs from veil extract"

# the posterior of every patch, as veil classify --per-patch gives it
LD_LIBRARY_PATH=$lib "$tmp/stream_extract" "$tmp/m.safetensors" "$wav" "$tmp/got.npy" --posterior > "$tmp/post.txt"
n_stream=$(grep -c 'P(female)=' "$tmp/post.txt")
n_classify=$("$veil" classify --model "$tmp/m.safetensors" "$wav" --per-patch | awk -F'\t' 'NR > 1 && $6 != "-"' | wc -l)
[ "$n_stream" -gt 0 ] && [ "$n_stream" = "$n_classify" ] || fail "posteriors: $n_stream patches streamed, $n_classify classified"
echo "shell_install: ok"
