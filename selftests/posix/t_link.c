#include "posix_test.h"
void t_link(void) {}
