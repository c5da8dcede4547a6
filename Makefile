# bulkhead — build, run, test, bench.  See README.md.
PREFIX    ?= /usr/local
STATE_DIR ?= /var/lib/bulkhead
CC        ?= cc
PKGS      := libwebsockets jansson sqlite3 libcurl libnftables libmnl libcrypto
CFLAGS    ?= -O2 -g
BH_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -Isrc
BH_CFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

BUILD     ?= build
SRCS      := $(shell find src -name '*.c' -not -path 'src/agent/*' | sort)
AGENT_SRCS := $(wildcard src/agent/*.c)
HDRS      := $(shell find src -name '*.h')
CLI_SRCS  := $(filter src/cli/%,$(SRCS))
LIB_SRCS  := $(filter-out $(CLI_SRCS),$(SRCS))
LIB_OBJS  := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/assets.o $(BUILD)/obj/agent_blob.o
WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg web/*.ico web/*.png))
# npm packages of the UI (web/package.json; `make deps` runs npm ci in web/),
# embedded as URL=FILE: xterm.js for the shell sessions' terminal page.
XTERM     := web/node_modules/@xterm
WEB_VENDOR := /vendor/xterm.js=$(XTERM)/xterm/lib/xterm.js \
	      /vendor/xterm.css=$(XTERM)/xterm/css/xterm.css \
	      /vendor/xterm-LICENSE.txt=$(XTERM)/xterm/LICENSE \
	      /vendor/addon-fit.js=$(XTERM)/addon-fit/lib/addon-fit.js \
	      /vendor/addon-fit-LICENSE.txt=$(XTERM)/addon-fit/LICENSE
WEB_VENDOR_FILES := $(foreach v,$(WEB_VENDOR),$(word 2,$(subst =, ,$(v))))
CLI_OBJS  := $(CLI_SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit e2e bench asan asan-build fuzz fuzz-build clean format format-check
all: $(BUILD)/bulkhead

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) $(BH_CFLAGS) -c -o $@ $<

# The web UI, embedded: tools/embed.c writes its files into a C source.
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	@$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/gen/assets.c: $(BUILD)/embed $(WEB_FILES) $(WEB_VENDOR_FILES) web/package-lock.json
	@mkdir -p $(dir $@)
	@echo "  EMBED $(WEB_FILES) $(WEB_VENDOR_FILES)"
	@$(BUILD)/embed $@ $(WEB_FILES) $(WEB_VENDOR)

$(WEB_VENDOR_FILES):
	@echo "missing $@: run 'make deps' (npm ci in web/)" >&2; exit 1

$(BUILD)/obj/assets.o: $(BUILD)/gen/assets.c src/api/assets.h
	@$(CC) $(CFLAGS) $(BH_CFLAGS) -c -o $@ $<

# The agent (src/agent/, docs/terminal.md): the process of a shell session,
# inside its sandbox. Static (it needs nothing of a session's image), never
# built with the sanitizers, and carried inside the daemon (.incbin), which
# puts it into the sessions' image.
AGENT_CC     ?= cc
AGENT_CFLAGS := -O2 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -Isrc -static

$(BUILD)/agent: $(AGENT_SRCS) $(wildcard src/agent/*.h) src/kinds/shell/wire.h
	@mkdir -p $(dir $@)
	@echo "  AGENT $@"
	@$(AGENT_CC) $(AGENT_CFLAGS) -o $@ $(AGENT_SRCS)

$(BUILD)/obj/agent_blob.o: $(BUILD)/agent
	@mkdir -p $(dir $@)
	@printf '.section .rodata\n.balign 16\n.global bh_agent_blob\nbh_agent_blob:\n.incbin "%s"\n.global bh_agent_blob_end\nbh_agent_blob_end:\n.section .note.GNU-stack,"",@progbits\n' $(BUILD)/agent > $(BUILD)/gen-agent_blob.S
	@$(CC) -c -o $@ $(BUILD)/gen-agent_blob.S

$(BUILD)/libbulkhead.a: $(LIB_OBJS)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/bulkhead: $(CLI_OBJS) $(BUILD)/libbulkhead.a
	@echo "  LINK  $@"
	@$(CC) $(CFLAGS) $(BH_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(BUILD)/libbulkhead.a
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) $(BH_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libbulkhead.a $(LDLIBS)

# Installs what is missing (apt, npm); idempotent and quiet when all is there.
deps:
	@scripts/deps.sh

run: deps all
	@scripts/run.sh $(BUILD)/bulkhead $(STATE_DIR)

unit: all $(UNIT_BINS)
	@scripts/unit.sh $(UNIT_BINS)

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) fuzz-build $(if $(filter 0,$(ASAN)),,asan-build)
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) ASAN_BUILD=$(ASAN_BUILD) ASAN=$(ASAN) scripts/test.sh $(BUILD)

bench: deps all
	@bench/run.sh $(BUILD)/bulkhead

# The sanitizer build: build-asan/bulkhead and its unit tests (asan-build),
# then runs them (asan). `make test` runs them too (ASAN=0 leaves them out).
ASAN       ?= 1
ASAN_BUILD ?= build-asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(ASAN_BUILD)/tests/%)

asan-build:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_FLAGS)" all $(ASAN_BINS)

asan: asan-build
	@ASAN_OPTIONS=detect_leaks=1 scripts/unit.sh $(ASAN_BINS)

# The fuzzers (docs/fuzzing.md): tests/fuzz/fuzz_<name>.c, each linked with
# the project's code built by clang with libFuzzer's coverage, ASan and UBSan
# into build-fuzz/; `make fuzz` runs each for FUZZ_SECONDS on a copy of its
# seed corpus tests/fuzz/corpus/<name>/.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libbulkhead.a
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libbulkhead.a
	@echo "  FUZZ  $@"
	@$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(BH_CFLAGS) -Itests/fuzz -o $@ $< $(FUZZ_BUILD)/libbulkhead.a $(LDLIBS)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_BINS)

# Every C file, in the style of .clang-format: `make format` rewrites them,
# `make format-check` (CI) lists those that differ and fails.
FORMAT_FILES := $(SRCS) $(AGENT_SRCS) $(HDRS) $(wildcard tests/unit/*.[ch] tests/fuzz/*.[ch] tests/e2e/lib/*.[ch] bench/*.[ch] tools/*.[ch])

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@command -v clang-format >/dev/null || { echo "format-check: no clang-format (make deps installs it)"; exit 1; }
	@bad=$$(for f in $(FORMAT_FILES); do \
	    clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then \
	    echo "format-check: these files differ from .clang-format (make format rewrites them):"; \
	    echo "$$bad" | sed 's/^/  /'; \
	    exit 1; \
	fi

clean:
	rm -rf build build-asan build-fuzz
