# despotify — see README.md. `./build.sh` installs the toolchain and fetches
# the vendored sources, then runs `make`.

VERSION := $(shell cat VERSION)

# Our modules, by layer (shared/DESIGN.md); every .c has its .h beside it.
SRC_BASE  := src/log.c src/util.c src/metrics.c
SRC_IO    := src/url.c src/net.c src/tls.c
SRC_HTTP  := src/http.c
SRC_PURE  := src/ini.c src/json.c src/sigv4.c src/xml.c src/yaml.c src/kubeconfig.c
SRC_JOBS  := src/imds.c src/notify.c src/k8s.c src/drain.c src/aws.c src/serve.c
SRC_MAIN  := src/config.c
SRCS      := $(SRC_BASE) $(SRC_IO) $(SRC_HTTP) $(SRC_PURE) $(SRC_JOBS) $(SRC_MAIN)
# Generated at build time (trust anchors from Debian's ca-certificates).
GEN_SRCS  := build/gen/amazon_roots.c
AMAZON_ROOTS := $(addprefix /usr/share/ca-certificates/mozilla/,Amazon_Root_CA_1.crt \
	Amazon_Root_CA_2.crt Amazon_Root_CA_3.crt Amazon_Root_CA_4.crt \
	Starfield_Services_Root_Certificate_Authority_-_G2.crt)

# Unit tests: one program each, linked with every module but main.c.
UNIT_TESTS := test/unit/test_ini.c test/unit/test_config.c test/unit/test_util.c \
	test/unit/test_url.c test/unit/test_http.c test/unit/test_tls.c test/unit/test_json.c test/unit/test_sigv4.c test/unit/test_xml.c test/unit/test_yaml.c test/unit/test_kubeconfig.c \
	test/unit/test_imds.c test/unit/test_k8s.c \
	test/unit/test_aws.c test/unit/test_serve.c

# The test probe: drives one module at a time against the fakes (test/e2e).
PROBE_SRCS := test/probe/probe.c test/probe/probe_http.c test/probe/probe_imds.c test/probe/probe_aws.c test/probe/probe_k8s.c

.DEFAULT_GOAL := all

include vendor/bearssl/bearssl.mk
include vendor/jsmn/jsmn.mk

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wsign-compare -Werror
INCS := -Isrc -Ibuild/gen -I$(BEARSSL_INC) -I$(JSMN_INC)
DEFS := -D_GNU_SOURCE -DDESPOTIFY_VERSION='"$(VERSION)"'

# Release: musl, fully static (plain -static, not -static-pie), stripped.
# Sized for the issue 17 targets (each measured on the whole binary):
# - link-time optimisation, as one partition (-flto -flto-partition=one),
#   so calls across modules inline or vanish; it needs gcc-ar for the archives;
# - -Oz for our code (nothing of ours is CPU-bound); BearSSL keeps -Os, for
#   the handshake's speed (-Oz there would save only about 400 bytes more);
# - no jump tables or switch-to-table conversion: a compare chain is smaller
#   than a table of 8-byte addresses for our small switches;
# - -z norelro: RELRO protects nothing in a static musl binary (no dynamic
#   relocations), and the linker pads the file to a page boundary for it;
# - -z common-page-size=16: otherwise the linker may pad the file up to a page
#   to save a page of memory for the data segment. max-page-size (the real
#   mapping alignment) is unchanged.
CC_REL      := musl-gcc
AR_REL      := gcc-ar
LTO_REL     := -flto -flto-partition=one -fno-jump-tables -fno-tree-switch-conversion
CFLAGS_REL  := -std=c11 -Oz $(LTO_REL) -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-stack-protector -fno-pie -pthread
LDFLAGS_REL := -static -no-pie -s -Oz $(LTO_REL) -Wl,--gc-sections -Wl,-z,noseparate-code \
	-Wl,--build-id=none -Wl,-z,norelro -Wl,-z,common-page-size=16 -pthread
# Our modules only (not BearSSL, not the unit programs): no floating-point or
# vector registers. src/ has no floats (util_fmt formats none), so the
# compiler refuses any that come back, and a variadic function no longer
# saves the vector argument registers nor its callers count them (about
# 1 KB on amd64 with our ~500 formatting calls).
NOFP_REL    := -mgeneral-regs-only
BEARSSL_CFLAGS_REL := -W -Wall -Os $(LTO_REL) -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-stack-protector

# Sanitizer build: clang + glibc, AddressSanitizer and UBSan, for tests.
CC_SAN      := clang
CFLAGS_SAN  := -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -pthread
LDFLAGS_SAN := -fsanitize=address,undefined -pthread

REL := build/rel
SAN := build/asan
VG  := build/vg
TSAN := build/tsan

# $(call objs,DIR): the objects of a build in DIR, of src/*.c and the generated sources.
objs = $(SRCS:src/%.c=$(1)/obj/%.o) $(GEN_SRCS:build/gen/%.c=$(1)/obj/gen_%.o)

# $(call obj_rules,DIR,CC,CFLAGS[,DEPS[,AR]]): the rules of a build in DIR:
# DIR/obj/NAME.o from src/NAME.c (with $(WARN)) and DIR/obj/gen_NAME.o from
# build/gen/NAME.c, compiled by CC with CFLAGS and depending on DEPS too (a
# flags stamp); DIR/libdespotify.a of them all, archived by AR (default ar).
define obj_rules
$(1)/obj/%.o: src/%.c $$(wildcard src/*.h) $$(GEN_SRCS) $(4) | $$(BEARSSL_DIR)/.verified
	@mkdir -p $$(@D)
	@echo "  CC  $$@"
	$$(Q)$(2) $(3) $$(WARN) $$(DEFS) $$(INCS) -c -o $$@ $$<
$(1)/obj/gen_%.o: build/gen/%.c $(4)
	@mkdir -p $$(@D)
	@echo "  CC  $$@"
	$$(Q)$(2) $(3) $$(DEFS) $$(INCS) -c -o $$@ $$<
$(1)/libdespotify.a: $$(call objs,$(1))
	@rm -f $$@
	$$(Q)$(or $(5),ar) rcs $$@ $$^
endef

OBJS_REL := $(call objs,$(REL))
UNIT_BINS := $(UNIT_TESTS:test/unit/%.c=$(SAN)/%)

# `make V=1` shows the whole command lines.
Q := $(if $(V),,@)

.PHONY: all san tsan unit test test-real clean distclean fuzz demo bench FORCE
.DELETE_ON_ERROR:

# $(call flags_stamp,FILE,FLAGS): FILE holds FLAGS and is rewritten (so made
# newer) only when they change; the objects built with FLAGS depend on it, so a
# change of flags in this Makefile rebuilds them (an LTO build must not link
# objects left from before).
define flags_stamp
$(1): FORCE
	@mkdir -p $$(@D)
	@echo '$(2)' | cmp -s - $$@ || echo '$(2)' > $$@
endef
$(eval $(call flags_stamp,$(REL)/flags,$(CFLAGS_REL) $(NOFP_REL) $(BEARSSL_CFLAGS_REL)))

all: build/despotify

$(eval $(call bearssl_lib,$(REL)/bearssl,$(CC_REL),$(BEARSSL_CFLAGS_REL),,$(AR_REL)))
$(REL)/bearssl/libbearssl.a: $(REL)/flags
# In a variable: a comma written inside $(call ...) would split the argument.
BEARSSL_CFLAGS_SAN := -W -Wall -O1 -g -fsanitize=address,undefined
$(eval $(call bearssl_lib,$(SAN)/bearssl,$(CC_SAN),$(BEARSSL_CFLAGS_SAN)))
$(eval $(call flags_stamp,$(SAN)/bearssl-flags,$(BEARSSL_CFLAGS_SAN)))
$(SAN)/bearssl/libbearssl.a: $(SAN)/bearssl-flags

build/despotify: $(OBJS_REL) $(REL)/obj/main.o $(REL)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_REL) $(LDFLAGS_REL) -o $@ $(OBJS_REL) $(REL)/obj/main.o $(REL)/bearssl/libbearssl.a
	@echo "built $@ ($$(stat -c %s $@) bytes)"

$(eval $(call obj_rules,$(REL),$(CC_REL),$(CFLAGS_REL) $(NOFP_REL),$(REL)/flags))
$(eval $(call obj_rules,$(SAN),$(CC_SAN),$(CFLAGS_SAN)))

# The Amazon trust anchors, from Debian's ca-certificates through `brssl ta`.
build/gen/amazon_roots.c: tools/gen_amazon_roots.sh build/host/bearssl/brssl $(AMAZON_ROOTS)
	@mkdir -p $(@D)
	@echo "  GEN $@"
	$(Q)tools/gen_amazon_roots.sh build/host/bearssl/brssl $@ $(AMAZON_ROOTS)

$(SAN)/despotify: $(SAN)/obj/main.o $(SAN)/libdespotify.a $(SAN)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_SAN) $(LDFLAGS_SAN) -o $@ $^

$(SAN)/test_%: test/unit/test_%.c test/unit/t.h $(SAN)/libdespotify.a $(SAN)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_SAN) $(CFLAGS_SAN) $(WARN) $(DEFS) $(INCS) -Itest/unit -o $@ $< \
		$(SAN)/libdespotify.a $(SAN)/bearssl/libbearssl.a $(LDFLAGS_SAN)

$(SAN)/probe: $(PROBE_SRCS) test/probe/probe.h $(SAN)/libdespotify.a $(SAN)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_SAN) $(CFLAGS_SAN) $(WARN) $(DEFS) $(INCS) -Itest/probe -o $@ $(PROBE_SRCS) \
		$(SAN)/libdespotify.a $(SAN)/bearssl/libbearssl.a $(LDFLAGS_SAN)

san: $(SAN)/despotify $(SAN)/probe $(UNIT_BINS)

# ThreadSanitizer build of the daemon and the probe: clang + glibc. test/run.py
# runs the drain and handling end-to-end tests a second time against it.
CFLAGS_TSAN  := -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=thread -pthread
LDFLAGS_TSAN := -fsanitize=thread -pthread

$(eval $(call bearssl_lib,$(TSAN)/bearssl,$(CC_SAN),-W -Wall -O1 -g -fsanitize=thread))
$(eval $(call obj_rules,$(TSAN),$(CC_SAN),$(CFLAGS_TSAN)))

$(TSAN)/despotify: $(TSAN)/obj/main.o $(TSAN)/libdespotify.a $(TSAN)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_SAN) $(LDFLAGS_TSAN) -o $@ $^
$(TSAN)/probe: $(PROBE_SRCS) test/probe/probe.h $(TSAN)/libdespotify.a $(TSAN)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_SAN) $(CFLAGS_TSAN) $(WARN) $(DEFS) $(INCS) -Itest/probe -o $@ $(PROBE_SRCS) \
		$(TSAN)/libdespotify.a $(TSAN)/bearssl/libbearssl.a $(LDFLAGS_TSAN)

tsan: $(TSAN)/despotify $(TSAN)/probe

# `make test`: unit tests and end-to-end tests (ASan/UBSan builds), the drain
# and handling ones again under ThreadSanitizer, plus the release binary for
# the scratch-root tests. The last line is "N passed, N failed".
test: build/despotify san tsan fuzz $(VG)/despotify
	/usr/bin/python3 test/run.py

# `make test-real`: only the tests against a real kube-apiserver (test/lib/realk8s.py;
# ../shared/kube-apiserver or KUBE_APISERVER=PATH, and etcd). `make test` runs them too.
test-real: san
	/usr/bin/python3 test/run.py test_k8s_real

# `make fuzz`: libFuzzer targets build/fuzz/fuzz_NAME from test/fuzz/fuzz_NAME.c
# (seed corpora in test/fuzz/corpus/NAME/), linked with every module but main.c
# built with coverage instrumentation. Run one: build/fuzz/fuzz_http test/fuzz/corpus/http
FUZZ_TARGETS := ini json url http imds tls xml sigv4 k8s serve yaml kubeconfig podstream
FUZZ := build/fuzz
CFLAGS_FUZZ := -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -pthread

fuzz: $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%)

$(eval $(call obj_rules,$(FUZZ),$(CC_SAN),$(CFLAGS_FUZZ)))
$(FUZZ)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ)/libdespotify.a $(SAN)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_SAN) $(CFLAGS_FUZZ) -fsanitize=fuzzer $(WARN) $(DEFS) $(INCS) -o $@ $< \
		$(FUZZ)/libdespotify.a $(SAN)/bearssl/libbearssl.a

# Valgrind build: gcc + glibc, dynamically linked, so that memcheck can
# replace malloc (it cannot in a static binary). For test/e2e/test_soak.py.
CFLAGS_VG := -std=c11 -O1 -g -fno-omit-frame-pointer -pthread
OBJS_VG := $(call objs,$(VG))

$(eval $(call obj_rules,$(VG),cc,$(CFLAGS_VG)))
$(VG)/despotify: $(OBJS_VG) $(VG)/obj/main.o build/host/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)cc -pthread -o $@ $^

# `make demo`: the whole flow against the fakes, explained (after ./build.sh).
demo: build/despotify
	/usr/bin/python3 test/demo.py

# The release link again without -s, and its link map: `make bench` counts
# in it the bytes the listener brings (the LTO objects hold no code).
$(REL)/despotify.unstripped: $(OBJS_REL) $(REL)/obj/main.o $(REL)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_REL) $(filter-out -s,$(LDFLAGS_REL)) -Wl,-Map=$@.map -o $@ $^

# `make bench`: size, memory and speed in one table (not a test).
bench: build/despotify $(REL)/despotify.unstripped
	/usr/bin/python3 test/bench/bench.py

clean:
	rm -rf build

# Also forget the fetched third-party sources.
distclean: clean
	rm -rf vendor/*/upstream vendor/*/dl

# ---------------------------------------------------------------------------
# Release binaries, arm64 tests and the OCI image (issue 17).
#
# `make release`: build/release/despotify-linux-{amd64,arm64}, static and
# stripped, and their SHA256SUMS. amd64 is build/despotify itself (this is an
# x86_64 build machine); arm64 is cross-compiled with Debian's
# aarch64-linux-musl-gcc (musl-dev:arm64 + gcc-aarch64-linux-gnu), same flags.
# `make image`: build/despotify-oci.tar (a multi-arch OCI index, linux/amd64 +
# linux/arm64) and build/despotify-docker{,-arm64}.tar (docker-archives, one
# per architecture), with umoci and skopeo; see tools/mkimage.py. For a
# published image: make image IMAGE_SOURCE=URL (default: the git remote
# origin) IMAGE_LICENSES=SPDX (default NOASSERTION: the project declares none).
RELEASE_DIR := build/release
ARM64       := build/arm64
CC_ARM64    := aarch64-linux-musl-gcc
# The unit programs for arm64, run under qemu-aarch64-static by test/e2e/test_arm64.py.
UNIT_BINS_ARM64 := $(UNIT_TESTS:test/unit/%.c=$(ARM64)/%)
RELEASE_BINS := $(RELEASE_DIR)/despotify-linux-amd64 $(RELEASE_DIR)/despotify-linux-arm64
# What the release flags need on top for aarch64 (a first build was 329,328
# bytes, the target is < 300,000): GCC emits .eh_frame unwind tables by default
# there (21 KB; C needs none: -fno-unwind-tables), and with RELRO the linker
# pads the file up to the 64 KiB max page size before the data segment (50 KB;
# RELRO protects nothing in a static musl binary, which has no dynamic
# relocations to do: -z norelro).
# (-z norelro is in LDFLAGS_REL now, for amd64 too.)
CFLAGS_ARM64  := $(CFLAGS_REL) -fno-unwind-tables
LDFLAGS_ARM64 := $(LDFLAGS_REL)
AR_ARM64      := aarch64-linux-gnu-gcc-ar
BEARSSL_CFLAGS_ARM64 := $(BEARSSL_CFLAGS_REL) -fno-unwind-tables

.PHONY: release image arm64

$(eval $(call bearssl_lib,$(ARM64)/bearssl,$(CC_ARM64),$(BEARSSL_CFLAGS_ARM64),,$(AR_ARM64)))
$(ARM64)/bearssl/libbearssl.a: $(ARM64)/flags

$(eval $(call flags_stamp,$(ARM64)/flags,$(CFLAGS_ARM64) $(NOFP_REL) $(BEARSSL_CFLAGS_ARM64)))
$(eval $(call obj_rules,$(ARM64),$(CC_ARM64),$(CFLAGS_ARM64) $(NOFP_REL),$(ARM64)/flags,$(AR_ARM64)))

$(ARM64)/despotify: $(ARM64)/obj/main.o $(ARM64)/libdespotify.a $(ARM64)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_ARM64) $(LDFLAGS_ARM64) -o $@ $^
	@echo "built $@ ($$(stat -c %s $@) bytes)"

# Unit programs: static musl, no sanitizers (there are none for qemu-user),
# but the same assertions as the ASan build's.
$(ARM64)/test_%: test/unit/test_%.c test/unit/t.h $(ARM64)/libdespotify.a $(ARM64)/bearssl/libbearssl.a
	@echo "  LD  $@"
	$(Q)$(CC_ARM64) $(CFLAGS_ARM64) $(WARN) $(DEFS) $(INCS) -Itest/unit -o $@ $< \
		$(ARM64)/libdespotify.a $(ARM64)/bearssl/libbearssl.a -static -pthread

arm64: $(ARM64)/despotify $(UNIT_BINS_ARM64)

$(RELEASE_DIR)/despotify-linux-amd64: build/despotify
	@mkdir -p $(@D)
	$(Q)cp $< $@
$(RELEASE_DIR)/despotify-linux-arm64: $(ARM64)/despotify
	@mkdir -p $(@D)
	$(Q)cp $< $@
$(RELEASE_DIR)/SHA256SUMS: $(RELEASE_BINS)
	$(Q)cd $(@D) && sha256sum $(notdir $^) > $(@F)

release: $(RELEASE_DIR)/SHA256SUMS
	@cat $(RELEASE_DIR)/SHA256SUMS
	@stat -c '%n %s bytes' $(RELEASE_BINS)

image: $(RELEASE_DIR)/SHA256SUMS
	/usr/bin/python3 tools/mkimage.py

# `make test` also runs the unit programs and a representative set of
# end-to-end tests against the arm64 binary under qemu (test_arm64.py), the
# image under runc (test_image.py) and checks deploy/ (test_deploy.py).
test: arm64 release
