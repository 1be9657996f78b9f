/* fixture for the layers test: an upward include (common -> cli) */
#include "cli/cli.h"
