/* The one place the version lives; CMake checks it matches project(). */
#ifndef OUTPOST_VERSION_H
#define OUTPOST_VERSION_H

#define OUTPOST_VERSION "0.1.0"

#endif
