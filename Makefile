# postern — GNU make.  `make run` and `make check` are the two commands a new
# user needs (README.md); everything else here serves them.

CC		?= cc
BUILD		?= build
PKGS		= libevent libtls libunbound lmdb expat jansson zlib libbsd-overlay libcrypto \
		  libidn2 libseccomp
# Recursive (=), not :=: on a fresh machine `make check` installs the
# packages (deps) before anything is compiled, after this file was read.
PKG_CFLAGS	= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	= $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The fuzz targets (scripts/fuzz, `make fuzz`) build the same archive with
# clang and libFuzzer's instrumentation in build-fuzz.
ifeq ($(FUZZ),1)
CC		= clang
BUILD		= build-fuzz
CFLAGS		= -g -O1 -fsanitize=fuzzer-no-link,address,undefined
LDFLAGS		+= -fsanitize=address,undefined
endif

CFLAGS		?= -O2 -g
# Hardening for gcc and clang alike (scripts/check-hardening proves the
# binaries carry it).  Headers outside lib/ are spelled with their directory:
# there is no -I for a process directory (scripts/check-includes).
CFLAGS		+= -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
		   -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
		   -Wvla -Wformat=2 -fstack-protector-strong -fPIE \
		   -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE -MMD -MP \
		   -I. -Ilib -I$(BUILD) $(PKG_CFLAGS)
LDFLAGS		+= -pie -Wl,-z,relro,-z,now
LDLIBS		= $(PKG_LIBS) -lcrypt

ifeq ($(SANITIZE),1)
BUILD		= build-san
CFLAGS		+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
LDFLAGS		+= -fsanitize=address,undefined
endif

# One archive holds everything that is not a program's entry point (main):
# lib/, auth/ and every process directory, so that posternd, posternctl, the
# unit tests, the benchmarks and the fuzz targets all link the same code and
# any module can be tested or fuzzed alone.
PROC_DIRS	= posternd smtpd queue mta authd reportd
MAIN_SRCS	= posternd/parent.c
LIB_SRCS	= $(filter-out $(MAIN_SRCS),$(wildcard lib/*.c auth/*.c \
		    $(addsuffix /*.c,$(PROC_DIRS))))
LIB_OBJS	= $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/parse.o
LIBPOSTERN	= $(BUILD)/libpostern.a

D_OBJS		= $(patsubst %.c,$(BUILD)/obj/%.o,$(MAIN_SRCS))
CTL_SRCS	= $(wildcard posternctl/*.c)
CTL_OBJS	= $(patsubst %.c,$(BUILD)/obj/%.o,$(CTL_SRCS))

UNIT_SRCS	= $(wildcard regress/unit/test_*.c)
UNIT_BINS	= $(patsubst regress/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
FUZZ_SRCS	= $(wildcard regress/fuzz/fuzz_*.c)
FUZZ_BINS	= $(patsubst regress/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))


MANS		= $(wildcard man/*.[1-8])

.PHONY: all deps run check unit lint fuzz fuzz-bins bench clean install \
		uninstall users

all: $(BUILD)/posternd $(BUILD)/posternctl

deps:
	@scripts/deps

$(BUILD)/parse.c: posternd/parse.y
	@mkdir -p $(BUILD)
	bison -o $@ $<

$(BUILD)/parse.o: $(BUILD)/parse.c
	$(CC) $(CFLAGS) -Wno-unused-but-set-variable -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/obj/%.o: %.c
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
	$(CC) $(CFLAGS) -MF $(BUILD)/obj/$*.d $(LDFLAGS) -o $@ $< $(LIBPOSTERN) \
	    $(LDLIBS) -lcmocka

$(BUILD)/fuzz/%: regress/fuzz/%.c $(LIBPOSTERN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MF $(BUILD)/obj/$*.d $(LDFLAGS) -fsanitize=fuzzer \
	    -o $@ $< $(LIBPOSTERN) $(LDLIBS)

unit: $(UNIT_BINS)

fuzz-bins: $(FUZZ_BINS)

-include $(patsubst %.o,%.d,$(LIB_OBJS) $(D_OBJS) $(CTL_OBJS)) \
	 $(patsubst %.c,$(BUILD)/obj/%.d,$(notdir $(UNIT_SRCS) $(FUZZ_SRCS)))

# `make check`: every test, one closing line "N passed, N failed".  The
# build runs on every core (deps first: it installs what compiling needs).
NPROC		:= $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) -s -j$(NPROC) all unit
	@SANITIZE=$(SANITIZE) scripts/check $(BUILD)

lint:
	mandoc -Tlint -Wwarning $(MANS)

run: deps all
	@scripts/setup-run $(BUILD)

# libFuzzer targets, one per parser, built with clang from the sources above.
fuzz:
	@scripts/fuzz

bench: deps all
	@scripts/bench $(BUILD)

# `make install` (PREFIX, SYSCONFDIR, UNITDIR, DESTDIR): scripts/install.
PREFIX		?= /usr/local
SYSCONFDIR	?= /etc
UNITDIR		?= /lib/systemd/system
INSTALL_VARS	= DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" \
		  SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)"

install: all
	@$(INSTALL_VARS) scripts/install $(BUILD)

uninstall:
	@$(INSTALL_VARS) scripts/install -u $(BUILD)

users:
	@scripts/setup-users

clean:
	rm -rf build build-san build-fuzz
