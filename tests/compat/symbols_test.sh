#!/bin/bash
# symbols_test.sh OUR_LIB EXPECTED_LIST [REFERENCE_LIB]
#
# Diffs the dynamic symbols (name + version node) that our libspice-server.so.1 exports
# against EXPECTED_LIST (committed: the reference libspice-server 0.15.1's list), and, when
# REFERENCE_LIB exists on this machine, against the reference library itself read now.
# Also checks the SONAME and that every version node is defined. Exit 0 only when all match.
set -euo pipefail
ours=${1:?our library}
expected=${2:?expected list}
reference=${3:-/usr/lib/x86_64-linux-gnu/libspice-server.so.1}

# "name version" for every defined, exported function or object (not the version nodes
# themselves, which objdump lists as ABS symbols named after the node).
exports() {
  objdump -T "$1" | awk '$2 == "g" && $0 !~ /\*UND\*/ && $0 !~ /\*ABS\*/ { print $NF, $(NF-1) }' |
    sed 's/[()]//g' | sort
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exports "$ours" > "$tmp/ours"
grep -v '^#' "$expected" | sed '/^$/d' | sort > "$tmp/expected"
status=0

echo "ours: $(wc -l < "$tmp/ours") exported symbols; expected: $(wc -l < "$tmp/expected")"
if ! diff -u "$tmp/expected" "$tmp/ours"; then
  echo "FAIL: exported symbols differ from $expected (- missing, + extra)"
  status=1
fi

soname=$(objdump -p "$ours" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libspice-server.so.1" ]; then
  echo "FAIL: SONAME is '$soname', expected libspice-server.so.1"
  status=1
fi

# Version definitions with their parents (the node chain) must match too.
nodes() { objdump -p "$1" | sed -n '/Version definitions:/,/^$/p' | grep -v 'libspice-server.so.1' | awk 'NF' | tr -s ' \t' ' '; }
if [ -e "$reference" ]; then
  exports "$reference" > "$tmp/reference"
  echo "reference $reference: $(wc -l < "$tmp/reference") exported symbols"
  if ! diff -u "$tmp/reference" "$tmp/ours"; then
    echo "FAIL: exported symbols differ from the installed reference library"
    status=1
  fi
  nodes "$reference" | awk '{ print $NF }' > "$tmp/ref_nodes"
  nodes "$ours" | awk '{ print $NF }' > "$tmp/our_nodes"
  if ! diff -u "$tmp/ref_nodes" "$tmp/our_nodes"; then
    echo "FAIL: version definitions (node chain) differ from the reference"
    status=1
  fi
else
  echo "note: reference library $reference not installed; compared with the committed list only"
fi
[ $status -eq 0 ] && echo "symbols: identical"
exit $status
