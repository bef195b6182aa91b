#include "posix_test.h"
void t_time(void) {}
