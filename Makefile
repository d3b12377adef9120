# evalmake: make for agent evaluation.
#   make              build ./evalmake
#   make test         unit and end-to-end tests, as built and again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer
#   make stress       the long crash, egress and resource runs and the whole
#                     bad-input catalogue (minutes)
#   make install      install to $(PREFIX)/bin (PREFIX=/usr/local), with the
#                     man page and the bash and zsh completion
#   make stress-bad   the whole bad-input catalogue (make test runs a part)
#   make fuzz         each libFuzzer harness for FUZZ_SECONDS (needs clang)
PREFIX ?= /usr/local
CC ?= cc
PKGS = yaml-0.1 libcjson libxxhash zlib libzstd libpcre2-8 sqlite3 nettle
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Werror
SAN = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl)
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lm -pthread

SRC = $(filter-out src/cmd/main.c,$(sort $(wildcard src/*/*.c)))
OBJ = $(SRC:src/%.c=build/obj/%.o)
HDR = $(wildcard src/*/*.h)

all: evalmake

# linked beside and renamed: a running evalmake keeps its binary
evalmake: $(OBJ) build/obj/cmd/main.o
	$(CC) $(CFLAGS) -o $@.tmp $(OBJ) build/obj/cmd/main.o $(PKG_LIBS) $(LDFLAGS)
	mv -f $@.tmp $@

build/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) -Isrc $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

build/unittest: tests/unit/*.c $(OBJ)
	@mkdir -p build
	$(CC) $(WARN) $(PKG_CFLAGS) $(CFLAGS) -Isrc -o $@ tests/unit/*.c $(OBJ) $(PKG_LIBS)

build/san/evalmake: $(SRC) src/cmd/main.c $(HDR)
	@mkdir -p build/san
	$(CC) $(WARN) -Isrc $(PKG_CFLAGS) $(SAN) -o $@.tmp $(SRC) src/cmd/main.c $(PKG_LIBS)
	mv -f $@.tmp $@

build/san/unittest: tests/unit/*.c $(SRC) $(HDR)
	@mkdir -p build/san
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN) -Isrc -o $@ tests/unit/*.c $(SRC) $(PKG_LIBS)

# the local model server of the HTTP tests and benchmarks
build/modelserver: tests/modelserver/modelserver.c
	@mkdir -p build
	$(CC) $(WARN) -O2 -o $@ $< $(shell pkg-config --cflags --libs libmicrohttpd libcjson libxxhash) -lpthread

E2E = tests/e2e/run.sh tests/e2e/watch.sh tests/e2e/http.sh tests/e2e/check.sh tests/e2e/trace.sh tests/e2e/hygiene.sh tests/e2e/keys.sh tests/e2e/logs.sh \
      tests/e2e/datasets.sh tests/e2e/grading.sh tests/e2e/life.sh tests/e2e/answers.sh tests/e2e/store.sh \
      tests/e2e/sandbox.sh tests/e2e/inputs.sh \
      tests/e2e/graders.sh \
      tests/e2e/loop.sh \
      tests/e2e/live.sh tests/e2e/cli.sh tests/e2e/everyday.sh tests/e2e/sqlite.sh tests/e2e/store2.sh \
      tests/e2e/reduce.sh tests/e2e/export.sh \
      tests/e2e/remote.sh \
      tests/e2e/shard.sh tests/e2e/slurm.sh \
      tests/e2e/probe.sh tests/e2e/noop.sh tests/e2e/noopaudit.sh tests/e2e/noopdelta.sh \
      $(STRESS)
# short runs in make test; make stress runs them long
STRESS = tests/stress/crash.sh tests/stress/egress.sh tests/stress/resources.sh

# every script runs, even after one fails; the recipe fails at the end.
# The sanitizer pass also checks every no-op record that would be replayed
# against planning (report/noop.h: EVALMAKE_NOOP_VERIFY)
test: evalmake build/unittest build/san/evalmake build/san/unittest build/modelserver
	@fail=0; \
	./build/unittest || fail=1; \
	MODELSERVER=$(CURDIR)/build/modelserver bash tests/modelserver/selftest.sh || fail=1; \
	for t in $(E2E); do \
		EVALMAKE=$(CURDIR)/evalmake MODELSERVER=$(CURDIR)/build/modelserver bash $$t || fail=1; \
	done; \
	ASAN_OPTIONS=detect_leaks=1 ./build/san/unittest || fail=1; \
	for t in $(E2E); do \
		ASAN_OPTIONS=detect_leaks=1 EVALMAKE=$(CURDIR)/build/san/evalmake EVALMAKE_NOOP_VERIFY=1 \
		MODELSERVER=$(CURDIR)/build/modelserver bash $$t || fail=1; \
	done; \
	BAD_EVERY=$(BAD_EVERY) EVALMAKE=$(CURDIR)/evalmake MODELSERVER=$(CURDIR)/build/modelserver \
		bash tests/bad/run.sh || fail=1; \
	BAD_EVERY=$(BAD_EVERY) ASAN_OPTIONS=detect_leaks=1 EVALMAKE=$(CURDIR)/build/san/evalmake \
		MODELSERVER=$(CURDIR)/build/modelserver bash tests/bad/run.sh || fail=1; \
	exit $$fail

# 50 kills of a 400-cell project, a save a second for 10 minutes; every
# script runs, even after one fails
stress: evalmake build/modelserver
	@fail=0; \
	for t in $(STRESS); do \
		CRASH_KILLS=50 CRASH_CELLS=200 RES_SAVES=600 EVALMAKE=$(CURDIR)/evalmake \
		MODELSERVER=$(CURDIR)/build/modelserver bash $$t || fail=1; \
	done; \
	$(MAKE) --no-print-directory stress-bad || fail=1; \
	exit $$fail

# the bad-input catalogue (tests/bad): make test runs every BAD_EVERY-th
# input; stress-bad runs all of them, as built and under the sanitizers
BAD_EVERY ?= 4
stress-bad: evalmake build/san/evalmake build/modelserver
	@fail=0; \
	BAD_EVERY=1 EVALMAKE=$(CURDIR)/evalmake MODELSERVER=$(CURDIR)/build/modelserver \
		bash tests/bad/run.sh || fail=1; \
	BAD_EVERY=1 ASAN_OPTIONS=detect_leaks=1 EVALMAKE=$(CURDIR)/build/san/evalmake \
		MODELSERVER=$(CURDIR)/build/modelserver bash tests/bad/run.sh || fail=1; \
	exit $$fail

# fuzzing (tests/fuzz/README.md): libFuzzer harnesses built with clang,
# each run FUZZ_SECONDS (default 60) on a copy of its seed corpus
FUZZCC ?= clang
FUZZ_SECONDS ?= 60
FUZZFLAGS = -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ = evalfile dataset template provider
FUZZOBJ = $(SRC:src/%.c=build/fuzz/obj/%.o)
.SECONDARY: $(FUZZOBJ)

build/fuzz/obj/%.o: src/%.c $(HDR)
	@mkdir -p $(@D)
	$(FUZZCC) $(WARN) -Isrc $(PKG_CFLAGS) $(subst fuzzer,fuzzer-no-link,$(FUZZFLAGS)) -c -o $@ $<

# the provider harness includes provider.c itself (its parsers are static)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZOBJ)
	$(FUZZCC) $(WARN) -Isrc $(PKG_CFLAGS) $(FUZZFLAGS) -o $@ $< \
		$(if $(filter provider,$*),$(filter-out build/fuzz/obj/run/provider.o,$(FUZZOBJ)),$(FUZZOBJ)) $(PKG_LIBS)

fuzz: $(FUZZ:%=build/fuzz/fuzz_%)
	@fail=0; for h in $(FUZZ); do \
		FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $$h || fail=1; \
	done; exit $$fail

install: evalmake
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 evalmake $(DESTDIR)$(PREFIX)/bin/evalmake
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 evalmake.1 $(DESTDIR)$(PREFIX)/share/man/man1/evalmake.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 completion/evalmake.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/evalmake
	install -d $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 644 completion/_evalmake $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_evalmake

clean:
	rm -f evalmake
	rm -rf build

.PHONY: all test stress install clean fuzz stress-bad
