# Shared part of the toolchain files: Debian's cross gcc for CROSS_TRIPLET,
# a target sysroot (cross/sysroot.sh) given as -DCROSS_SYSROOT=DIR, and
# qemu-user to run what is built (tests, try_run) on the build host.
#
# CMake reads a toolchain file again for every try_compile project, where
# cache variables are not visible: CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
# carries CROSS_SYSROOT over to the source-file form, and the environment
# (inherited by nested configures) to the whole-project form that
# check_ipo_supported() uses.

set(CMAKE_SYSTEM_NAME Linux)
set(CROSS_SYSROOT "$ENV{CROSS_SYSROOT}" CACHE PATH
	"Target sysroot (made by cross/sysroot.sh)")
if(NOT CROSS_SYSROOT)
	set(CROSS_SYSROOT "$ENV{CROSS_SYSROOT}")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CROSS_SYSROOT)
if(NOT CROSS_SYSROOT OR NOT IS_DIRECTORY "${CROSS_SYSROOT}/usr/include")
	message(FATAL_ERROR "CROSS_SYSROOT='${CROSS_SYSROOT}' is not a sysroot: "
		"make one with cross/sysroot.sh and pass -DCROSS_SYSROOT=DIR")
endif()
set(ENV{CROSS_SYSROOT} "${CROSS_SYSROOT}")

set(CMAKE_C_COMPILER ${CROSS_TRIPLET}-gcc)
set(CMAKE_SYSROOT "${CROSS_SYSROOT}")
set(CMAKE_LIBRARY_ARCHITECTURE ${CROSS_TRIPLET})
# Debian's cross gcc searches its own target libc (libc6-dev-ARCH-cross, in
# /usr/TRIPLET) before the sysroot, for headers, crt files and libc.so. The
# sysroot's libraries may need a newer glibc (trixie's libevent wants
# GLIBC_2.38, the cross libc is 2.36): put the sysroot first, keeping only
# gcc's own headers.
execute_process(COMMAND ${CROSS_TRIPLET}-gcc -print-file-name=include
	OUTPUT_VARIABLE cross_gcc_include OUTPUT_STRIP_TRAILING_WHITESPACE)
set(cross_dirs "${CROSS_SYSROOT}/usr/lib/${CROSS_TRIPLET}")
set(CMAKE_C_FLAGS_INIT "-nostdinc -isystem ${cross_gcc_include}")
if(IS_DIRECTORY "${cross_gcc_include}-fixed")
	string(APPEND CMAKE_C_FLAGS_INIT " -isystem ${cross_gcc_include}-fixed")
endif()
string(APPEND CMAKE_C_FLAGS_INIT
	" -isystem ${CROSS_SYSROOT}/usr/include/${CROSS_TRIPLET}"
	" -isystem ${CROSS_SYSROOT}/usr/include")
set(cross_link "-B${cross_dirs}/ -L${cross_dirs}")
if(IS_DIRECTORY "${CROSS_SYSROOT}/lib/${CROSS_TRIPLET}")
	string(APPEND cross_link " -L${CROSS_SYSROOT}/lib/${CROSS_TRIPLET}")
endif()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${cross_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${cross_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${cross_link}")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The host's pkg-config must read the target's .pc files only, and prefix
# the paths they give with the sysroot.
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_LIBDIR}
	"${CROSS_SYSROOT}/usr/lib/${CROSS_TRIPLET}/pkgconfig:${CROSS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${CROSS_SYSROOT}")

# binfmt_misc is not registered on build hosts in general: run target
# programs through qemu-user explicitly, with the sysroot's loader and libs.
find_program(CROSS_QEMU qemu-${CROSS_QEMU_ARCH})
if(CROSS_QEMU)
	set(CMAKE_CROSSCOMPILING_EMULATOR "${CROSS_QEMU};-L;${CROSS_SYSROOT}")
endif()
