# Seeds the rule-parser corpus with every rule file in the repository.
out=$1; i=0
for f in rules/examples/*.rules tests/golden/*/*.rules; do
	[ -f "$f" ] && cp "$f" "$out/seed-$((i++)).rules"
done
exit 0
