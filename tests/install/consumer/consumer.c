/* Built against an installed gradwire (CMake package or pkg-config). */
#include <stdio.h>

#include <gradwire/gradwire.h>

int main(void) {
  int version = 0;
  gw_status s = gw_get_version(&version);
  if (s != GW_SUCCESS) {
    fprintf(stderr, "gw_get_version: %s\n", gw_status_string(s));
    return 1;
  }
  if (version != GW_VERSION_CODE) {
    fprintf(stderr, "library version %d, header version %d\n", version, GW_VERSION_CODE);
    return 2;
  }
  printf("installed gradwire %d.%d.%d (MPI %d, CUDA %d): ok\n", version / 10000, version / 100 % 100,
         version % 100, GW_HAVE_MPI, GW_HAVE_CUDA);
  return 0;
}
