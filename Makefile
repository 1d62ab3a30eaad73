# ifwall: make, make check, make demo, make bench, make fuzz, make install
# Variables: PREFIX, DESTDIR, SAN=1 (ASan+UBSan), V=1 (verbose), CC.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
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

LIB_SRC := $(sort $(wildcard filter/*.c rules/*.c backends/*.c))
CLI_SRC := $(sort $(wildcard tools/*.c))
HELPER_SRC := $(sort $(wildcard tools/helpers/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_LIB_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:%.c=$(O)/%)
UNIT_LIB_OBJ := $(UNIT_LIB_SRC:%.c=$(O)/%.o)
HELPER_BIN := $(HELPER_SRC:tools/helpers/%.c=$(O)/tools/%)

all: $(O)/ifwall $(HELPER_BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(qcc)$(CC) $(CFLAGS) -c -o $@ $<

$(O)/libifwall.a: $(LIB_OBJ)
	$(qar)rm -f $@ && ar rcs $@ $^

$(O)/ifwall: $(CLI_OBJ) $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(O)/libifwall.a $(LDLIBS)

$(O)/tools/%: $(O)/tools/helpers/%.o $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $< $(O)/libifwall.a $(LDLIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(UNIT_LIB_OBJ) $(O)/libifwall.a
	$(qld)$(CC) $(LDFLAGS) -o $@ $< $(UNIT_LIB_OBJ) $(O)/libifwall.a $(LDLIBS)

tests: all $(UNIT_BIN)

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

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(O)/ifwall $(DESTDIR)$(BINDIR)/ifwall

clean:
	rm -rf build build-san build-fuzz

.PHONY: all tests deps check demo bench fuzz install clean
-include $(shell find $(O) -name '*.d' 2>/dev/null)
