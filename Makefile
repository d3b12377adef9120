# evalmake: make for agent evaluation.
#   make              build ./evalmake
#   make test         unit and end-to-end tests, as built and again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer
#   make install      install to $(PREFIX)/bin (PREFIX=/usr/local)
PREFIX ?= /usr/local
CC ?= cc
PKGS = yaml-0.1 libcjson libxxhash zlib libzstd libpcre2-8 sqlite3
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Werror
SAN = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl)
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lm

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

E2E = tests/e2e/run.sh tests/e2e/watch.sh tests/e2e/http.sh tests/e2e/check.sh tests/e2e/trace.sh tests/e2e/hygiene.sh tests/e2e/keys.sh \
      tests/e2e/datasets.sh tests/e2e/grading.sh tests/e2e/life.sh tests/e2e/answers.sh tests/e2e/store.sh tests/e2e/sqlite.sh

# every script runs, even after one fails; the recipe fails at the end
test: evalmake build/unittest build/san/evalmake build/san/unittest build/modelserver
	@fail=0; \
	./build/unittest || fail=1; \
	MODELSERVER=$(CURDIR)/build/modelserver bash tests/modelserver/selftest.sh || fail=1; \
	for t in $(E2E); do \
		EVALMAKE=$(CURDIR)/evalmake MODELSERVER=$(CURDIR)/build/modelserver bash $$t || fail=1; \
	done; \
	ASAN_OPTIONS=detect_leaks=1 ./build/san/unittest || fail=1; \
	for t in $(E2E); do \
		ASAN_OPTIONS=detect_leaks=1 EVALMAKE=$(CURDIR)/build/san/evalmake \
		MODELSERVER=$(CURDIR)/build/modelserver bash $$t || fail=1; \
	done; \
	exit $$fail

install: evalmake
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 evalmake $(DESTDIR)$(PREFIX)/bin/evalmake

clean:
	rm -f evalmake
	rm -rf build

.PHONY: all test install clean
