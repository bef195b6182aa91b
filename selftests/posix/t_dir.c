#include "posix_test.h"
void t_dir(void) {}
