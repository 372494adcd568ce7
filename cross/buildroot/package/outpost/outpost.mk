################################################################################
#
# outpost
#
################################################################################

OUTPOST_VERSION = 0.1.0
ifeq ($(BR2_PACKAGE_OUTPOST_LOCAL_SOURCE),y)
OUTPOST_SITE = $(BR2_EXTERNAL_OUTPOST_PATH)/../..
OUTPOST_SITE_METHOD = local
OUTPOST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude='/build*' --exclude=/outpost-data
else
OUTPOST_SITE = $(call qstrip,$(BR2_PACKAGE_OUTPOST_RELEASE_SITE))
endif
OUTPOST_LICENSE = ISC
OUTPOST_LICENSE_FILES = LICENSE
OUTPOST_DEPENDENCIES = host-pkgconf libevent mbedtls sqlite

# Hardening comes from Buildroot's own options (SSP, RELRO, FORTIFY,
# PIE), not from the project's defaults. -Os images get the project's
# size build (section GC; LTO as BR2_ENABLE_LTO says).
OUTPOST_CONF_OPTS = \
	-DOUTPOST_TESTS=OFF \
	-DOUTPOST_WERROR=OFF \
	-DOUTPOST_HARDEN=OFF \
	-DOUTPOST_LTO=$(if $(BR2_ENABLE_LTO),ON,OFF) \
	-DOUTPOST_INSTALL_SYSTEMD_UNIT=OFF \
	-DOUTPOST_INSTALL_INIT_SCRIPT=OFF

ifeq ($(BR2_OPTIMIZE_S):$(BR2_ENABLE_RUNTIME_DEBUG),y:)
OUTPOST_CONF_OPTS += -DCMAKE_BUILD_TYPE=MinSizeRel
endif

ifeq ($(BR2_PACKAGE_ZLIB),y)
OUTPOST_DEPENDENCIES += zlib
OUTPOST_CONF_OPTS += -DOUTPOST_WITH_ZLIB=ON
else
OUTPOST_CONF_OPTS += -DOUTPOST_WITH_ZLIB=OFF
endif

define OUTPOST_USERS
	outpost -1 outpost -1 * /var/lib/outpost - - outpost agent
endef

define OUTPOST_PERMISSIONS
	/var/lib/outpost d 700 outpost outpost - - - - -
endef

define OUTPOST_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(OUTPOST_PKGDIR)/S90outpost \
		$(TARGET_DIR)/etc/init.d/S90outpost
endef

define OUTPOST_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(OUTPOST_PKGDIR)/outpost.service \
		$(TARGET_DIR)/usr/lib/systemd/system/outpost.service
endef

$(eval $(cmake-package))
