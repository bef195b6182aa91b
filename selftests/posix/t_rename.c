#include "posix_test.h"
void t_rename(void) {}
