#!/usr/bin/env bash
# DNSSEC keys from `meridian-dns keygen` and `meridian-dns ds`, checked against independent tools: ldns-key2ds
# computes the same DS from our .key files, our `ds` the same DS as ldns-keygen wrote for its own keys, and
# ldns-signzone signs a zone with our .private files into a zone that ldns-verify-zone validates against our DS.
set -uo pipefail
DNS=${MERIDIAN_DNS:?}; SRC=${MERIDIAN_SRC:?}
for t in ldns-key2ds ldns-keygen ldns-signzone ldns-verify-zone; do
  command -v $t >/dev/null || { echo "SKIP: $t missing (ldnsutils)"; exit 77; }
done
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi; }
rdata() { sed -E 's/^.*[[:space:]]DS[[:space:]]+//' | tr -s ' \t' ' '; }

for alg in ecdsap256sha256 ed25519; do
  d="$T/$alg"; mkdir -p "$d"
  out=$("$DNS" keygen --algorithm $alg --dir "$d" example.test) || { echo "FAIL keygen $alg: $out"; exit 1; }
  ksk=$(ls "$d"/*.key | while read -r f; do grep -q 'DNSKEY.257 ' "$f" && echo "$f"; done)
  zsk=$(ls "$d"/*.key | while read -r f; do grep -q 'DNSKEY.256 ' "$f" && echo "$f"; done)
  check "$alg: keygen wrote a KSK and a ZSK" test -f "$ksk" -a -f "$zsk" -a -f "${ksk%.key}.private"
  check "$alg: the private key file is the owner's only" test "$(stat -c %a "${ksk%.key}.private")" = 600
  ours=$("$DNS" ds "$ksk" | rdata)
  theirs=$(cd "$d" && ldns-key2ds -n -2 "$ksk" | rdata)
  check "$alg: our DS equals ldns-key2ds's ($ours)" test -n "$ours" -a "$ours" = "$theirs"
  check "$alg: keygen printed that DS for the parent" grep -q "${ours##* }" <<<"$out"
  # An independent signer uses our key files; an independent validator checks the result against our DS.
  cp "$SRC/conf/examples/zones/example.test.zone" "$d/zone"
  (cd "$d" && ldns-signzone -n -o example.test. zone "${ksk%.key}" "${zsk%.key}") >"$d/sign.log" 2>&1
  check "$alg: ldns-signzone signs with our keys" test -s "$d/zone.signed"
  "$DNS" ds "$ksk" >"$d/trust.ds"
  check "$alg: ldns-verify-zone validates the signed zone from our DS" \
    ldns-verify-zone -k "$d/trust.ds" "$d/zone.signed"
done

# Keys made by ldns-keygen load in meridian-dns: our DS equals the .ds file ldns-keygen wrote.
d="$T/ldns"; mkdir -p "$d"
stem=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 -k example.test)
check "ldns-keygen's KSK: our DS equals its .ds" \
  test "$("$DNS" ds "$d/$stem.key" | rdata)" = "$(rdata <"$d/$stem.ds")"

# Bad input: exit 1 naming the file, or usage (exit 2).
msg=$("$DNS" ds "$T/nope.key" 2>&1); rc=$?
check "ds of a missing file: exit 1 naming it ($msg)" test $rc = 1 -a -n "$(grep -F "nope.key" <<<"$msg")"
"$DNS" keygen >/dev/null 2>&1; rc=$?
check "keygen without a zone: usage, exit 2" test $rc = 2
"$DNS" keygen --algorithm rsasha1 example.test >/dev/null 2>&1; rc=$?
check "keygen with an unsupported algorithm: exit 2" test $rc = 2
[ $fails = 0 ] && echo PASS || { echo "$fails check(s) failed"; exit 1; }
