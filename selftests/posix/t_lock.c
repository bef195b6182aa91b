#include "posix_test.h"
void t_lock(void) {}
