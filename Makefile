# postern — GNU make.  `make run` and `make check` are the two commands a new
# user needs (README.md); everything else here serves them.

CC		?= cc
BUILD		?= build
PKGS		= libevent libtls libunbound lmdb expat jansson zlib libbsd-overlay libcrypto \
		  libidn2
# Recursive (=), not :=: on a fresh machine `make check` installs the
# packages (deps) before anything is compiled, after this file was read.
PKG_CFLAGS	= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	= $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS		?= -O2 -g
CFLAGS		+= -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
		   -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
		   -D_GNU_SOURCE -I. -Ilib -Iposternd -I$(BUILD) $(PKG_CFLAGS)
LDLIBS		= $(PKG_LIBS) -lcrypt

ifeq ($(SANITIZE),1)
BUILD		= build-san
CFLAGS		+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
LDFLAGS		+= -fsanitize=address,undefined
endif

# The library holds everything that is not a process entry point: lib/ and the
# authentication code in authd/ (posternctl and the unit tests run it too).
PARSER		= $(BUILD)/parse.c
LIB_SRCS	= $(wildcard lib/*.c) $(filter-out authd/authd.c,$(wildcard authd/*.c))
LIB_OBJS	= $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/parse.o
LIBPOSTERN	= $(BUILD)/libpostern.a

D_SRCS		= $(wildcard posternd/*.c smtpd/*.c queue/*.c mta/*.c reportd/*.c authd/authd.c)
D_OBJS		= $(patsubst %.c,$(BUILD)/obj/%.o,$(D_SRCS))
CTL_SRCS	= $(wildcard posternctl/*.c)
CTL_OBJS	= $(patsubst %.c,$(BUILD)/obj/%.o,$(CTL_SRCS))

UNIT_SRCS	= $(wildcard regress/unit/test_*.c)
UNIT_BINS	= $(patsubst regress/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
FUZZ_SRCS	= $(wildcard regress/fuzz/fuzz_*.c)

MANS		= $(wildcard man/*.[1-8])

.PHONY: all deps run check unit lint fuzz bench clean install users

all: $(BUILD)/posternd $(BUILD)/posternctl

deps:
	@scripts/deps

$(BUILD)/parse.c: lib/parse.y
	@mkdir -p $(BUILD)
	bison -o $@ $<

$(BUILD)/parse.o: $(BUILD)/parse.c
	$(CC) $(CFLAGS) -Wno-unused-but-set-variable -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h authd/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBPOSTERN): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/posternd: $(D_OBJS) $(LIBPOSTERN)
	$(CC) $(LDFLAGS) -o $@ $(D_OBJS) $(LIBPOSTERN) $(LDLIBS)

$(BUILD)/posternctl: $(CTL_OBJS) $(LIBPOSTERN)
	$(CC) $(LDFLAGS) -o $@ $(CTL_OBJS) $(LIBPOSTERN) $(LDLIBS)

$(BUILD)/unit/%: regress/unit/%.c $(LIBPOSTERN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBPOSTERN) $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)

# `make check`: every test, one closing line "N passed, N failed".
check: deps all unit
	@SANITIZE=$(SANITIZE) scripts/check $(BUILD)

lint:
	mandoc -Tlint -Wwarning $(MANS)

run: deps all
	@scripts/setup-run $(BUILD)

# libFuzzer targets, one per parser, built with clang.
fuzz:
	@scripts/fuzz $(FUZZ_SRCS)

bench: deps all
	@scripts/bench $(BUILD)

clean:
	rm -rf build build-san build-fuzz
