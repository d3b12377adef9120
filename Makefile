# evalmake: make for agent evaluation.
#   make              build ./evalmake
#   make test         unit and end-to-end tests, as built and again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer
#   make install      install to $(PREFIX)/bin (PREFIX=/usr/local)
PREFIX ?= /usr/local
CC ?= cc
PKGS = yaml-0.1 libcjson libxxhash libcurl
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Werror
SAN = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lm

SRC = src/util.c src/hash.c src/evalfile.c src/template.c src/state.c src/tasks.c \
      src/store.c src/loop.c src/proc.c src/http.c src/provider.c src/plan.c src/grade.c src/run.c \
      src/report.c
OBJ = $(SRC:.c=.o)
HDR = $(wildcard src/*.h)

all: evalmake

evalmake: $(OBJ) src/main.o
	$(CC) $(CFLAGS) -o $@ $(OBJ) src/main.o $(PKG_LIBS) $(LDFLAGS)

src/%.o: src/%.c $(HDR)
	$(CC) $(WARN) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

build/unittest: tests/unit/*.c $(OBJ)
	@mkdir -p build
	$(CC) $(WARN) $(PKG_CFLAGS) $(CFLAGS) -Isrc -o $@ tests/unit/*.c $(OBJ) $(PKG_LIBS)

build/san/evalmake: $(SRC) src/main.c $(HDR)
	@mkdir -p build/san
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN) -o $@ $(SRC) src/main.c $(PKG_LIBS)

build/san/unittest: tests/unit/*.c $(SRC) $(HDR)
	@mkdir -p build/san
	$(CC) $(WARN) $(PKG_CFLAGS) $(SAN) -Isrc -o $@ tests/unit/*.c $(SRC) $(PKG_LIBS)

test: evalmake build/unittest build/san/evalmake build/san/unittest
	./build/unittest
	EVALMAKE=$(CURDIR)/evalmake bash tests/e2e/run.sh
	ASAN_OPTIONS=detect_leaks=1 ./build/san/unittest
	ASAN_OPTIONS=detect_leaks=1 EVALMAKE=$(CURDIR)/build/san/evalmake bash tests/e2e/run.sh

install: evalmake
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 evalmake $(DESTDIR)$(PREFIX)/bin/evalmake

clean:
	rm -f evalmake $(OBJ) src/main.o
	rm -rf build

.PHONY: all test install clean
