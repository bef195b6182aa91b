#include "posix_test.h"
void t_misc(void) {}
