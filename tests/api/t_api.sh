#!/usr/bin/env bash
# The public API (tools/lib/ifwall.h) through the shared library the way an
# outside program uses it: tests/api/api_test.c is compiled with only the
# header's directory on the include path and linked against $O/libifwall.so
# (a function missing from the version script fails to link).
set -u
cd "${TOP:?}"
O=${O:-build}
CC=${CC:-cc}
san=; case $O in *san*) san="-fsanitize=address,undefined -fno-omit-frame-pointer" ;; esac
bin=$(mktemp /tmp/ifwlib-api.XXXXXX)
trap 'rm -f "$bin"' EXIT
if ! $CC -std=gnu11 -Wall -Wextra -Werror -g $san -Itools/lib -Itests/unit -I. -o "$bin" \
	tests/api/api_test.c tests/unit/testlib.c -L"$O" -lifwall -pthread \
	-Wl,-rpath,"$TOP/$O" 2>"$bin.log"; then
	echo "FAIL api-build: $(head -5 "$bin.log" | tr '\n' ' ')"; rm -f "$bin.log"; exit 1
fi
rm -f "$bin.log"
# The header stands alone, in strict C99 and in C++.
printf '#include <ifwall.h>\nint main(void) { return ifw_version() == 0; }\n' >"$bin.c"
if $CC -std=c99 -pedantic -Wall -Wextra -Werror -Itools/lib -fsyntax-only "$bin.c" 2>"$bin.log"; then
	echo "PASS header-c99"
else
	echo "FAIL header-c99: $(head -3 "$bin.log" | tr '\n' ' ')"
fi
if ! command -v g++ >/dev/null; then
	echo "SKIP header-cxx: no g++"
elif g++ -x c++ -Wall -Wextra -Werror -Itools/lib -fsyntax-only "$bin.c" 2>"$bin.log"; then
	echo "PASS header-cxx"
else
	echo "FAIL header-cxx: $(head -3 "$bin.log" | tr '\n' ' ')"
fi
rm -f "$bin.c" "$bin.log"
if ! ldd "$bin" | grep -q "$TOP/$O/libifwall.so.0"; then
	echo "FAIL api-links-shared: $(ldd "$bin" | grep ifwall)"
fi
"$bin"
