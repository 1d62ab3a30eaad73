# ifwall: make, make check, make demo, make bench, make fuzz, make install
# make package (Debian packages, opt-in), make clean
# Variables: PREFIX, DESTDIR, SAN=1 (ASan+UBSan), V=1 (verbose), CC, and the
# install directories below.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
# NetworkManager runs dispatcher scripts from /etc and /usr/lib
# NetworkManager/dispatcher.d; the package uses /usr/lib's.
NMDISPATCHERDIR ?= $(SYSCONFDIR)/NetworkManager/dispatcher.d
# libifwall: SONAME libifwall.so.$(LIB_MAJOR); exported symbols are listed in
# tools/libifwall.map (version node IFWALL_0.1).
LIB_MAJOR = 0
LIB_VERSION = 0.1.0
CC ?= cc
CFLAGS ?= -O2 -g
PKGS = libpcap libnftnl libmnl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcap -lnftnl -lmnl)
WARN = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla
override CFLAGS += -std=gnu11 $(WARN) -I. -D_GNU_SOURCE $(PKG_CFLAGS) -MMD -MP
LDLIBS += $(PKG_LIBS)

ifeq ($(SAN),1)
O ?= build-san
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
else
O ?= build
endif

ifneq ($(V),1)
Q = @
qcc = @echo "  CC      $@";
qld = @echo "  LD      $@";
qar = @echo "  AR      $@";
endif

LIB_SRC := $(sort $(wildcard filter/*.c rules/*.c backends/*.c tools/lib/*.c))
CLI_SRC := $(sort $(wildcard tools/*.c))
HELPER_SRC := $(sort $(wildcard tools/helpers/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_LIB_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:%.c=$(O)/%)
UNIT_LIB_OBJ := $(UNIT_LIB_SRC:%.c=$(O)/%.o)
# Fuzz targets also build without libFuzzer (tests/fuzz/standalone.c) so
# make check replays their regression inputs and seeds under gcc / SAN=1.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:%.c=$(O)/%)
HELPER_BIN := $(HELPER_SRC:tools/helpers/%.c=$(O)/tools/%)
# Example programs: public header only (<ifwall.h>), linked against the
# shared library like an outside program (found through an rpath).
EXAMPLE_SRC := $(sort $(wildcard tools/examples/*.c))
EXAMPLE_BIN := $(EXAMPLE_SRC:tools/examples/%.c=$(O)/tools/%)

all: $(O)/ifwall $(HELPER_BIN) $(O)/libifwall.so.$(LIB_VERSION) $(O)/libifwall.pc $(EXAMPLE_BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(qcc)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/libifwall.a: $(LIB_OBJ)
	$(qar)rm -f $@ && ar rcs $@ $^

# Library objects are position independent so that one set of objects makes
# both libifwall.a and libifwall.so (-fno-semantic-interposition keeps calls
# inside the library direct and inlinable).
$(LIB_OBJ): override CFLAGS += -fPIC -fno-semantic-interposition

$(O)/libifwall.so.$(LIB_VERSION): $(LIB_OBJ) tools/libifwall.map
	$(qld)$(CC) -shared -Wl,-soname,libifwall.so.$(LIB_MAJOR) \
		-Wl,--version-script=tools/libifwall.map -Wl,-z,defs $(LDFLAGS) \
		-o $@ $(LIB_OBJ) $(LDLIBS)
	$(Q)ln -sf libifwall.so.$(LIB_VERSION) $(O)/libifwall.so.$(LIB_MAJOR)
	$(Q)ln -sf libifwall.so.$(LIB_MAJOR) $(O)/libifwall.so

# Generated with the install directories of this make run; directories
# under PREFIX are written relative to ${prefix} (relocatable, and
# PKG_CONFIG_SYSROOT_DIR works for DESTDIR trees).
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCDIR))
$(O)/libifwall.pc: tools/libifwall.pc.in FORCE
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(PC_LIBDIR)|g' \
		-e 's|@INCDIR@|$(PC_INCDIR)|g' -e 's|@VERSION@|$(LIB_VERSION)|g' \
		-e 's|@PKGS@|$(PKGS)|g' $< >$@.tmp
	$(Q)cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv -f $@.tmp $@

$(O)/ifwall: $(CLI_OBJ) $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(O)/libifwall.a $(LDLIBS)

$(O)/tools/%: $(O)/tools/helpers/%.o $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $< $(O)/libifwall.a $(LDLIBS)

$(O)/tools/examples/%.o: tools/examples/%.c
	@mkdir -p $(dir $@)
	$(qcc)$(CC) $(CPPFLAGS) $(filter-out -I.,$(CFLAGS)) -Itools/lib -c -o $@ $<

$(EXAMPLE_BIN): $(O)/tools/%: $(O)/tools/examples/%.o $(O)/libifwall.so.$(LIB_VERSION)
	$(qld)$(CC) $(LDFLAGS) -o $@ $< -L$(O) -lifwall -Wl,-rpath,'$$ORIGIN/..'

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(UNIT_LIB_OBJ) $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $< $(UNIT_LIB_OBJ) $(O)/libifwall.a $(LDLIBS)

$(O)/tests/fuzz/%: $(O)/tests/fuzz/%.o $(O)/tests/fuzz/standalone.o $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $< $(O)/tests/fuzz/standalone.o $(O)/libifwall.a $(LDLIBS)

tests: all $(UNIT_BIN) $(FUZZ_BIN)

deps:
	@bash tests/deps.sh

check: deps
	$(MAKE) tests
	@O=$(O) bash tests/run.sh

demo: deps
	$(MAKE) all
	@O=$(O) bash tools/demo.sh

bench: deps
	$(MAKE) all
	@O=$(O) bash tests/bench/run.sh

FUZZTIME ?= 30
fuzz: deps
	@FUZZTIME=$(FUZZTIME) bash tests/fuzz/run.sh

# Optional parts (man pages, systemd units, boot rules) are installed when
# they exist in the tree. An existing $(SYSCONFDIR)/ifwall/boot.rules is kept.
MAN_PAGES := $(sort $(wildcard tools/man/*.[1-8]))
UNITS := $(sort $(wildcard tools/systemd/*.service tools/systemd/*.target))
BOOT_RULES := $(wildcard tools/systemd/boot.rules)
COMPLETION := $(wildcard tools/completion/ifwall)
# VPN client hooks (tools/hooks/): the wg-quick and OpenVPN helpers in
# BINDIR, where their configuration lines name them; NetworkManager's
# dispatcher script where NetworkManager looks. @BINDIR@ becomes BINDIR.
HOOK_BIN := $(wildcard tools/hooks/ifwall-*)
HOOK_NM := $(wildcard tools/hooks/[0-9]*-ifwall-*)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(O)/ifwall $(DESTDIR)$(BINDIR)/ifwall
	install -m 644 $(O)/libifwall.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libifwall.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libifwall.so.$(LIB_MAJOR)
	ln -sf libifwall.so.$(LIB_MAJOR) $(DESTDIR)$(LIBDIR)/libifwall.so
	install -m 644 $(O)/libifwall.a $(DESTDIR)$(LIBDIR)/libifwall.a
	install -m 644 tools/lib/ifwall.h $(DESTDIR)$(INCDIR)/ifwall.h
	install -m 644 $(O)/libifwall.pc $(DESTDIR)$(PKGCONFIGDIR)/libifwall.pc
	$(Q)set -e; for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		echo "install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
ifneq ($(COMPLETION),)
	install -d $(DESTDIR)$(COMPLETIONDIR)
	install -m 644 $(COMPLETION) $(DESTDIR)$(COMPLETIONDIR)/ifwall
endif
	$(Q)set -e; for h in $(HOOK_BIN); do \
		echo "install -m 755 $$h $(DESTDIR)$(BINDIR)/"; \
		sed -e 's|@BINDIR@|$(BINDIR)|g' $$h >$(DESTDIR)$(BINDIR)/$${h##*/}; \
		chmod 755 $(DESTDIR)$(BINDIR)/$${h##*/}; done
ifneq ($(HOOK_NM),)
	install -d $(DESTDIR)$(NMDISPATCHERDIR)
	$(Q)set -e; for h in $(HOOK_NM); do \
		echo "install -m 755 $$h $(DESTDIR)$(NMDISPATCHERDIR)/"; \
		sed -e 's|@BINDIR@|$(BINDIR)|g' $$h >$(DESTDIR)$(NMDISPATCHERDIR)/$${h##*/}; \
		chmod 755 $(DESTDIR)$(NMDISPATCHERDIR)/$${h##*/}; done
endif
ifneq ($(UNITS),)
	install -d $(DESTDIR)$(SYSTEMDDIR)
	$(Q)set -e; for u in $(UNITS); do \
		echo "install -m 644 $$u $(DESTDIR)$(SYSTEMDDIR)/"; \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u \
			>$(DESTDIR)$(SYSTEMDDIR)/$${u##*/}; \
		chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$${u##*/}; done
endif
ifneq ($(BOOT_RULES),)
	install -d $(DESTDIR)$(SYSCONFDIR)/ifwall
	[ -e $(DESTDIR)$(SYSCONFDIR)/ifwall/boot.rules ] || \
		install -m 644 $(BOOT_RULES) $(DESTDIR)$(SYSCONFDIR)/ifwall/boot.rules
endif

# Debian packages (ifwall, libifwall0, libifwall-dev) into $(O)/package/;
# opt-in, not part of 'make check' (needs debhelper and lintian).
package:
	@O=$(O) bash tests/kernel/package/build.sh

clean:
	rm -rf build build-san build-fuzz

.PHONY: all tests deps check demo bench fuzz install package clean FORCE
-include $(shell find $(O) -name '*.d' 2>/dev/null)
