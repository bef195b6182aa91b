#include "posix_test.h"
void t_data(void) {}
