# Seeds the capture corpus with small captures from the shared corpus and
# the repository's test data, and pcapng files of several interfaces,
# sections and block kinds (pcapng_seeds.py).
out=$1
corpus=../shared/corpus/tcpdump; [ -d "$corpus" ] || corpus=/work/shared/corpus/tcpdump
for f in tests/data/*.pcap "$corpus"/*.pcap "$corpus"/*.pcapng; do
	[ -f "$f" ] || continue
	[ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$out/"
done
python3 "$(dirname "$0")/pcapng_seeds.py" "$out" || true
exit 0
