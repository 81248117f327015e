/* Compiles gradwire.h as C99 and checks the status/version calls from C. */
#include <stdio.h>
#include <string.h>

#include "gradwire/gradwire.h"
#include "gradwire/gossip.h" /* C99 too */

int main(void) {
  int version = 0;
  if (gw_get_version(&version) != GW_SUCCESS || version != GW_VERSION_CODE) return 1;
  if (gw_get_version(NULL) != GW_ERR_INVALID_ARGUMENT) return 2;
  if (strlen(gw_last_error()) == 0) return 3; /* the failing call left its detail */
  for (int s = 0; s <= GW_NUM_STATUS; ++s)
    if (gw_status_string((gw_status)s) == NULL) return 4;
  if (gw_comm_destroy(NULL) != GW_SUCCESS) return 5;
  if (gw_gossip_destroy(NULL) != GW_SUCCESS) return 6;
  if (gw_gossip_publish(NULL, NULL) != GW_ERR_INVALID_ARGUMENT) return 7;
  printf("gradwire %d from C99: ok\n", version);
  return 0;
}
