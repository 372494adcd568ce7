# 32-bit ARMv7 hard-float Linux (the low-RAM devices), with Debian's
# gcc-arm-linux-gnueabihf:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cross/arm-linux-gnueabihf.cmake \
#         -DCROSS_SYSROOT=DIR ...
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CROSS_TRIPLET arm-linux-gnueabihf)
set(CROSS_QEMU_ARCH arm)
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
