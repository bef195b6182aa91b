#include "posix_test.h"
void t_xattr(void) {}
