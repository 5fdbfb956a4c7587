// fleetd: the fleet supervisor daemon. Runs in the foreground.
#include "core/daemon/fleetd_main.h"

int main(int argc, char** argv) { return fleet::daemon::FleetdMain(argc, argv); }
