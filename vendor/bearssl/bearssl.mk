# Our build configuration for BearSSL: upstream's own Makefile, pointed at a
# build directory of ours with our compiler and flags. The upstream tree under
# vendor/bearssl/upstream/ is fetched by vendor/fetch.sh and never edited.
#
# $(call bearssl_lib,BUILDDIR,CC,CFLAGS[,LDFLAGS[,AR]]) builds BUILDDIR/libbearssl.a;
# AR defaults to ar (an -flto build needs gcc-ar, which loads the LTO plugin).
# The library is made afresh whenever it is out of date (upstream's objects do
# not depend on the flags): add a flags stamp as a prerequisite to rebuild it
# when the flags change.

BEARSSL_DIR := vendor/bearssl/upstream
BEARSSL_INC := $(BEARSSL_DIR)/inc

$(BEARSSL_DIR)/.verified:
	@echo "BearSSL is not fetched: run ./build.sh (or vendor/fetch.sh)" >&2; exit 1

define bearssl_lib
$(1)/libbearssl.a: $(BEARSSL_DIR)/.verified vendor/bearssl/bearssl.mk
	@rm -rf $(1)/obj $$@
	@mkdir -p $(1)
	$$(MAKE) -s -C $(BEARSSL_DIR) BUILD=$$(abspath $(1)) CC='$(2)' CFLAGS='$(3)' \
		LD='$(2)' LDFLAGS='$(4)' AR='$(or $(5),ar)' lib
endef

# The brssl tool, built for the host; only used at build time to turn
# Debian's CA certificates into C trust-anchor tables.
$(eval $(call bearssl_lib,build/host/bearssl,cc,-Os -w,))
build/host/bearssl/brssl: build/host/bearssl/libbearssl.a
	$(MAKE) -s -C $(BEARSSL_DIR) BUILD=$(abspath build/host/bearssl) CC=cc CFLAGS='-Os -w' tools
