/*
 * check.h: the one assertion the fuzz targets share. A property that does not hold
 * prints what broke and aborts, which libFuzzer reports as a crash and saves the input
 * as crash-<sha1> (run the target on that file to reproduce). assert() is not used:
 * it would vanish under -DNDEBUG.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                            \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,        \
				__LINE__, #cond);                                        \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
			abort();                                                         \
		}                                                                        \
	} while (0)

#endif
