# 64-bit ARM Linux, with Debian's gcc-aarch64-linux-gnu:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cross/aarch64-linux-gnu.cmake \
#         -DCROSS_SYSROOT=DIR ...
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CROSS_TRIPLET aarch64-linux-gnu)
set(CROSS_QEMU_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
